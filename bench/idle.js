'use strict';
// Memory benchmarks (issue 2): RSS per idle connection, and a slow peer.
//
//   npm run bench -- idle [--conns 10000] [--only rxloop-native,node:net,...] [--tests idle,slow]
//                         [--slow-seconds 10] [--cap-mib 1024] [--no-write] [--results FILE]
//
// idle: the server (alone on CPU 0, fd limit raised) gets N connections from bench/bin/idle_conns
//   on CPU 1, each of which echoes one byte and then stays idle; RSS (VmRSS) is read before and
//   after, and the difference is divided by N. Target: ≤ 1,000 B per connection.
// slow: 10 clients ping-pong 64 B (bench/bin/echo_load) while bench/bin/slow_peer writes to the
//   server without end and never reads. Reports the server's RSS growth over the run and the
//   other clients' p99, next to their p99 without the slow peer. Target: growth < 64 MiB. A server
//   that keeps buffering is stopped at --cap-mib of growth (the slow peer is killed) to spare the
//   machine; its row then says so.
// The tables are printed and written into bench/RESULTS.md between <!-- idle:begin --> and
// <!-- idle:end -->.
const path = require('node:path');
const h = require('./support/harness');

const opt = h.benchOptions(__filename, {
  conns: { type: 'string', default: '10000' },
  only: { type: 'string' },
  tests: { type: 'string', default: 'idle,slow' },
  'slow-seconds': { type: 'string', default: '10' },
  'cap-mib': { type: 'string', default: '1024' },
});

const conns = Number(opt.conns);
const slowSeconds = Number(opt['slow-seconds']);
const capBytes = Number(opt['cap-mib']) * 1048576;
const tests = new Set(opt.tests.split(',').map((t) => t.trim()));
if (!(conns >= 1 && slowSeconds > 0 && capBytes > 0) || ![...tests].every((t) => t === 'idle' || t === 'slow')) {
  console.error('idle: --conns, --slow-seconds and --cap-mib must be positive; --tests takes idle and/or slow');
  process.exit(2);
}
const IDLE_TARGET = 1000; // bytes of RSS per idle connection
const SLOW_TARGET = 64 * 1048576; // bytes of RSS growth under a slow peer
const PINGERS = 10;

// Samples a process's RSS every `ms` until stopped; keeps the first and the peak.
function sampleRss(pid, ms, onSample) {
  const s = { first: h.rssBytes(pid), peak: 0, last: 0 };
  s.peak = s.last = s.first;
  const timer = setInterval(() => {
    try {
      s.last = h.rssBytes(pid);
    } catch {
      return; // the process is gone; the caller finds out
    }
    s.peak = Math.max(s.peak, s.last);
    if (onSample) onSample(s);
  }, ms);
  s.stop = () => clearInterval(timer);
  return s;
}

async function idleTest(server) {
  const row = { server: server.name };
  let srv;
  try {
    srv = await h.startServer(server);
  } catch (err) {
    return { ...row, error: `did not start: ${err.message.split('\n').filter(Boolean).slice(0, 2).join('; ')}` };
  }
  try {
    await h.delay(1000); // let start-up allocation settle
    row.before = h.rssBytes(srv.pid);
    const fds0 = h.fdCount(srv.pid);
    const client = new h.Proc([h.tool('idle_conns'), '-h', h.HOST, '-p', String(srv.port), '-c', String(conns)],
      { cpu: h.LOAD_CPU, stdin: 'pipe' });
    try {
      await client.waitForLine((l) => l.startsWith('{'), 120000, `${conns} connections`);
      row.connectMs = client.lastJson().connect_ms;
      // Read RSS once it has stopped moving (at most 5 s), so lazy frees and GC have happened.
      let last = h.rssBytes(srv.pid);
      for (let i = 0; i < 10; i++) {
        await h.delay(500);
        const now = h.rssBytes(srv.pid);
        if (Math.abs(now - last) < 64 * 1024 && i >= 3) break;
        last = now;
      }
      row.after = h.rssBytes(srv.pid);
      row.fds = h.fdCount(srv.pid) - fds0;
      row.perConn = (row.after - row.before) / conns;
    } finally {
      client.child.stdin.end(); // idle_conns closes its connections and exits
      const status = await client.wait(10000);
      if (status.code !== 0 && !row.error) row.error = `idle_conns: ${h.describeExit(status)} ${client.stderr.trim()}`;
    }
  } catch (err) {
    row.error = err.message.split('\n').filter(Boolean).slice(0, 2).join('; ');
  } finally {
    row.note = await h.stopServer(srv, server.name);
  }
  return row;
}

