'use strict';
// Echo benchmark (issue 2): 64-byte ping-pong against rxloop (native and node backends), a plain
// node:net echo server and a plain C epoll echo server, side by side.
//
//   npm run bench -- echo [--rounds 3] [--seconds 5] [--warmup 1] [--conns 100,1000] [--size 64]
//                         [--only rxloop-native,rxloop-node,node:net,c-epoll] [--no-write] [--results FILE]
//
// Each server runs alone on CPU 0 (taskset); bench/bin/echo_load (C, one thread) drives it from
// CPU 1. Every round runs every server once, each round starting with the next server in turn;
// the table gives medians over rounds, the server's CPU time per message (utime+stime from
// /proc/PID/stat over the measured window) and the ratios issue 2 asks for. The table is printed
// and written into bench/RESULTS.md between <!-- echo:begin --> and <!-- echo:end -->.
const path = require('node:path');
const h = require('./support/harness');

const opt = h.benchOptions(__filename, {
  rounds: { type: 'string', default: '3' },
  seconds: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '1' },
  conns: { type: 'string', default: '100,1000' },
  size: { type: 'string', default: '64' },
  only: { type: 'string' },
});

const rounds = Number(opt.rounds);
const seconds = Number(opt.seconds);
const warmup = Number(opt.warmup);
const size = Number(opt.size);
const connCounts = opt.conns.split(',').map(Number);
if (!(rounds >= 1 && seconds > 0 && warmup >= 0 && size >= 1 && connCounts.every((c) => c >= 1))) {
  console.error('echo: --rounds, --seconds, --size and --conns must be positive numbers');
  process.exit(2);
}

// Targets from issue 2: rxloop native against the two plain servers, in msg/s.
const TARGETS = [
  { over: 'node:net', min: 1.3 },
  { over: 'C epoll', min: 0.85 },
];

async function runOnce(server, conns) {
  let srv;
  try {
    srv = await h.startServer(server);
  } catch (err) {
    return { failed: true, error: `did not start: ${err.message.split('\n').filter(Boolean).slice(0, 3).join('; ')}` };
  }
  let result;
  try {
    const args = ['-h', h.HOST, '-p', srv.port, '-c', conns, '-s', size, '-d', seconds, '-w', warmup, '-P', srv.pid];
    const timeoutMs = (seconds + warmup) * 1000 + 60000;
    const { status, json, stderr } = await h.runTool('echo_load', args, timeoutMs);
    const failed = status.code !== 0 || !json || json.errors > 0;
    result = { ...json, failed, error: failed ? (stderr || h.describeExit(status)).split('\n').slice(0, 3).join('; ') : null };
  } finally {
    const note = await h.stopServer(srv, server.name);
    const stderr = srv.stderr.trim();
    result = { ...result, note, serverStderr: stderr ? stderr.split('\n').slice(0, 3).join('; ') : null };
  }
  return result;
}

function summarise(runs) {
  const ok = runs.filter((r) => !r.failed);
  const med = (key) => h.median(ok.map((r) => r[key]));
  return {
    runs,
    ok: ok.length,
    rate: med('msgs_per_sec'),
    p50: med('p50_us'),
    p99: med('p99_us'),
    cpuPerMsg: med('server_cpu_per_msg_us'),
    serverCpu: med('server_cpu_pct'),
    loadCpu: med('client_cpu_pct'),
  };
}

// Ratio of medians (a over b) of a summary field, with the range of the per-round (paired) ratios
// of the matching per-run field.
function ratio(a, b, key, runKey) {
  if (!a || !b || !Number.isFinite(a[key]) || !Number.isFinite(b[key])) return null;
  const paired = a.runs
    .map((r, i) => (r.failed || !b.runs[i] || b.runs[i].failed ? NaN : r[runKey] / b.runs[i][runKey]))
    .filter(Number.isFinite);
  return { value: a[key] / b[key], lo: Math.min(...paired), hi: Math.max(...paired) };
}
const fmtRatio = (r) => (r ? `${r.value.toFixed(2)}×${Number.isFinite(r.lo) ? ` (${r.lo.toFixed(2)}–${r.hi.toFixed(2)})` : ''}` : '—');

