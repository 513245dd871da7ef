'use strict';
// HTTP benchmark (issue 5): wrk against rxloop's http example, a hand-written node:http server and,
// where bun can be found, Bun.serve — side by side, and GET / latency while /compute keeps the
// worker pool busy.
//
//   npm run bench -- http [--rounds 3] [--seconds 5] [--warmup 1] [--conns 100]
//                         [--only rxloop-native,rxloop-node,node:http,bun.serve]
//                         [--latency-seconds 10] [--no-latency] [--no-write] [--results FILE]
//
// Throughput: each server alone on CPU 0 (taskset), `wrk -t1 -c CONNS` (keep-alive, GET /) on
// CPU 1; every round runs every server once, each round starting with the next server in turn;
// medians over rounds. Server CPU per request is utime+stime from /proc/PID/stat over the
// measured run. Latency: the server on CPU 0, 6 wrk connections asking /compute?ms=100 back to
// back and a paced probe (one connection, GET / every 10 ms) on CPU 1; the probe's percentiles.
// Bun is found as $BUN, `bun` on PATH, or node_modules/.bin/bun (`npm install --no-save bun`);
// without it that row is skipped with a note. Tables are printed and written into
// bench/RESULTS.md between <!-- http:begin --> and <!-- http:end -->.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const h = require('./support/harness');

const opt = h.benchOptions(__filename, {
  rounds: { type: 'string', default: '3' },
  seconds: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '1' },
  conns: { type: 'string', default: '100' },
  only: { type: 'string' },
  'latency-seconds': { type: 'string', default: '10' },
  'no-latency': { type: 'boolean', default: false },
});

const rounds = Number(opt.rounds);
const seconds = Number(opt.seconds);
const warmup = Number(opt.warmup);
const conns = Number(opt.conns);
const latencySeconds = Number(opt['latency-seconds']);
if (!(rounds >= 1 && seconds > 0 && warmup >= 0 && conns >= 1 && latencySeconds >= 4)) {
  console.error('http: --rounds, --seconds, --conns must be positive; --latency-seconds at least 4');
  process.exit(2);
}

const RXLOOP_CLI = path.join(h.ROOT, 'bin', 'rxloop.js');
const WRK_SCRIPT = path.join(h.ROOT, 'bench', 'wrk', 'report.lua');
const COMPUTE_CLIENTS = 6;
const COMPUTE_MS = 100;
const PROBE_PACE_MS = 10;
const P95_TARGET_MS = 40;
const TARGET = { over: 'node:http', min: 1.5 };

function findBun() {
  const candidates = [process.env.BUN, 'bun', path.join(h.ROOT, 'node_modules', '.bin', 'bun')].filter(Boolean);
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return { bin: candidate, version: probe.stdout.trim() };
  }
  return null;
}

function rxloop(backend) {
  return {
    name: `rxloop ${backend}`,
    argv: (port) => [process.execPath, RXLOOP_CLI, 'http', '--port', port, '--host', h.HOST, '--backend', backend],
    shown: `node bin/rxloop.js http --port P --host ${h.HOST} --backend ${backend}`,
    computes: 'in its worker pool (offload)',
  };
}

function servers(bun) {
  const list = [
    rxloop('native'),
    rxloop('node'),
    {
      name: 'node:http',
      argv: (port) => [process.execPath, path.join(h.ROOT, 'bench', 'servers', 'node-http.js'), '--port', port, '--host', h.HOST],
      shown: `node bench/servers/node-http.js --port P --host ${h.HOST}`,
      computes: 'on its one thread',
    },
  ];
  if (bun) {
    list.push({
      name: 'Bun.serve',
      argv: (port) => [bun.bin, path.join(h.ROOT, 'bench', 'servers', 'bun-http.js'), '--port', port, '--host', h.HOST],
      shown: `bun bench/servers/bun-http.js --port P --host ${h.HOST} (bun ${bun.version})`,
      computes: null, // hello world only
    });
  }
  return list;
}

