'use strict';
// Proxy benchmark (issue 6): redis-benchmark's GET and SET, 50 clients, unpipelined and 16-deep,
// through four TCP proxies in front of one redis-server: rxloop's proxy example (native and node
// backends), haproxy in tcp mode (Debian's package) and a hand-written node:net pipe proxy.
//
//   npm run bench -- proxy [--rounds 5] [--requests 200000] [--pipelined-requests 2000000]
//                          [--only rxloop-native,rxloop-node,haproxy,node:net]
//                          [--no-write] [--results FILE]
//
// The proxies run on CPU 0 (taskset), one of them under load at a time; redis-server and
// redis-benchmark share CPU 1, so throughput is bound by them, not by the proxy: the comparison
// is each proxy's CPU time per request (utime+stime of the whole process from /proc/PID/stat,
// read before and after each run). haproxy runs with `nbthread 1`, in the foreground (-db), as
// one process. Every round starts every proxy afresh and warms it up, then runs SET and GET
// unpipelined and 16-deep, each workload through every proxy in turn (the order rotating with
// round and workload), so the runs compared are seconds apart on a noisy machine. The ratios are
// medians of the per-round ratios, with their range. The tables are printed and written into
// bench/RESULTS.md between <!-- proxy:begin --> and <!-- proxy:end -->.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./support/harness');

const opt = h.benchOptions(__filename, {
  rounds: { type: 'string', default: '5' },
  requests: { type: 'string', default: '200000' },
  'pipelined-requests': { type: 'string', default: '2000000' },
  only: { type: 'string' },
});

const rounds = Number(opt.rounds);
const CLIENTS = 50;
const DEPTH = 16;
const unpipelined = { pipeline: 1, requests: Number(opt.requests) };
const pipelined = { pipeline: DEPTH, requests: Number(opt['pipelined-requests']) };
const WORKLOADS = [
  { test: 'set', ...unpipelined },
  { test: 'get', ...unpipelined },
  { test: 'set', ...pipelined },
  { test: 'get', ...pipelined },
];
if (!(rounds >= 1 && WORKLOADS.every((w) => w.requests >= CLIENTS))) {
  console.error(`proxy: --rounds must be positive, --requests and --pipelined-requests at least ${CLIENTS}`);
  process.exit(2);
}
const WARMUP_REQUESTS = 400000; // SET and GET, 16-deep: lets V8 optimise before anything is measured
const label = (w) => `${w.test.toUpperCase()} ${w.pipeline === 1 ? 'unpipelined' : `${w.pipeline}-deep`}`;

// Target from issue 6: rxloop's CPU per request at most 1.1× haproxy's, unpipelined and 16-deep.
const TARGET = { name: 'rxloop native', over: 'haproxy', max: 1.1 };

const RXLOOP_CLI = path.join(h.ROOT, 'bin', 'rxloop.js');
const rxloop = (backend) => ({
  name: `rxloop ${backend}`,
  needs: RXLOOP_CLI,
  argv: (port, to) => [process.execPath, RXLOOP_CLI, 'proxy', '--port', port, '--host', h.HOST, '--to', to, '--backend', backend],
  shown: `node bin/rxloop.js proxy --port P --host ${h.HOST} --to tcp://${h.HOST}:R --backend ${backend}`,
});

// haproxy's configuration: one thread, tcp mode, nothing but the one backend.
const haproxyConfig = (port, redisPort) => `global
  nbthread 1
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend proxy
  bind ${h.HOST}:${port}
  default_backend redis
backend redis
  server redis ${h.HOST}:${redisPort}
`;
let scratch = null; // a temporary directory for haproxy's configuration files

const PROXIES = [
  rxloop('native'),
  rxloop('node'),
  {
    name: 'haproxy',
    argv: (port, to) => {
      scratch ??= fs.mkdtempSync(path.join(os.tmpdir(), 'rxloop-proxy-bench-'));
      const cfg = path.join(scratch, `haproxy-${port}.cfg`);
      fs.writeFileSync(cfg, haproxyConfig(port, new URL(to).port));
      return ['haproxy', '-f', cfg, '-db'];
    },
    shown: 'haproxy -f CFG -db',
    stopSignal: 'SIGUSR1', // soft stop: exit 0 once every session has closed (SIGTERM is a hard stop)
  },
  {
    name: 'node:net',
    argv: (port, to) => [process.execPath, path.join(h.ROOT, 'bench', 'servers', 'net-proxy.js'), '--port', port, '--host', h.HOST, '--to', to],
    shown: `node bench/servers/net-proxy.js --port P --host ${h.HOST} --to tcp://${h.HOST}:R`,
  },
];