async function slowTest(server) {
  const row = { server: server.name };
  let srv;
  try {
    srv = await h.startServer(server);
  } catch (err) {
    return { ...row, error: `did not start: ${err.message.split('\n').filter(Boolean).slice(0, 2).join('; ')}` };
  }
  const load = (seconds, warmup) => h.runTool('echo_load',
    ['-h', h.HOST, '-p', srv.port, '-c', PINGERS, '-s', 64, '-d', seconds, '-w', warmup], (seconds + warmup) * 1000 + 60000);
  try {
    await h.delay(500);
    const alone = await load(3, 0.5);
    if (!alone.json || alone.status.code !== 0) throw new Error(`echo_load alone: ${alone.stderr || h.describeExit(alone.status)}`);
    row.p99Alone = alone.json.p99_us;
    row.rateAlone = alone.json.msgs_per_sec;

    const peer = new h.Proc([h.tool('slow_peer'), '-h', h.HOST, '-p', String(srv.port)], { cpu: h.LOAD_CPU });
    let rss;
    try {
      await peer.waitForLine((l) => l.includes('"connected"'), 10000, 'connecting');
      const t0 = Date.now();
      rss = sampleRss(srv.pid, 100, (s) => {
        if (!row.capped && s.last - s.first > capBytes) {
          row.capped = (Date.now() - t0) / 1000;
          peer.child.kill('SIGTERM');
        }
      });
      const busy = await load(slowSeconds, 0);
      row.p99Slow = busy.json ? busy.json.p99_us : NaN;
      row.rateSlow = busy.json ? busy.json.msgs_per_sec : NaN;
      if (!busy.json || busy.status.code !== 0) row.error = `echo_load with the slow peer: ${busy.stderr || h.describeExit(busy.status)}`;
    } finally {
      if (rss) rss.stop();
      await peer.stop();
    }
    const out = peer.lastJson();
    row.growth = rss ? rss.peak - rss.first : NaN;
    row.written = out ? out.bytes_written : NaN;
    if (out && out.error && !row.capped) row.error = `slow peer: ${out.error}`;
  } catch (err) {
    row.error = err.message.split('\n').filter(Boolean).slice(0, 2).join('; ');
  } finally {
    row.note = await h.stopServer(srv, server.name);
  }
  return row;
}

function idleTable(rows) {
  const lines = [
    `| server | RSS before | RSS with ${h.fmtInt(conns)} idle conns | server fds added | bytes per idle conn (target ≤ ${h.fmtInt(IDLE_TARGET)}) |`,
    '|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    if (r.error && !Number.isFinite(r.perConn)) {
      lines.push(`| ${r.server} | failed: ${r.error} | | | |`);
      continue;
    }
    lines.push(`| ${r.server} | ${h.fmtMiB(r.before)} MiB | ${h.fmtMiB(r.after)} MiB | ${h.fmtInt(r.fds)} | ` +
      `${h.fmtInt(r.perConn)} ${r.perConn <= IDLE_TARGET ? '✓' : '✗'} |`);
  }
  return lines.join('\n');
}

function slowTable(rows) {
  const lines = [
    `| server | RSS growth, peak (target < 64 MiB) | bytes the slow peer got in | others' p99 alone | others' p99 with slow peer | others' msg/s alone → with |`,
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    if (r.error && !Number.isFinite(r.growth)) {
      lines.push(`| ${r.server} | failed: ${r.error} | | | | |`);
      continue;
    }
    const growth = `${h.fmtMiB(r.growth)} MiB${r.capped ? ` (stopped at the cap after ${r.capped.toFixed(1)} s)` : ''} ` +
      `${r.growth < SLOW_TARGET ? '✓' : '✗'}`;
    lines.push(`| ${r.server} | ${growth} | ${h.fmtMiB(r.written)} MiB | ${h.fmtNum(r.p99Alone, 0)} µs | ` +
      `${h.fmtNum(r.p99Slow, 0)} µs | ${h.fmtK(r.rateAlone)} → ${h.fmtK(r.rateSlow)} |`);
  }
  return lines.join('\n');
}

