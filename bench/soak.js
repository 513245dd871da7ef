'use strict';
// Soak (issue 7): one server under mixed load for a while, watched from outside.
//
//   npm run soak -- [--minutes 10] [--backend native|node] [--interval 5] [--no-write] [--results FILE]
//
// The server is bench/servers/soak-server.js (the echo and redis examples in one process) on
// CPU 0; the load, all on CPU 1 and all on loopback, runs side by side until the time is up:
//   echo      bench/bin/echo_load, 20 connections ping-ponging 512 B (every byte checked), in 20 s rounds
//   redis     redis-benchmark -P 16 -c 20 SET/GET/INCR/HSET over 10,000 keys, round after round
//   churn     16 loops, each connecting up to 10 times a second, echoing 64 B and leaving in turn
//             by close, by reset (RST) and by half-close (FIN first, then reading the echo until
//             the server's FIN)
//   slow      4 readers that send 4 MiB each and take it back at 512 KiB/s (the server must pause)
// Every --interval seconds the server's RSS, open fds and CPU are sampled. When the load stops,
// the fds must return to where they were before it, and the server must go quiet. Verdict: RSS in
// the last third of the run within 10% (or 16 MiB) of the middle third, fds back to the baseline,
// CPU idle (< 2%) afterwards, and no load errors. Prints a table and writes it between
// <!-- soak:begin --> and <!-- soak:end --> in bench/RESULTS.md (unless --no-write).
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./support/harness');
const { DEPARTURES, churnOnce, connectPeer } = require('../dist/spec/support/peers');

const opt = h.benchOptions(__filename, {
  minutes: { type: 'string', default: '10' },
  backend: { type: 'string', default: 'native' },
  interval: { type: 'string', default: '5' },
});
if (!['native', 'node'].includes(opt.backend)) throw new Error(`--backend native or node, not ${opt.backend}`);
const MINUTES = Number(opt.minutes);
const INTERVAL_MS = Number(opt.interval) * 1000;
if (!(MINUTES > 0) || !(INTERVAL_MS > 0)) throw new Error('--minutes and --interval must be positive');

/** CPU use of `pid` over `ms`, in percent of one core. */
async function cpuPercent(pid, ms) {
  const before = h.cpuSeconds(pid);
  await h.delay(ms);
  return ((h.cpuSeconds(pid) - before) * 100_000) / ms;
}

// ---- the load -------------------------------------------------------------------------------

const counts = { echoMsgs: 0, echoErrors: 0, redisRequests: 0, redisErrors: 0, churned: { close: 0, reset: 0, halfClose: 0 }, churnErrors: 0, slowBytes: 0, slowErrors: 0 };

/** Repeats `round` until `deadline`, or until `stopping` says so. */
async function repeatUntil(deadline, round) {
  while (Date.now() < deadline) await round(deadline - Date.now());
}

function echoLoad(port, deadline) {
  return repeatUntil(deadline, async (left) => {
    const seconds = Math.max(1, Math.min(20, Math.floor(left / 1000)));
    const run = await h.runTool('echo_load', ['-h', h.HOST, '-p', port, '-c', 20, '-s', 512, '-d', seconds, '-w', 0], (seconds + 15) * 1000);
    counts.echoMsgs += run.json?.msgs ?? 0;
    if (run.status.code !== 0 || !run.json || run.json.errors > 0) {
      counts.echoErrors += run.json?.errors || 1;
      h.log(`echo_load: ${h.describeExit(run.status)} ${run.stderr.slice(0, 300)}`);
    }
  });
}

function redisLoad(port, deadline) {
  const tests = ['set', 'get', 'incr', 'hset'];
  const perTest = 100_000;
  return repeatUntil(deadline, async (left) => {
    const proc = new h.Proc(
      ['redis-benchmark', '-h', h.HOST, '-p', String(port), '-c', '20', '-P', '16', '-r', '10000', '-d', '64', '-n', String(perTest), '-t', tests.join(','), '--csv'],
      { cpu: h.LOAD_CPU },
    );
    const status = await proc.wait(left + 1000); // killed at the deadline if still going
    const done = proc.lines.filter((line) => /^"(SET|GET|INCR|HSET)"/.test(line)).length;
    counts.redisRequests += done * perTest;
    if (status.code !== 0 && !status.forced) {
      counts.redisErrors++;
      h.log(`redis-benchmark: ${h.describeExit(status)} ${proc.stderr.slice(0, 300)}`);
    }
  });
}

/**
 * `loops` peers in turn connecting, echoing 64 B and leaving by close, reset or half-close, each
 * loop at most 10 a second: enough churn, without running the loopback out of ephemeral ports.
 * A failed attempt waits its turn too, so failures cannot spin.
 */
