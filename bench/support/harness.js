'use strict';
// Shared plumbing for the benchmarks in bench/: building the C tools, the servers under test,
// pinned processes (servers on CPU 0, load on CPU 1), /proc readings (CPU time, RSS, fds),
// redis-benchmark runs, medians and ratios, and bench/RESULTS.md sections. Lives in a
// subdirectory so that bench/run.js does not list it. (spec/server.spec.ts uses cpuSeconds too.)
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { parseArgs } = require('node:util');

const ROOT = path.resolve(__dirname, '..', '..');
const BENCH = path.join(ROOT, 'bench');
const BIN = path.join(BENCH, 'bin');
const RESULTS = path.join(BENCH, 'RESULTS.md');
const RXLOOP_CLI = path.join(ROOT, 'bin', 'rxloop.js');
const HOST = '127.0.0.1';
const SERVER_CPU = '0';
const LOAD_CPU = '1';

const log = (...args) => console.error(...args);
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves with `promise`'s value, or with null after ms; leaves no timer behind either way.
function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(resolve, ms, null); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
const tool = (name) => path.join(BIN, name);

// Compiles bench/c/NAME.c into bench/bin/NAME when the binary is missing or older than its source.
function buildTools(names) {
  for (const name of names) {
    const src = path.join(BENCH, 'c', `${name}.c`);
    const out = tool(name);
    if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs) continue;
    fs.mkdirSync(BIN, { recursive: true });
    const args = ['-O2', '-Wall', '-Wextra', '-o', out, src];
    log(`cc ${args.map((a) => path.relative(ROOT, a) || a).join(' ')}`);
    const r = spawnSync('cc', args, { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`cc failed for ${path.relative(ROOT, src)}`);
  }
}

// The servers compared. `argv(port)` is what runs; `shown` is how RESULTS.md prints it.
const SERVERS = [
  {
    name: 'rxloop native',
    needs: RXLOOP_CLI,
    argv: (port) => [process.execPath, RXLOOP_CLI, 'echo', '--port', port, '--host', HOST, '--backend', 'native'],
    shown: `node bin/rxloop.js echo --port P --host ${HOST} --backend native`,
  },
  {
    name: 'rxloop node',
    needs: RXLOOP_CLI,
    argv: (port) => [process.execPath, RXLOOP_CLI, 'echo', '--port', port, '--host', HOST, '--backend', 'node'],
    shown: `node bin/rxloop.js echo --port P --host ${HOST} --backend node`,
  },
  {
    name: 'node:net',
    argv: (port) => [process.execPath, path.join(BENCH, 'servers', 'net-echo.js'), '--port', port, '--host', HOST],
    shown: `node bench/servers/net-echo.js --port P --host ${HOST}`,
  },
  {
    name: 'C epoll',
    argv: (port) => [tool('echo_server'), port, HOST],
    shown: `bench/bin/echo_server P ${HOST}`,
  },
];

// "rxloop native" may also be written rxloop-native; "C epoll" as c-epoll or c.
const slug = (name) => name.toLowerCase().replace(/\s+/g, '-');
function selectServers(only) {
  if (!only) {
    return SERVERS.filter((s) => {
      if (!s.needs || fs.existsSync(s.needs)) return true;
      log(`note: skipping "${s.name}": ${path.relative(ROOT, s.needs)} does not exist yet`);
      return false;
    });
  }
  return only.split(',').map((want) => {
    const w = slug(want.trim());
    const s = SERVERS.find((x) => slug(x.name) === w || (w === 'c' && x.name === 'C epoll'));
    if (!s) throw new Error(`unknown server "${want}" (known: ${SERVERS.map((x) => slug(x.name)).join(', ')})`);
    if (s.needs && !fs.existsSync(s.needs)) throw new Error(`"${s.name}" needs ${path.relative(ROOT, s.needs)}`);
    return s;
  });
}