function selectProxies() {
  const chosen = h.selectByName(PROXIES, opt.only, 'proxy');
  if (chosen.some((p) => p.name === 'haproxy') && spawnSync('haproxy', ['-v']).error) {
    throw new Error('haproxy is not installed (apt-get install -y haproxy)');
  }
  return chosen;
}

const threadCount = (pid) => fs.readdirSync(`/proc/${pid}/task`).length;
const benchmarkArgs = (w) => ['-c', CLIENTS, '-n', w.requests, '-P', w.pipeline, '-t', w.test];

// Starts a proxy and warms it up; resolves with the process, or with { error } if it did not start.
async function startProxy(proxy, redis) {
  let srv;
  try {
    srv = await h.startPinged(proxy.name, (port) => proxy.argv(port, `tcp://${h.HOST}:${redis.port}`));
  } catch (err) {
    return { error: `did not start: ${err.message}` };
  }
  const warmup = await h.redisBenchmark(srv.port, ['-c', CLIENTS, '-n', WARMUP_REQUESTS, '-P', DEPTH, '-t', 'set,get'], 120000);
  if (warmup.failed) h.log(`${proxy.name}: warm-up failed: ${warmup.error}`);
  srv.threads = threadCount(srv.pid);
  return srv;
}

// One measured run of workload `w` through a started proxy: its CPU per request, and redis-server's.
async function measure(srv, w, redis) {
  if (srv.error) return { failed: true, error: srv.error };
  const m = await h.measureRedisBenchmark(srv.port, benchmarkArgs(w), [srv.pid, redis.pid]);
  return {
    ...m,
    cpuPerRequest: m.cpuPerRequest[0],
    proxyCpu: m.cpuPercent[0],
    redisCpuPerRequest: m.cpuPerRequest[1],
  };
}

// The median of the per-round ratios a/b of CPU per request, with their range.
function ratio(a, b) {
  if (!a || !b) return null;
  const paired = a.runs
    .map((r, i) => (r.failed || b.runs[i].failed ? NaN : r.cpuPerRequest / b.runs[i].cpuPerRequest))
    .filter(Number.isFinite);
  if (!paired.length) return null;
  return { value: h.median(paired), lo: Math.min(...paired), hi: Math.max(...paired) };
}
const fmtRatio = (r) => (r ? `${r.value.toFixed(2)}× (${r.lo.toFixed(2)}–${r.hi.toFixed(2)})` : '—');