const slug = (name) => name.toLowerCase().replace(/\s+/g, '-');
function select(list, only) {
  if (!only) return list;
  return only.split(',').map((want) => {
    const found = list.find((s) => slug(s.name) === slug(want.trim()));
    if (!found) throw new Error(`unknown or unavailable server "${want}" (have: ${list.map((s) => slug(s.name)).join(', ')})`);
    return found;
  });
}

/** Runs wrk on the load CPU; resolves with its JSON report (see bench/wrk/report.lua). */
async function wrk(args, env = {}) {
  const argv = ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'wrk', '-s', WRK_SCRIPT, ...args.map(String)];
  const proc = new h.Proc(argv, { cpu: h.LOAD_CPU });
  const runSeconds = Number(args[args.indexOf('-d') + 1].replace(/s$/, ''));
  const status = await proc.wait(runSeconds * 1000 + 30000);
  const report = proc.lastJson();
  if (status.code !== 0 || !report) throw new Error(`wrk failed (${h.describeExit(status)}): ${proc.stderr.trim().split('\n')[0] ?? ''}`);
  return report;
}

const url = (port, p) => `http://${h.HOST}:${port}${p}`;

async function withServer(server, run) {
  let srv;
  try {
    srv = await h.startServer(server);
  } catch (err) {
    return { failed: true, error: `did not start: ${err.message.split('\n').filter(Boolean).slice(0, 3).join('; ')}` };
  }
  let result;
  try {
    result = await run(srv);
  } catch (err) {
    result = { failed: true, error: err.message };
  } finally {
    const note = await h.stopServer(srv, server.name);
    const stderr = srv.stderr.trim();
    result = { ...result, note, serverStderr: stderr ? stderr.split('\n').slice(0, 3).join('; ') : null };
  }
  return result;
}

function throughputRun(server) {
  return withServer(server, async (srv) => {
    if (warmup > 0) await wrk(['-t1', `-c${conns}`, '-d', `${warmup}s`, url(srv.port, '/')]);
    const cpuBefore = h.cpuSeconds(srv.pid);
    const report = await wrk(['-t1', `-c${conns}`, '-d', `${seconds}s`, url(srv.port, '/')]);
    const cpu = h.cpuSeconds(srv.pid) - cpuBefore;
    const duration = report.duration_us / 1e6;
    const failed = report.socket_errors > 0 || report.status_errors > 0 || report.requests === 0;
    return {
      failed,
      error: failed ? `${report.socket_errors} socket errors, ${report.status_errors} bad statuses` : null,
      rate: report.requests / duration,
      p50: report.p50_us / 1000,
      p99: report.p99_us / 1000,
      cpuPerRequest: (cpu / report.requests) * 1e6,
      serverCpu: (cpu / duration) * 100,
    };
  });
}

function latencyRun(server) {
  return withServer(server, async (srv) => {
    const computeSeconds = latencySeconds;
    const probeSeconds = latencySeconds - 3;
    const compute = wrk(['-t1', `-c${COMPUTE_CLIENTS}`, '-d', `${computeSeconds}s`, '--timeout', '10s', url(srv.port, `/compute?ms=${COMPUTE_MS}`)]);
    await h.delay(1500); // the pool is busy before the probe starts
    const probe = await wrk(['-t1', '-c1', '-d', `${probeSeconds}s`, url(srv.port, '/')], { WRK_PACE_MS: PROBE_PACE_MS });
    const busy = await compute;
    const failed = probe.socket_errors + probe.status_errors + busy.socket_errors + busy.status_errors > 0 || probe.requests === 0;
    return {
      failed,
      error: failed ? 'socket errors or bad statuses' : null,
      p50: probe.p50_us / 1000,
      p95: probe.p95_us / 1000,
      p99: probe.p99_us / 1000,
      max: probe.max_us / 1000,
      probeRate: probe.requests / (probe.duration_us / 1e6),
      computeRate: busy.requests / (busy.duration_us / 1e6),
    };
  });
}

