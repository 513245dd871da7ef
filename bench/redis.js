'use strict';
// Redis benchmark (issue 4): redis-benchmark's GET and SET, 50 clients, unpipelined and 32-deep,
// against rxloop's redis example (native and node backends, and native with two loops),
// redis-server 7 and a hand-written node:net RESP server, side by side.
//
//   npm run bench -- redis [--rounds 3] [--requests 200000] [--pipelined-requests 3000000]
//                          [--keys 100000] [--only rxloop-native,rxloop-node,rxloop-native-2-loops,redis-server,node:net,
//                                                 rxloop-native-echo,c-epoll-echo]
//                          [--no-suite] [--no-write] [--results FILE]
//
// Each server runs alone on CPU 0 (taskset), redis-benchmark on CPU 1. Every round starts each
// server in turn (round k with server k first), warms it up, then runs SET and GET unpipelined
// and SET and GET with -P 32 on redis-benchmark's one default key, then SET and GET with -P 32
// over --keys random keys (-r; 0 to leave this out), reading the server's CPU time
// (utime+stime from /proc/PID/stat) before and after each. Unpipelined, redis-benchmark itself
// sets the pace, so the server's CPU time per request is what compares them; 32-deep, throughput
// does. The targets are judged on the default key, as redis-benchmark runs by default; the
// random keys show what a keyspace larger than the CPU's caches costs. Medians over rounds. Then
// (unless --no-suite) redis-benchmark's whole default suite runs once against rxloop native, and
// any error fails the run. Two echo servers (floors, unpipelined only) show what a request costs
// rxloop's native loop, and a plain C epoll loop, when the handler does nothing. The tables are
// printed and written into bench/RESULTS.md between <!-- redis:begin --> and <!-- redis:end -->.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const h = require('./support/harness');

const opt = h.benchOptions(__filename, {
  rounds: { type: 'string', default: '3' },
  requests: { type: 'string', default: '200000' },
  'pipelined-requests': { type: 'string', default: '3000000' },
  keys: { type: 'string', default: '100000' },
  only: { type: 'string' },
  'no-suite': { type: 'boolean', default: false },
});

const rounds = Number(opt.rounds);
const randomKeys = Number(opt.keys);
const CLIENTS = 50;
const unpipelined = { pipeline: 1, requests: Number(opt.requests), keys: 0 };
const pipelined = { pipeline: 32, requests: Number(opt['pipelined-requests']), keys: 0 };
const WORKLOADS = [
  { test: 'set', ...unpipelined },
  { test: 'get', ...unpipelined },
  { test: 'set', ...pipelined },
  { test: 'get', ...pipelined },
  ...(randomKeys > 0 ? [{ test: 'set', ...pipelined, keys: randomKeys }, { test: 'get', ...pipelined, keys: randomKeys }] : []),
];
if (!(rounds >= 1 && randomKeys >= 0 && WORKLOADS.every((w) => w.requests >= CLIENTS))) {
  console.error('redis: --rounds, --requests and --pipelined-requests must be positive numbers, --keys not negative');
  process.exit(2);
}
const WARMUP_REQUESTS = 500000; // SET and GET, 32-deep: lets V8 optimise before anything is measured
const label = (w) =>
  `${w.test.toUpperCase()} ${w.pipeline === 1 ? 'unpipelined' : `${w.pipeline}-deep`}${w.keys ? `, ${h.fmtInt(w.keys)} keys` : ''}`;
const pipelinedOrNot = (deep) => WORKLOADS.filter((w) => (w.pipeline > 1) === deep);