function report(proxies, table) {
  const lines = [];
  lines.push('| workload | proxy | proxy CPU µs/request (median) | per round | proxy CPU | requests/s (median) | p50 ms | redis-server CPU µs/request |');
  lines.push('|---|---|---:|---|---:|---:|---:|---:|');
  for (const w of WORKLOADS) {
    for (const p of proxies) {
      const r = table.get(w).get(p.name);
      const perRound = r.runs.map((x) => (x.failed ? 'failed' : h.fmtNum(x.cpuPerRequest, 2))).join(', ');
      lines.push(`| ${label(w)} | ${p.name} | ${h.fmtNum(r.cpuPerRequest, 2)} | ${perRound} | ${h.fmtNum(r.proxyCpu, 0)}% | ` +
        `${h.fmtInt(r.rps)} | ${h.fmtNum(r.p50, 3)} | ${h.fmtNum(r.redisCpuPerRequest, 2)} |`);
    }
  }
  const pairs = [
    ['rxloop native', 'haproxy'],
    ['rxloop native', 'node:net'],
    ['rxloop node', 'haproxy'],
    ['node:net', 'haproxy'],
  ].filter(([a, b]) => proxies.some((p) => p.name === a) && proxies.some((p) => p.name === b));
  if (pairs.length) {
    lines.push('');
    lines.push('Proxy CPU time per request, one over the other (lower is better): median of the per-round ratios, their range in brackets.');
    lines.push('');
    const head = pairs.map(([a, b]) => `${a} ÷ ${b}${a === TARGET.name && b === TARGET.over ? ` (target ≤ ${TARGET.max}×)` : ''}`);
    lines.push(`| workload | ${head.join(' | ')} |`);
    lines.push(`|---|${pairs.map(() => '---|').join('')}`);
    for (const w of WORKLOADS) {
      const row = table.get(w);
      const cells = pairs.map(([a, b]) => {
        const r = ratio(row.get(a), row.get(b));
        if (!r || a !== TARGET.name || b !== TARGET.over) return fmtRatio(r);
        return `${fmtRatio(r)} ${r.value <= TARGET.max ? '✓' : '✗'}`;
      });
      lines.push(`| ${label(w)} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

async function main() {
  const proxies = selectProxies();
  const redis = await h.startPinged('redis-server', (port) => [
    'redis-server', '--port', port, '--bind', h.HOST, '--save', '', '--appendonly', 'no', '--loglevel', 'warning',
  ], { cpu: h.LOAD_CPU });
  const table = new Map(WORKLOADS.map((w) => [w, new Map(proxies.map((p) => [p.name, []]))]));
  const notes = new Set();
  try {
    for (let round = 0; round < rounds; round++) {
      // Every proxy of the round is started (idle, they cost nothing) and warmed up; then each
      // workload runs through each proxy in turn, so the runs compared are seconds apart, and
      // the order rotates with the round and the workload, so none always goes first or last.
      const started = new Map();
      try {
        for (const proxy of proxies) started.set(proxy, await startProxy(proxy, redis));
        for (const proxy of proxies) {
          const srv = started.get(proxy);
          if (proxy.name === 'haproxy' && srv.threads > 1) notes.add(`haproxy ran ${srv.threads} threads despite nbthread 1`);
        }
        for (const [k, w] of WORKLOADS.entries()) {
          const order = proxies.map((_, i) => proxies[(i + round + k) % proxies.length]);
          for (const proxy of order) {
            const r = await measure(started.get(proxy), w, redis);
            table.get(w).get(proxy.name)[round] = r;
            if (r.failed) notes.add(`${proxy.name}, ${label(w)}, round ${round + 1}: failed: ${r.error}`);
            h.log(`round ${round + 1}/${rounds}, ${proxy.name.padEnd(13)} ${label(w).padEnd(16)} ` +
              (r.failed ? `FAILED: ${r.error}` : `proxy ${h.fmtNum(r.cpuPerRequest, 2)} µs CPU/request (${h.fmtNum(r.proxyCpu, 0)}%), ` +
                `${h.fmtInt(r.rps)} req/s, p50 ${h.fmtNum(r.p50, 3)} ms, redis-server ${h.fmtNum(r.redisCpuPerRequest, 2)} µs/request`));
          }
        }
      } finally {
        for (const [proxy, srv] of started) {
          if (srv.error) continue;
          const note = await h.stopServer(srv, proxy.name, proxy.stopSignal);
          if (note) notes.add(note);
        }
      }
    }
  } finally {
    await h.stopServer(redis, 'redis-server');
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  }
  for (const row of table.values()) for (const [name, runs] of row) row.set(name, h.summarise(runs, ['rps', 'p50', 'cpuPerRequest', 'proxyCpu', 'redisCpuPerRequest']));
  const tables = report(proxies, table);
  console.log(`\n${tables}\n`);
  for (const n of notes) console.log(`note: ${n}`);

  if (!opt['no-write']) {
    const version = (argv) => spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' }).stdout.trim().split('\n')[0];
    const body = [
      '## Proxy: redis-benchmark through a TCP proxy to redis-server',
      '',
      `Measured ${h.today()} on ${h.machineNote()}, ${version(['redis-server', '--version']).split(' ').slice(0, 3).join(' ')}, ` +
        `${version(['haproxy', '-v']).split(' ').slice(0, 3).join(' ')}. ` +
        `The proxies on CPU 0, one under load at a time; one redis-server and redis-benchmark share CPU 1, so they, not the ` +
        'proxy, set the pace, and the proxy\'s CPU time per request (utime+stime of the whole process from /proc/PID/stat, ' +
        `before and after each run) is the comparison. ${rounds} rounds; each starts every proxy afresh and warms it up with ` +
        `${h.fmtInt(WARMUP_REQUESTS)} ${DEPTH}-deep SETs and GETs, then runs each workload through every proxy in turn ` +
        '(the order rotating), so the runs compared are seconds apart. Medians over rounds; the ratios are medians of the ' +
        'per-round ratios, with their range.',
      '',
      `Command: \`${h.commandLine('proxy')}\``,
      '',
      `Proxies (P is a free port, R redis-server's; \`redis-server --port R --bind ${h.HOST} --save '' --appendonly no\`):`,
      '',
      ...proxies.map((p) => `- ${p.name}: \`${p.shown}\``),
      ...(proxies.some((p) => p.name === 'haproxy')
        ? ['', 'haproxy\'s CFG:', '', '```', haproxyConfig('P', 'R').trimEnd(), '```'] : []),
      '',
      `Load: \`redis-benchmark -h ${h.HOST} -p P -c ${CLIENTS} -n N -P DEPTH -t set|get --csv\`, ` +
        `N = ${h.fmtInt(unpipelined.requests)} unpipelined, ${h.fmtInt(pipelined.requests)} ${DEPTH}-deep.`,
      '',
      tables,
      ...(notes.size ? ['', ...[...notes].map((n) => `- ${n}`)] : []),
    ].join('\n');
    h.writeSection('proxy', body, opt.results ? path.resolve(opt.results) : h.RESULTS);
  }
}

main().catch((err) => {
  console.error(`proxy: ${err.stack || err.message}`);
  process.exit(1);
});