// A child process pinned to one CPU, with its stdout split into lines.
class Proc {
  constructor(argv, { cpu, stdin = 'ignore', raiseFdLimit = false }) {
    // `ulimit -n` raises the fd limit as far as allowed (65536 if we may, else the hard limit);
    // `exec` keeps the pid, so /proc/PID is the program itself.
    const wrapped = raiseFdLimit
      ? ['sh', '-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"', 'sh', ...argv]
      : argv;
    this.argv = argv;
    this.child = spawn('taskset', ['-c', cpu, ...wrapped], { cwd: ROOT, stdio: [stdin, 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    this.lines = [];
    this.stderr = '';
    this.waiters = new Set();
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      for (const w of this.waiters) w.check();
    });
    this.child.stderr.on('data', (d) => {
      if (this.stderr.length < 65536) this.stderr += d;
    });
    this.closed = new Promise((resolve) => {
      const done = (code, signal) => {
        if (this.status) return;
        this.status = { code, signal };
        for (const w of this.waiters) w.check();
        resolve(this.status);
      };
      this.child.on('error', (err) => {
        this.stderr += `${err.message}\n`;
        done(null, null);
      });
      this.child.on('close', done); // after exit and after stdout has been read to its end
    });
  }

  get name() {
    return path.basename(this.argv[this.argv[0] === process.execPath ? 1 : 0]);
  }

  // Resolves with the first stdout line that `test` accepts; rejects if the process ends first.
  waitForLine(test, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          const line = this.lines.find(test);
          if (line !== undefined) finish(null, line);
          else if (this.status) finish(new Error(`${this.name} ended (${describeExit(this.status)}) before ${what}\n${this.stderr}`));
        },
      };
      const timer = setTimeout(() => finish(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.stderr}`)), timeoutMs);
      const finish = (err, line) => {
        clearTimeout(timer);
        this.waiters.delete(w);
        if (err) reject(err);
        else resolve(line);
      };
      this.waiters.add(w);
      w.check();
    });
  }

  // The last stdout line that parses as a JSON object, or null.
  lastJson() {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      if (!this.lines[i].startsWith('{')) continue;
      try {
        return JSON.parse(this.lines[i]);
      } catch {
        // not JSON after all
      }
    }
    return null;
  }

  // Waits for the process to end by itself, killing it after timeoutMs.
  async wait(timeoutMs) {
    const status = await within(this.closed, timeoutMs);
    if (status) return status;
    log(`warning: ${this.name} still running after ${timeoutMs} ms: killing it`);
    this.child.kill('SIGKILL');
    return { ...(await this.closed), forced: true };
  }

  // `signal` (SIGTERM unless said), then SIGKILL if it has not exited within timeoutMs.
  async stop(timeoutMs = 5000, signal = 'SIGTERM') {
    if (!this.status) this.child.kill(signal);
    const status = await within(this.closed, timeoutMs);
    if (status) return status;
    this.child.kill('SIGKILL');
    return { ...(await this.closed), forced: true };
  }
}

const describeExit = (s) => (s.forced ? 'killed after a timeout' : s.signal ? `signal ${s.signal}` : `exit ${s.code}`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Starts a server on CPU 0 on a free port and waits for its `listening tcp://HOST:PORT` line.
async function startServer(server) {
  const port = await freePort();
  const proc = new Proc(server.argv(String(port)), { cpu: SERVER_CPU, raiseFdLimit: true });
  const line = await proc.waitForLine((l) => /^listening tcp:\/\//.test(l), 15000, 'its "listening" line')
    .catch(async (err) => {
      await proc.stop();
      throw err;
    });
  const m = /^listening tcp:\/\/(.+):(\d+)$/.exec(line);
  if (!m || Number(m[2]) !== port) {
    await proc.stop();
    throw new Error(`${server.name}: unexpected "${line}" (asked for port ${port})`);
  }
  proc.port = port;
  return proc;
}

// Stops a server with SIGTERM (or the signal that asks it to drain and exit, such as haproxy's
// SIGUSR1); returns a note if it did not exit 0 (DESIGN: drain, then exit 0).
async function stopServer(proc, serverName, signal = 'SIGTERM') {
  const status = await proc.stop(5000, signal);
  return status.code === 0 ? null : `${serverName} did not exit 0 on ${signal} (${describeExit(status)})`;
}

// Resolves once a PING on a fresh connection to `port` gets +PONG: readiness that every Redis
// server (and every proxy in front of one) shows alike.
function answersPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    let reply = '';
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      reply += data;
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply === '+PONG\r\n');
      }
    });
    socket.on('error', () => resolve(false));
  });
}

// Starts `argv(port)` on a free port, pinned to `cpu`, and waits until a PING there is answered.
async function startPinged(name, argv, { cpu = SERVER_CPU } = {}) {
  const port = await freePort();
  const proc = new Proc(argv(String(port)), { cpu, raiseFdLimit: true });
  for (let waited = 0; !(await answersPing(port)); waited += 50) {
    if (proc.status || waited > 15000) {
      await proc.stop();
      throw new Error(`${name} did not answer PING (${proc.stderr.trim().split('\n').slice(0, 3).join('; ')})`);
    }
    await delay(50);
  }
  proc.port = port;
  return proc;
}

// Runs redis-benchmark on CPU 1 to completion; returns its CSV rows as objects, keyed by test name.
async function redisBenchmark(port, args, timeoutMs) {
  const proc = new Proc(['redis-benchmark', '-h', HOST, '-p', String(port), ...args.map(String), '--csv'], { cpu: LOAD_CPU });
  const status = await proc.wait(timeoutMs);
  const rows = new Map();
  let header = null;
  for (const line of proc.lines) {
    const cells = line.split(',').map((cell) => cell.replace(/^"|"$/g, ''));
    if (cells[0] === 'test') header = cells;
    else if (header && cells.length === header.length) rows.set(cells[0], Object.fromEntries(header.map((key, i) => [key, cells[i]])));
  }
  const stderr = proc.stderr.trim();
  const failed = status.code !== 0 || rows.size === 0 || /error/i.test(stderr);
  return { rows, failed, error: failed ? (stderr || describeExit(status)).split('\n').slice(0, 3).join('; ') : null };
}