function fmtRatio(a, b, key) {
  if (!a || !b || !Number.isFinite(a[key]) || !Number.isFinite(b[key])) return null;
  const paired = a.runs.map((r, i) => (!r.failed && !b.runs[i].failed ? r[key] / b.runs[i][key] : NaN)).filter(Number.isFinite);
  const range = paired.length ? ` (${Math.min(...paired).toFixed(2)}–${Math.max(...paired).toFixed(2)})` : '';
  return { value: a[key] / b[key], text: `${(a[key] / b[key]).toFixed(2)}×${range}` };
}

function throughputTable(list, table) {
  const lines = [
    `| server | req/s (median) | req/s per round | p50 ms | p99 ms | server CPU µs/req | server CPU |`,
    '|---|---:|---|---:|---:|---:|---:|',
  ];
  for (const s of list) {
    const r = table.get(s.name);
    const perRound = r.runs.map((x) => (x.failed ? 'failed' : h.fmtK(x.rate))).join(', ');
    lines.push(`| ${s.name} | ${h.fmtInt(r.rate)} | ${perRound} | ${h.fmtNum(r.p50, 2)} | ${h.fmtNum(r.p99, 2)} | ` +
      `${h.fmtNum(r.cpuPerRequest, 2)} | ${h.fmtNum(r.serverCpu, 0)}% |`);
  }
  const native = table.get('rxloop native');
  const ratios = [];
  for (const other of list.filter((s) => s.name !== 'rxloop native')) {
    const rate = fmtRatio(native, table.get(other.name), 'rate');
    const cpu = fmtRatio(native, table.get(other.name), 'cpuPerRequest');
    if (!rate) continue;
    const target = other.name === TARGET.over ? ` (target ≥ ${TARGET.min}×) ${rate.value >= TARGET.min ? '✓' : '✗'}` : '';
    ratios.push(`| rxloop native / ${other.name} | ${rate.text}${target} | ${cpu ? cpu.text : '—'} |`);
  }
  if (ratios.length) {
    lines.push('', 'Ratios of medians (range of the per-round ratios); req/s higher is better, CPU/req lower is better:', '');
    lines.push('| comparison | req/s | server CPU per request |', '|---|---|---|', ...ratios);
  }
  return lines.join('\n');
}

function latencyTable(list, table) {
  const lines = [
    `| server | computes | GET / p50 ms | p95 ms | p99 ms | max ms | p95 per round | /compute per s | p95 < ${P95_TARGET_MS} ms |`,
    '|---|---|---:|---:|---:|---:|---|---:|---|',
  ];
  for (const s of list) {
    const r = table.get(s.name);
    const perRound = r.runs.map((x) => (x.failed ? 'failed' : h.fmtNum(x.p95, 1))).join(', ');
    const verdict = Number.isFinite(r.p95) ? (r.p95 < P95_TARGET_MS ? '✓' : '✗') : '—';
    lines.push(`| ${s.name} | ${s.computes} | ${h.fmtNum(r.p50, 2)} | ${h.fmtNum(r.p95, 2)} | ${h.fmtNum(r.p99, 2)} | ${h.fmtNum(r.max, 1)} | ` +
      `${perRound} | ${h.fmtNum(r.computeRate, 1)} | ${verdict} |`);
  }
  return lines.join('\n');
}

async function runAlternating(list, run, label, describe) {
  const table = new Map(list.map((s) => [s.name, []]));
  const notes = new Set();
  for (let round = 0; round < rounds; round++) {
    const order = list.map((_, i) => list[(i + round) % list.length]);
    for (const server of order) {
      const r = await run(server);
      table.get(server.name).push(r);
      if (r.note) notes.add(r.note);
      if (r.serverStderr) notes.add(`${server.name} wrote to stderr: ${r.serverStderr}`);
      if (r.failed) notes.add(`${server.name}, ${label} round ${round + 1}: failed: ${r.error}`);
      h.log(`${label}, round ${round + 1}/${rounds}, ${server.name.padEnd(13)} ${r.failed ? `FAILED: ${r.error}` : describe(r)}`);
    }
  }
  return { table, notes };
}