function churn(port, deadline, loops = 16) {
  return Promise.all(
    Array.from({ length: loops }, (_, loop) => {
      let turn = loop;
      return repeatUntil(deadline, async () => {
        const departure = DEPARTURES[turn++ % DEPARTURES.length];
        const attempt = churnOnce(port, departure).then(
          () => counts.churned[departure]++,
          (error) => {
            counts.churnErrors++;
            if (counts.churnErrors <= 5) h.log(`churn: ${error.message}`);
          },
        );
        await Promise.all([attempt, h.delay(100)]);
      });
    }),
  );
}

/** Sends 4 MiB and reads the echo at about 512 KiB/s: the server has to hold back. */
async function slowReaderOnce(port) {
  const total = 4 * 1024 * 1024;
  const socket = await connectPeer(port);
  socket.setTimeout(60_000);
  socket.on('error', () => undefined);
  let received = 0;
  const done = new Promise((resolve, reject) => {
    socket.on('data', (data) => {
      received += data.length;
      counts.slowBytes += data.length;
      socket.pause();
      setTimeout(() => socket.resume(), (data.length / (512 * 1024)) * 1000);
      if (received >= total) resolve();
    });
    socket.once('close', () => (received >= total ? resolve() : reject(new Error(`slow reader: closed after ${received} bytes`))));
  });
  const block = Buffer.alloc(64 * 1024, 's');
  for (let sent = 0; sent < total && !socket.destroyed; sent += block.length) {
    if (!socket.write(block)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  await done;
  socket.destroy();
}

function slowReaders(port, deadline, readers = 4) {
  return Promise.all(
    Array.from({ length: readers }, () =>
      repeatUntil(deadline, () =>
        slowReaderOnce(port).catch((error) => {
          counts.slowErrors++;
          h.log(error.message);
        }).then(() => h.delay(100)), // a failure cannot spin
      ),
    ),
  );
}

// ---- the run --------------------------------------------------------------------------------

function thirds(values) {
  const third = Math.floor(values.length / 3);
  return { middle: values.slice(third, 2 * third), last: values.slice(2 * third) };
}

async function main() {
  h.buildTools(['echo_load']);
  if (spawnSync('redis-benchmark', ['--version']).status !== 0) throw new Error('redis-benchmark is needed (apt-get install redis-tools)');
  // The churn and slow readers run in this process: keep it off the server's CPU.
  spawnSync('taskset', ['-pc', h.LOAD_CPU, String(process.pid)], { stdio: 'ignore' });

  const server = new h.Proc([process.execPath, path.join(__dirname, 'servers', 'soak-server.js'), '--backend', opt.backend], { cpu: h.SERVER_CPU, raiseFdLimit: true });
  await server.waitForLine(() => server.lines.filter((line) => line.startsWith('listening ')).length >= 2, 15_000, 'two "listening" lines');
  const [echoPort, redisPort] = server.lines.filter((line) => line.startsWith('listening ')).map((line) => line.split(':').pop());
  const pid = server.pid;
  // taskset execs the server, so its pid is the server's.
  await h.delay(2000);
  const baseline = { rss: h.rssBytes(pid), fds: h.fdCount(pid) };
  h.log(`soak: ${opt.backend} backend, pid ${pid}, echo :${echoPort}, redis :${redisPort}; baseline RSS ${h.fmtMiB(baseline.rss)} MiB, ${baseline.fds} fds; ${MINUTES} min`);

  const started = Date.now();
  const deadline = started + MINUTES * 60_000;
  const samples = [];
  let lastCpu = h.cpuSeconds(pid);
  let lastAt = Date.now();
  const sampler = setInterval(() => {
    const now = Date.now();
    const cpu = h.cpuSeconds(pid);
    const sample = {
      t: (now - started) / 1000,
      rss: h.rssBytes(pid),
      fds: h.fdCount(pid),
      cpu: ((cpu - lastCpu) * 100_000) / (now - lastAt),
      echo: counts.echoMsgs,
      redis: counts.redisRequests,
      churned: counts.churned.close + counts.churned.reset + counts.churned.halfClose,
      slowMiB: counts.slowBytes / 1048576,
    };
    [lastCpu, lastAt] = [cpu, now];
    samples.push(sample);
    h.log(`${sample.t.toFixed(0).padStart(5)} s  RSS ${h.fmtMiB(sample.rss).padStart(6)} MiB  fds ${String(sample.fds).padStart(5)}  CPU ${h.fmtNum(sample.cpu).padStart(5)}%  churned ${sample.churned}`);
  }, INTERVAL_MS);

  await Promise.all([echoLoad(echoPort, deadline), redisLoad(redisPort, deadline), churn(echoPort, deadline), slowReaders(echoPort, deadline)]);
  clearInterval(sampler);
  const loadSeconds = (Date.now() - started) / 1000;

  // After the load: the fds must come back down to the baseline, and the server must go quiet.
  const settleStarted = Date.now();
  while (h.fdCount(pid) > baseline.fds && Date.now() - settleStarted < 15_000) await h.delay(100);
  const after = { fds: h.fdCount(pid), settleMs: Date.now() - settleStarted, rss: h.rssBytes(pid) };
  after.idleCpu = await cpuPercent(pid, 2000);
  const stopNote = await h.stopServer(server, 'soak-server');

  const rss = thirds(samples.map((sample) => sample.rss));
  const middle = h.median(rss.middle);
  const last = h.median(rss.last);
  const rssFlat = last <= Math.max(middle * 1.1, middle + 16 * 1048576);
  const fdsBack = after.fds <= baseline.fds;
  const quiet = after.idleCpu < 2;
  const loadErrors = counts.echoErrors + counts.redisErrors + counts.churnErrors + counts.slowErrors;
  const verdict = rssFlat && fdsBack && quiet && loadErrors === 0 && !stopNote ? 'flat' : 'NOT flat';

  const churnedTotal = counts.churned.close + counts.churned.reset + counts.churned.halfClose;
  const every = Math.max(1, Math.round(samples.length / 20)); // about 20 rows in the table
  const rows = samples.filter((_, index) => index % every === 0 || index === samples.length - 1);
  const table = [
    '| t (s) | RSS (MiB) | open fds | server CPU | echo msgs | redis requests | churned conns | slow-reader MiB |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| base | ${h.fmtMiB(baseline.rss)} | ${baseline.fds} | — | | | | |`,
    ...rows.map((s) => `| ${s.t.toFixed(0)} | ${h.fmtMiB(s.rss)} | ${s.fds} | ${h.fmtNum(s.cpu)}% | ${h.fmtInt(s.echo)} | ${h.fmtInt(s.redis)} | ${h.fmtInt(s.churned)} | ${h.fmtNum(s.slowMiB)} |`),
    `| after | ${h.fmtMiB(after.rss)} | ${after.fds} | ${h.fmtNum(after.idleCpu, 2)}% | | | | |`,
  ].join('\n');
  const summary = [
    `**Verdict: ${verdict}.** RSS median ${h.fmtMiB(middle)} MiB in the middle third, ${h.fmtMiB(last)} MiB in the last (${h.fmtNum(((last - middle) / middle) * 100)}%; flat means within 10% or 16 MiB); ` +
      `max ${h.fmtMiB(Math.max(...samples.map((s) => s.rss)))} MiB. Open fds ${baseline.fds} before the load, ${after.fds} ${after.settleMs} ms after it stopped` +
      ` (peak ${Math.max(...samples.map((s) => s.fds))}). Server CPU once idle: ${h.fmtNum(after.idleCpu, 2)}%.`,
    `Load over ${h.fmtNum(loadSeconds / 60)} min: ${h.fmtInt(counts.echoMsgs)} echo messages, ${h.fmtInt(counts.redisRequests)} redis requests (16-deep pipelines), ` +
      `${h.fmtInt(churnedTotal)} churned connections (${h.fmtInt(counts.churned.close)} closed, ${h.fmtInt(counts.churned.reset)} reset, ${h.fmtInt(counts.churned.halfClose)} half-closed), ` +
      `${h.fmtNum(counts.slowBytes / 1048576, 0)} MiB to slow readers. Errors: echo ${counts.echoErrors}, redis ${counts.redisErrors}, churn ${counts.churnErrors}, slow readers ${counts.slowErrors}.` +
      (stopNote ? ` ${stopNote}.` : ' The server exited 0 on SIGTERM.'),
  ].join('\n\n');
  console.log(`\n${table}\n\n${summary}`);

  if (!opt['no-write']) {
    const command = ['npm', 'run', 'soak', '--', ...process.argv.slice(2)].join(' ');
    h.writeSection(
      'soak',
      `## Soak (${opt.backend} backend)\n\nMeasured ${h.today()} on ${h.machineNote()}; server (bench/servers/soak-server.js: echo and redis in one process) on CPU ${h.SERVER_CPU}, load on CPU ${h.LOAD_CPU}.\n\n` +
        `\`\`\`sh\n${command}\n\`\`\`\n\n${summary}\n\n${table}`,
      opt.results ? path.resolve(opt.results) : undefined,
    );
  }
  process.exit(verdict === 'flat' ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