async function main() {
  h.buildTools(['echo_server', 'echo_load', 'idle_conns', 'slow_peer']);
  const servers = h.selectServers(opt.only);
  if (!servers.length) throw new Error('no servers to run');
  const idleRows = [];
  const slowRows = [];
  const notes = new Set();
  const noteRow = (r) => {
    if (r.note) notes.add(r.note);
    if (r.error) notes.add(`${r.server}: ${r.error}`);
  };

  for (const server of servers) {
    if (tests.has('idle')) {
      const r = await idleTest(server);
      idleRows.push(r);
      noteRow(r);
      h.log(`idle, ${server.name.padEnd(13)} ${r.error ? `FAILED: ${r.error}` :
        `${h.fmtMiB(r.before)} → ${h.fmtMiB(r.after)} MiB, ${h.fmtInt(r.perConn)} B per connection (${r.fds} fds added)`}`);
    }
    if (tests.has('slow')) {
      const r = await slowTest(server);
      slowRows.push(r);
      noteRow(r);
      h.log(`slow, ${server.name.padEnd(13)} ${r.error && !Number.isFinite(r.growth) ? `FAILED: ${r.error}` :
        `RSS +${h.fmtMiB(r.growth)} MiB${r.capped ? ' (capped)' : ''}, peer wrote ${h.fmtMiB(r.written)} MiB, ` +
        `p99 ${h.fmtNum(r.p99Alone, 0)} → ${h.fmtNum(r.p99Slow, 0)} µs`}`);
    }
  }

  const parts = [];
  if (idleRows.length) parts.push(`### ${h.fmtInt(conns)} idle connections\n\n${idleTable(idleRows)}`);
  if (slowRows.length) parts.push(`### A slow peer (writes without end, never reads) beside ${PINGERS} ping-pong clients\n\n${slowTable(slowRows)}`);
  const tables = parts.join('\n\n');
  console.log(`\n${tables}\n`);
  for (const n of notes) console.log(`note: ${n}`);

  if (opt['no-write']) return;
  const body = [
    '## Memory: idle connections and a slow peer',
    '',
    `Measured ${h.today()} on ${h.machineNote()}. Each server alone on CPU 0 with its fd limit raised ` +
      `(\`sh -c 'ulimit -n 65536 || ulimit -n $(ulimit -Hn); exec SERVER'\`), the C clients on CPU 1. RSS is VmRSS ` +
      'from /proc/PID/status.',
    '',
    `- idle: \`bench/bin/idle_conns -h ${h.HOST} -p P -c ${conns}\` opens the connections one by one, ` +
      'echoes one byte on each (so each was accepted and served), then holds them; RSS is read before, and ' +
      'after it has settled.',
    `- slow: \`bench/bin/echo_load -h ${h.HOST} -p P -c ${PINGERS} -s 64 -d 3 -w 0.5\` alone, then ` +
      `\`bench/bin/slow_peer -h ${h.HOST} -p P\` (64 KiB sends, never reads) together with ` +
      `\`bench/bin/echo_load ... -c ${PINGERS} -s 64 -d ${slowSeconds} -w 0\`; RSS sampled every 100 ms, growth is ` +
      `peak − start; a server is cut off at ${opt['cap-mib']} MiB of growth. The slow peer shares CPU 1 with ` +
      'the ping-pong clients: where the server never pushes back, it spins there.',
    '',
    `Command: \`${h.commandLine('idle')}\``,
    '',
    'Servers (P is a free port):',
    '',
    ...servers.map((s) => `- ${s.name}: \`${s.shown}\``),
    '',
    tables,
    ...(notes.size ? ['', ...[...notes].map((n) => `- ${n}`)] : []),
  ].join('\n');
  h.writeSection('idle', body, opt.results ? path.resolve(opt.results) : h.RESULTS);
}

main().catch((err) => {
  console.error(`idle: ${err.stack || err.message}`);
  process.exit(1);
});