function report(servers, table) {
  const workload = (c) => `${c} conns × ${size} B`;
  const lines = [];
  lines.push(`| workload | server | msg/s (median) | msg/s per round | p50 µs | p99 µs | server CPU µs/msg | server CPU | load CPU |`);
  lines.push(`|---|---|---:|---|---:|---:|---:|---:|---:|`);
  for (const c of connCounts) {
    for (const s of servers) {
      const r = table.get(c).get(s.name);
      const perRound = r.runs.map((x) => (x.failed ? 'failed' : h.fmtK(x.msgs_per_sec))).join(', ');
      lines.push(`| ${workload(c)} | ${s.name} | ${h.fmtInt(r.rate)} | ${perRound} | ${h.fmtNum(r.p50, 0)} | ` +
        `${h.fmtNum(r.p99, 0)} | ${h.fmtNum(r.cpuPerMsg, 2)} | ${h.fmtNum(r.serverCpu, 0)}% | ${h.fmtNum(r.loadCpu, 0)}% |`);
    }
  }
  lines.push('');
  lines.push('Ratios of medians (range of the per-round ratios in brackets); msg/s higher is better, CPU/msg lower is better:');
  lines.push('');
  lines.push(`| workload | ${TARGETS.map((t) => `rxloop native / ${t.over} msg/s (target ≥ ${t.min}×)`).join(' | ')} | ` +
    `${TARGETS.map((t) => `CPU/msg rxloop native / ${t.over}`).join(' | ')} |`);
  lines.push(`|---|${TARGETS.map(() => '---|').join('')}${TARGETS.map(() => '---|').join('')}`);
  for (const c of connCounts) {
    const row = table.get(c);
    const native = row.get('rxloop native');
    const cells = TARGETS.map((t) => {
      const r = ratio(native, row.get(t.over), 'rate', 'msgs_per_sec');
      return r ? `${fmtRatio(r)} ${r.value >= t.min ? '✓' : '✗'}` : '—';
    });
    const cpu = TARGETS.map((t) => fmtRatio(ratio(native, row.get(t.over), 'cpuPerMsg', 'server_cpu_per_msg_us')));
    lines.push(`| ${workload(c)} | ${cells.join(' | ')} | ${cpu.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main() {
  h.buildTools(['echo_server', 'echo_load']);
  const servers = h.selectServers(opt.only);
  if (!servers.length) throw new Error('no servers to run');
  const table = new Map(connCounts.map((c) => [c, new Map(servers.map((s) => [s.name, []]))]));
  const notes = new Set();

  for (const conns of connCounts) {
    for (let round = 0; round < rounds; round++) {
      // Alternate: round k starts with server k, so no server always runs first or last.
      const order = servers.map((_, i) => servers[(i + round) % servers.length]);
      for (const server of order) {
        const r = await runOnce(server, conns);
        table.get(conns).get(server.name).push(r);
        if (r.note) notes.add(r.note);
        if (r.serverStderr) notes.add(`${server.name} wrote to stderr: ${r.serverStderr}`);
        if (r.failed) notes.add(`${server.name}, ${conns} conns, round ${round + 1}: failed: ${r.error}`);
        h.log(`${conns} conns, round ${round + 1}/${rounds}, ${server.name.padEnd(13)} ` +
          (r.failed ? `FAILED: ${r.error}` : `${h.fmtInt(r.msgs_per_sec)} msg/s, p99 ${h.fmtNum(r.p99_us, 0)} µs, ` +
            `server ${h.fmtNum(r.server_cpu_per_msg_us, 2)} µs CPU/msg (${h.fmtNum(r.server_cpu_pct, 0)}%), ` +
            `load ${h.fmtNum(r.client_cpu_pct, 0)}% CPU`));
      }
    }
  }

  for (const row of table.values()) for (const [name, runs] of row) row.set(name, summarise(runs));
  const tables = report(servers, table);
  console.log(`\n${tables}\n`);
  for (const n of notes) console.log(`note: ${n}`);

  if (opt['no-write']) return;
  const body = [
    `## Echo: ${size}-byte ping-pong`,
    '',
    `Measured ${h.today()} on ${h.machineNote()}. Each server alone on CPU 0, the load generator ` +
      `(bench/bin/echo_load: C, one thread, epoll, every echo verified) on CPU 1; ${rounds} rounds, ` +
      `servers alternated, ${seconds} s each after ${warmup} s of warm-up; medians over rounds. ` +
      'Server CPU is utime+stime from /proc/PID/stat over the measured window; "load CPU" near 100% means ' +
      'the load generator, not the server, set the pace.',
    '',
    `Command: \`${h.commandLine('echo')}\``,
    '',
    'Servers (P is a free port):',
    '',
    ...servers.map((s) => `- ${s.name}: \`${s.shown}\``),
    '',
    `Load: \`bench/bin/echo_load -h ${h.HOST} -p P -c CONNS -s ${size} -d ${seconds} -w ${warmup} -P SERVER_PID\``,
    '',
    tables,
    ...(notes.size ? ['', ...[...notes].map((n) => `- ${n}`)] : []),
  ].join('\n');
  h.writeSection('echo', body, opt.results ? path.resolve(opt.results) : h.RESULTS);
}

main().catch((err) => {
  console.error(`echo: ${err.stack || err.message}`);
  process.exit(1);
});