async function main() {
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is not installed (apt-get install -y wrk)');
  const bun = findBun();
  const list = select(servers(bun), opt.only);
  const notes = new Set();
  if (!bun) notes.add('Bun.serve skipped: no bun found ($BUN, PATH, node_modules/.bin); `npm install --no-save bun` provides one');

  const throughput = await runAlternating(list, throughputRun, `${conns} conns`, (r) =>
    `${h.fmtInt(r.rate)} req/s, p99 ${h.fmtNum(r.p99, 2)} ms, server ${h.fmtNum(r.cpuPerRequest, 2)} µs CPU/req (${h.fmtNum(r.serverCpu, 0)}%)`);
  for (const [name, runs] of throughput.table) throughput.table.set(name, h.summarise(runs, ['rate', 'p50', 'p99', 'cpuPerRequest', 'serverCpu']));
  throughput.notes.forEach((n) => notes.add(n));
  const tables = [throughputTable(list, throughput.table)];

  let latencyList = [];
  if (!opt['no-latency']) {
    latencyList = list.filter((s) => s.computes);
    const latency = await runAlternating(latencyList, latencyRun, 'latency', (r) =>
      `GET / p50 ${h.fmtNum(r.p50, 2)} ms, p95 ${h.fmtNum(r.p95, 2)} ms, max ${h.fmtNum(r.max, 1)} ms; /compute ${h.fmtNum(r.computeRate, 1)}/s`);
    for (const [name, runs] of latency.table) latency.table.set(name, h.summarise(runs, ['p50', 'p95', 'p99', 'max', 'computeRate', 'probeRate']));
    latency.notes.forEach((n) => notes.add(n));
    tables.push(latencyTable(latencyList, latency.table));
  }

  console.log(`\n${tables.join('\n\n')}\n`);
  for (const n of notes) console.log(`note: ${n}`);
  if (opt['no-write']) return;

  const body = [
    '## HTTP: hello world, and GET / beside CPU work',
    '',
    `Measured ${h.today()} on ${h.machineNote()}. Each server alone on CPU 0, wrk (one thread) on CPU 1; ` +
      `${rounds} rounds, servers alternated, medians over rounds. Server CPU is utime+stime of all its threads ` +
      'from /proc/PID/stat over the measured run. Other sessions shared this machine while it ran: compare ' +
      'figures within one table, not across runs.',
    '',
    `Command: \`${h.commandLine('http')}\``,
    '',
    'Servers (P is a free port):',
    '',
    ...list.map((s) => `- ${s.name}: \`${s.shown}\``),
    '',
    `### Throughput: \`wrk -t1 -c${conns} -d${seconds}s\` GET / (keep-alive), after ${warmup} s of warm-up`,
    '',
    tables[0],
    ...(latencyList.length
      ? [
          '',
          `### GET / while ${COMPUTE_CLIENTS} clients keep /compute?ms=${COMPUTE_MS} busy`,
          '',
          `\`wrk -t1 -c${COMPUTE_CLIENTS} -d${latencySeconds}s --timeout 10s /compute?ms=${COMPUTE_MS}\` runs throughout; after 1.5 s, a ` +
            `probe \`WRK_PACE_MS=${PROBE_PACE_MS} wrk -t1 -c1 -d${latencySeconds - 3}s -s bench/wrk/report.lua /\` sends GET / ` +
            `every ${PROBE_PACE_MS} ms on one keep-alive connection; its latency percentiles. rxloop's pool has one ` +
            'thread per core at nice +10 — pinned with the server, so here they share CPU 0 with its loop.',
          '',
          tables[1],
        ]
      : []),
    ...(notes.size ? ['', ...[...notes].map((n) => `- ${n}`)] : []),
  ].join('\n');
  h.writeSection('http', body, opt.results ? path.resolve(opt.results) : h.RESULTS);
}

main().catch((err) => {
  console.error(`http: ${err.stack || err.message}`);
  process.exit(1);
});