const RXLOOP_CLI = path.join(h.ROOT, 'bin', 'rxloop.js');
const rxloop = (backend, loops = 1) => {
  const loopArgs = loops === 1 ? [] : ['--loops', String(loops)];
  return {
    name: `rxloop ${backend}${loops === 1 ? '' : `, ${loops} loops`}`,
    needs: RXLOOP_CLI,
    argv: (port) => [process.execPath, RXLOOP_CLI, 'redis', '--port', port, '--host', h.HOST, '--backend', backend, ...loopArgs],
    shown: `node bin/rxloop.js redis --port P --host ${h.HOST} --backend ${backend}${loopArgs.map((arg) => ` ${arg}`).join('')}`,
  };
};
const SERVERS = [
  rxloop('native'),
  rxloop('node'),
  // Connections served by two loops in worker threads, the commands run in the main thread.
  rxloop('native', 2),
  {
    name: 'redis-server',
    argv: (port) => ['redis-server', '--port', port, '--bind', h.HOST, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    shown: `redis-server --port P --bind ${h.HOST} --save '' --appendonly no`,
  },
  {
    name: 'node:net',
    argv: (port) => [process.execPath, path.join(h.ROOT, 'bench', 'servers', 'net-redis.js'), '--port', port, '--host', h.HOST],
    shown: `node bench/servers/net-redis.js --port P --host ${h.HOST}`,
  },
  // Floors, unpipelined only: echo servers (redis-benchmark reads an echoed command as an array
  // reply) show what a request costs rxloop's native loop, and a plain C epoll loop, with no work in it.
  ...['rxloop native', 'C epoll'].map((echo) => ({
    ...h.SERVERS.find((s) => s.name === echo),
    name: `${echo} echo`,
    floor: true,
  })),
];
/** The workloads a server is measured on, in order: a floor only unpipelined. */
const workloadsFor = (server) => WORKLOADS.filter((w) => !(server.floor && w.pipeline > 1));

// Targets from issue 4.
const CPU_TARGET = { over: 'redis-server', max: 1.15 }; // unpipelined CPU per request, rxloop native / redis-server
const THROUGHPUT_TARGETS = [
  { over: 'redis-server', min: 0.5 },
  { over: 'node:net', min: 1.5 },
];

async function startServer(server) {
  // A floor is an echo server: it answers PING with PING, so it is ready once it prints its "listening" line.
  return server.floor ? h.startServer(server) : h.startPinged(server.name, server.argv);
}

const benchmarkArgs = (w) => ['-c', CLIENTS, '-n', w.requests, ...(w.keys ? ['-r', w.keys] : []), '-P', w.pipeline, '-t', w.test];

async function runServer(server) {
  let srv;
  try {
    srv = await startServer(server);
  } catch (err) {
    return workloadsFor(server).map(() => ({ failed: true, error: `did not start: ${err.message}` }));
  }
  const results = [];
  try {
    const warmup = await h.redisBenchmark(srv.port, ['-c', CLIENTS, '-n', WARMUP_REQUESTS, '-P', 32, '-t', 'set,get'], 120000);
    if (warmup.failed) h.log(`${server.name}: warm-up failed: ${warmup.error}`);
    for (const w of workloadsFor(server)) {
      const m = await h.measureRedisBenchmark(srv.port, benchmarkArgs(w), [srv.pid]);
      results.push({ ...m, cpuPerRequest: m.cpuPerRequest[0], serverCpu: m.cpuPercent[0] });
    }
  } finally {
    const note = await h.stopServer(srv, server.name);
    if (note) results.note = note;
  }
  return results;
}

// The whole default suite once, against rxloop native: every test must report a rate, none an error.
async function defaultSuite() {
  const server = SERVERS[0];
  const srv = await startServer(server);
  try {
    const run = await h.redisBenchmark(srv.port, ['-n', 20000], 300000);
    const tests = [...run.rows.keys()];
    return { ok: !run.failed && tests.length >= 20, tests, error: run.error };
  } finally {
    await h.stopServer(srv, server.name);
  }
}

// Ratio of medians (a over b) of `key`, with the range of the per-round (paired) ratios.
function ratio(a, b, key) {
  if (!a || !b || !Number.isFinite(a[key]) || !Number.isFinite(b[key])) return null;
  const paired = a.runs.map((r, i) => (r.failed || b.runs[i].failed ? NaN : r[key] / b.runs[i][key])).filter(Number.isFinite);
  return { value: a[key] / b[key], lo: Math.min(...paired), hi: Math.max(...paired) };
}
const fmtRatio = (r) => (r ? `${r.value.toFixed(2)}×${Number.isFinite(r.lo) ? ` (${r.lo.toFixed(2)}–${r.hi.toFixed(2)})` : ''}` : '—');
const mark = (r, ok) => (r ? `${fmtRatio(r)} ${ok(r.value) ? '✓' : '✗'}` : '—');

function report(servers, table) {
  const lines = [];
  lines.push('| workload | server | requests/s (median) | requests/s per round | p50 ms | server CPU µs/request | server CPU |');
  lines.push('|---|---|---:|---|---:|---:|---:|');
  for (const w of WORKLOADS) {
    for (const s of servers.filter((s) => workloadsFor(s).includes(w))) {
      const r = table.get(w).get(s.name);
      const perRound = r.runs.map((x) => (x.failed ? 'failed' : h.fmtK(x.rps))).join(', ');
      lines.push(`| ${label(w)} | ${s.name} | ${h.fmtInt(r.rps)} | ${perRound} | ${h.fmtNum(r.p50, 3)} | ${h.fmtNum(r.cpuPerRequest, 2)} | ${h.fmtNum(r.serverCpu, 0)}% |`);
    }
  }
  lines.push('');
  lines.push('Unpipelined: server CPU time per request, rxloop native over each (lower is better; range of the per-round ratios in brackets):');
  lines.push('');
  const others = servers.filter((s) => s.name !== 'rxloop native');
  lines.push(`| workload | ${others.map((s) => `÷ ${s.name}${s.name === CPU_TARGET.over ? ` (target ≤ ${CPU_TARGET.max}×)` : ''}`).join(' | ')} |`);
  lines.push(`|---|${others.map(() => '---|').join('')}`);
  for (const w of pipelinedOrNot(false)) {
    const row = table.get(w);
    const cells = others.map((s) => {
      const r = ratio(row.get('rxloop native'), row.get(s.name), 'cpuPerRequest');
      return s.name === CPU_TARGET.over ? mark(r, (v) => v <= CPU_TARGET.max) : fmtRatio(r);
    });
    lines.push(`| ${label(w)} | ${cells.join(' | ')} |`);
  }
  const floors = servers.filter((s) => s.floor);
  if (floors.length > 0 && servers.some((s) => s.name === CPU_TARGET.over)) {
    lines.push('');
    lines.push(`The floors, CPU time per request over ${CPU_TARGET.over}'s: ` + floors.map((f) => `${f.name} ` +
      pipelinedOrNot(false).map((w) => `${fmtRatio(ratio(table.get(w).get(f.name), table.get(w).get(CPU_TARGET.over), 'cpuPerRequest'))} ${w.test.toUpperCase()}`).join(', ')).join('; ') + '.');
  }
  lines.push('');
  lines.push('32-deep: requests/s, rxloop native over each (higher is better; the targets are for the default key):');
  lines.push('');
  const pipelinedOthers = others.filter((s) => !s.floor);
  lines.push(`| workload | ${pipelinedOthers.map((s) => {
    const target = THROUGHPUT_TARGETS.find((t) => t.over === s.name);
    return `÷ ${s.name}${target ? ` (target ≥ ${target.min}×)` : ''}`;
  }).join(' | ')} |`);
  lines.push(`|---|${pipelinedOthers.map(() => '---|').join('')}`);
  for (const w of pipelinedOrNot(true)) {
    const row = table.get(w);
    const cells = pipelinedOthers.map((s) => {
      const r = ratio(row.get('rxloop native'), row.get(s.name), 'rps');
      const target = THROUGHPUT_TARGETS.find((t) => t.over === s.name);
      return target && !w.keys ? mark(r, (v) => v >= target.min) : fmtRatio(r);
    });
    lines.push(`| ${label(w)} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main() {
  const servers = h.selectByName(SERVERS, opt.only);
  if (servers.some((s) => s.name === 'C epoll echo')) h.buildTools(['echo_server']);
  const table = new Map(WORKLOADS.map((w) => [w, new Map(servers.filter((s) => workloadsFor(s).includes(w)).map((s) => [s.name, []]))]));
  const notes = new Set();
  for (let round = 0; round < rounds; round++) {
    // Alternate: round k starts with server k, so no server always runs first or last.
    const order = servers.map((_, i) => servers[(i + round) % servers.length]);
    for (const server of order) {
      const results = await runServer(server);
      if (results.note) notes.add(results.note);
      workloadsFor(server).forEach((w, i) => {
        const r = results[i];
        table.get(w).get(server.name).push(r);
        if (r.failed) notes.add(`${server.name}, ${label(w)}, round ${round + 1}: failed: ${r.error}`);
        h.log(`round ${round + 1}/${rounds}, ${server.name.padEnd(13)} ${label(w).padEnd(16)} ` +
          (r.failed ? `FAILED: ${r.error}` : `${h.fmtInt(r.rps)} req/s, p50 ${h.fmtNum(r.p50, 3)} ms, ` +
            `server ${h.fmtNum(r.cpuPerRequest, 2)} µs CPU/request (${h.fmtNum(r.serverCpu, 0)}%)`));
      });
    }
  }
  for (const row of table.values()) for (const [name, runs] of row) row.set(name, h.summarise(runs, ['rps', 'p50', 'cpuPerRequest', 'serverCpu']));
  const tables = report(servers, table);
  console.log(`\n${tables}\n`);

  let suite = null;
  if (!opt['no-suite'] && servers.includes(SERVERS[0])) {
    suite = await defaultSuite();
    console.log(`default suite against rxloop native: ${suite.ok ? 'no errors' : `FAILED: ${suite.error}`} (${suite.tests.join(', ')})`);
  }
  for (const n of notes) console.log(`note: ${n}`);

  if (!opt['no-write']) {
    const body = [
      '## Redis: redis-benchmark GET and SET',
      '',
      `Measured ${h.today()} on ${h.machineNote()}, ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ').slice(0, 3).join(' ')}. ` +
        `Each server alone on CPU 0, redis-benchmark on CPU 1; ${rounds} rounds, servers alternated; each started afresh, ` +
        `warmed up with ${h.fmtInt(WARMUP_REQUESTS)} 32-deep SETs and GETs, then measured. Medians over rounds. Server CPU is ` +
        'utime+stime from /proc/PID/stat over each run. Unpipelined, redis-benchmark (one thread) sets the pace for every ' +
        'server, so CPU time per request is the comparison; 32-deep, throughput is.',
      '',
      `Command: \`${h.commandLine('redis')}\``,
      '',
      'Servers (P is a free port):',
      '',
      ...servers.map((s) => `- ${s.name}: \`${s.shown}\``),
      '',
      `Load: \`redis-benchmark -h ${h.HOST} -p P -c ${CLIENTS} -n N [-r KEYS] -P DEPTH -t set|get --csv\`, ` +
        `N = ${h.fmtInt(unpipelined.requests)} unpipelined, ${h.fmtInt(pipelined.requests)} 32-deep; without -r every request ` +
        'names the one key `key:__rand_int__` (redis-benchmark\'s default), with -r a random one of KEYS.',
      '',
      tables,
      ...(suite ? ['', `redis-benchmark's whole default suite (\`redis-benchmark -h ${h.HOST} -p P -n 20000\`) against rxloop native: ` +
        `${suite.ok ? 'every test ran with no error' : `FAILED: ${suite.error}`} (${suite.tests.join(', ')}).`] : []),
      ...(notes.size ? ['', ...[...notes].map((n) => `- ${n}`)] : []),
    ].join('\n');
    h.writeSection('redis', body, opt.results ? path.resolve(opt.results) : h.RESULTS);
  }
  if (suite && !suite.ok) process.exit(1);
}

main().catch((err) => {
  console.error(`redis: ${err.stack || err.message}`);
  process.exit(1);
});