// One redis-benchmark test (args name it with -t and its count with -n) against `port`, with the
// CPU time (utime+stime) each process in `pids` spent meanwhile: rps, p50 and, per pid, CPU µs
// per request and percent of a core.
async function measureRedisBenchmark(port, args, pids, timeoutMs = 300000) {
  const arg = (flag) => String(args[args.indexOf(flag) + 1]);
  const requests = Number(arg('-n'));
  const before = pids.map((pid) => cpuSeconds(pid));
  const started = process.hrtime.bigint();
  const run = await redisBenchmark(port, args, timeoutMs);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = pids.map((pid, i) => cpuSeconds(pid) - before[i]);
  const row = run.rows.get(arg('-t').toUpperCase());
  const failed = run.failed || !row;
  return {
    failed,
    error: failed ? run.error ?? 'no result' : null,
    rps: row ? Number(row.rps) : NaN,
    p50: row ? Number(row.p50_latency_ms) : NaN,
    cpuPerRequest: cpu.map((c) => (c / requests) * 1e6),
    cpuPercent: cpu.map((c) => (c / seconds) * 100),
  };
}

// Runs a C tool from bench/bin on CPU 1 to completion; returns its last JSON line and status.
async function runTool(name, args, timeoutMs) {
  const proc = new Proc([tool(name), ...args.map(String)], { cpu: LOAD_CPU });
  const status = await proc.wait(timeoutMs);
  return { status, json: proc.lastJson(), stderr: proc.stderr.trim() };
}

function procStatusBytes(pid, field) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
const rssBytes = (pid) => procStatusBytes(pid, 'VmRSS');

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

// utime + stime of the whole process (every thread), or of its thread `tid`, in seconds: fields
// 14 and 15 of proc(5), counted after the command name, which may itself hold spaces and parentheses.
function cpuSeconds(pid, tid) {
  const stat = fs.readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const fdCount = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

// Picks from `list` the entries named in `only` ("a,b"; names compared as slugs, "rxloop native"
// = rxloop-native), all of them without it; an entry's `needs` file must exist.
function selectByName(list, only, what = 'server') {
  const chosen = only ? only.split(',').map((want) => {
    const found = list.find((x) => slug(x.name) === slug(want.trim()));
    if (!found) throw new Error(`unknown ${what} "${want}" (known: ${list.map((x) => slug(x.name)).join(', ')})`);
    return found;
  }) : list;
  for (const x of chosen) {
    if (x.needs && !fs.existsSync(x.needs)) throw new Error(`"${x.name}" needs ${path.relative(ROOT, x.needs)}`);
  }
  return chosen;
}

// Medians over the runs that did not fail, of each of `keys`; the runs are kept.
function summarise(runs, keys) {
  const ok = runs.filter((r) => !r.failed);
  const summary = { runs, ok: ok.length };
  for (const key of keys) summary[key] = median(ok.map((r) => r[key]));
  return summary;
}

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function machineNote() {
  const cpus = os.cpus();
  const model = cpus.length ? cpus[0].model.trim() : 'unknown CPU';
  return `${cpus.length} vCPU (${model}), Linux ${os.release()}, Node ${process.version}`;
}

// How this run was invoked, as a command to paste.
function commandLine(bench) {
  const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['npm', 'run', 'bench', '--', bench, ...process.argv.slice(2)].map(quote).join(' ');
}

// Replaces the text between <!-- NAME:begin --> and <!-- NAME:end --> in bench/RESULTS.md
// (appending the section, or creating the file, if absent), leaving other sections alone.
function writeSection(name, body, file = RESULTS) {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${body.trim()}\n${end}`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# rxloop benchmark results\n';
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file); // readers never see half a file
  log(`wrote the ${name} section of ${path.relative(process.cwd(), file)}`);
}

// A benchmark's command line: its own `options` (parseArgs form) plus the ones every benchmark
// takes, --no-write, --results FILE (another file than bench/RESULTS.md) and --help, which prints
// the comment block at the top of `file` and exits.
function benchOptions(file, options) {
  const { values } = parseArgs({
    options: {
      ...options,
      'no-write': { type: 'boolean', default: false },
      results: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(usage(file));
    process.exit(0);
  }
  return values;
}

// The comment block at the top of a script, for --help.
function usage(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith('//'));
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('//'));
  return lines.slice(start, end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n');
}

const today = () => new Date().toISOString().slice(0, 10);
const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fmtK = (n) => (Number.isFinite(n) ? `${(n / 1000).toFixed(1)}k` : '—');
const fmtNum = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const fmtMiB = (bytes) => (Number.isFinite(bytes) ? (bytes / 1048576).toFixed(1) : '—');

module.exports = {
  ROOT, RESULTS, HOST, LOAD_CPU, SERVER_CPU, SERVERS, Proc,
  buildTools, selectServers, selectByName, startServer, startPinged, stopServer, runTool, redisBenchmark,
  measureRedisBenchmark, tool, describeExit, freePort, rssBytes, fdCount, cpuSeconds, summarise, median, usage, benchOptions, machineNote, commandLine, writeSection, today, delay, log,
  fmtInt, fmtK, fmtNum, fmtMiB,
};
