'use strict';
// Several loops (issue 6): the echo example with --loops 2 under each balance mode, driven by the
// C ping-pong client; shows how the work splits between the two loop threads.
//
//   npm run bench -- loops [--seconds 5] [--warmup 1] [--conns 100] [--size 64] [--no-write] [--results FILE]
//
// The server may use both CPUs (its two loops need them); the load generator runs on CPU 1 and
// connects from 100 loopback source addresses (127.0.0.1–100), so that source-hash has peers to
// spread. Two measures of each loop's share: its bytes read (the server's per-loop counters,
// printed on SIGUSR2) and the CPU time of the two busiest threads other than the main one
// (/proc/PID/task/TID/stat over the run). Target: each loop ≥ 25% of the work. The table goes
// into bench/RESULTS.md between <!-- loops:begin --> and <!-- loops:end -->.
const fs = require('node:fs');
const path = require('node:path');
const h = require('./support/harness');

const opt = h.benchOptions(__filename, {
  seconds: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '1' },
  conns: { type: 'string', default: '100' },
  size: { type: 'string', default: '64' },
});
const seconds = Number(opt.seconds);
const warmup = Number(opt.warmup);
const conns = Number(opt.conns);
const size = Number(opt.size);
const SOURCES = 100;
const BALANCES = ['round-robin', 'least-connections', 'random', 'source-hash', 'reuseport'];
const MIN_SHARE = 0.25;

function threadCpu(pid) {
  const cpu = new Map();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      cpu.set(Number(tid), h.cpuSeconds(pid, tid));
    } catch {
      // the thread ended meanwhile
    }
  }
  return cpu;
}

async function runOnce(balance) {
  const port = await h.freePort();
  const server = new h.Proc(
    [process.execPath, path.join(h.ROOT, 'bin', 'rxloop.js'), 'echo', '--port', String(port), '--host', h.HOST, '--loops', '2', '--balance', balance],
    { cpu: '0,1', raiseFdLimit: true },
  );
  try {
    await server.waitForLine((l) => l === `listening tcp://${h.HOST}:${port}`, 15000, 'its "listening" line');
    const before = threadCpu(server.pid);
    const args = ['-h', h.HOST, '-p', port, '-c', conns, '-s', size, '-d', seconds, '-w', warmup, '-S', SOURCES];
    const { status, json, stderr } = await h.runTool('echo_load', args, (seconds + warmup) * 1000 + 60000);
    if (status.code !== 0 || !json || json.errors > 0) throw new Error(`echo_load: ${stderr || h.describeExit(status)}`);
    const after = threadCpu(server.pid);
    const lines = server.lines.length;
    server.child.kill('SIGUSR2');
    await server.waitForLine((l) => l.startsWith('{"stats"'), 5000, 'its stats line');
    const stats = JSON.parse(server.lines.slice(lines).find((l) => l.startsWith('{"stats"'))).stats[0];
    const used = [...after].map(([tid, cpu]) => ({ tid, cpu: cpu - (before.get(tid) ?? 0) }));
    const main = used.find((t) => t.tid === server.pid);
    const busiest = used.filter((t) => t.tid !== server.pid).sort((a, b) => b.cpu - a.cpu).slice(0, 2);
    const bytes = stats.loops.map((l) => l.bytesIn);
    const totalBytes = bytes.reduce((a, b) => a + b, 0);
    const busyCpu = busiest.reduce((a, t) => a + t.cpu, 0);
    return {
      rate: json.msgs_per_sec,
      byteShares: bytes.map((b) => b / totalBytes),
      accepted: stats.loops.map((l) => l.accepted),
      cpuShares: busiest.map((t) => t.cpu / busyCpu),
      loopCpu: busiest.map((t) => t.cpu),
      mainCpu: main ? main.cpu : NaN,
    };
  } finally {
    await server.stop();
  }
}

const pct = (x) => `${(x * 100).toFixed(0)}%`;

async function main() {
  h.buildTools(['echo_load']);
  const rows = [];
  for (const balance of BALANCES) {
    const r = await runOnce(balance);
    const ok = Math.min(...r.byteShares) >= MIN_SHARE && Math.min(...r.cpuShares) >= MIN_SHARE;
    h.log(`${balance}: ${h.fmtInt(r.rate)} msg/s, bytes ${r.byteShares.map(pct).join('/')}, CPU ${r.cpuShares.map(pct).join('/')}`);
    rows.push(
      `| ${balance} | ${h.fmtInt(r.rate)} | ${r.accepted.join(' / ')} | ${r.byteShares.map(pct).join(' / ')} | ` +
        `${r.cpuShares.map(pct).join(' / ')} (${r.loopCpu.map((c) => `${c.toFixed(2)} s`).join(', ')}) | ${h.fmtNum(r.mainCpu, 2)} s | ${ok ? '✓' : '✗'} |`,
    );
  }
  const table = [
    `| balance | msg/s | connections per loop | bytes read per loop | CPU of the two busiest worker threads | main thread CPU | each ≥ ${pct(MIN_SHARE)} |`,
    '|---|---:|---|---|---|---:|---|',
    ...rows,
  ].join('\n');
  console.log(`\n${table}\n`);
  if (opt['no-write']) return;
  const body = [
    '## Several loops: echo --loops 2 under each balance mode',
    '',
    `Measured ${h.today()} on ${h.machineNote()}. Server: \`node bin/rxloop.js echo --port P --loops 2 --balance B\` ` +
      `on both CPUs; load: \`bench/bin/echo_load -c ${conns} -s ${size} -d ${seconds} -w ${warmup} -S ${SOURCES}\` on CPU 1 ` +
      `(from ${SOURCES} loopback source addresses). Throughput here is not a comparison: the load generator shares a CPU with a loop. ` +
      'The shares are what this measures: bytes each loop read (its counters, SIGUSR2) and CPU time of the two busiest threads besides the main (acceptor) thread.',
    '',
    `Command: \`${h.commandLine('loops')}\``,
    '',
    table,
  ].join('\n');
  h.writeSection('loops', body, opt.results ? path.resolve(opt.results) : h.RESULTS);
}

main().catch((err) => {
  console.error(`loops: ${err.stack || err.message}`);
  process.exit(1);
});
