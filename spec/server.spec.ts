import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { firstValueFrom, map, mergeMap, Subject, take, tap } from 'rxjs';

import { AddressError, ListenError, parseAddress, serve } from '../lib';
import { BACKENDS, closed, connect, connections$, delay, eventually, openFds, pattern, readBytes, readToEnd, startServer } from './support/helpers';

const ROOT = path.join(__dirname, '..', '..');
// The benchmarks' reading of a process's CPU time (utime + stime from /proc/PID/stat), shared.
const { cpuSeconds } = require(path.join(ROOT, 'bench', 'support', 'harness')) as { cpuSeconds(pid: number): number };

function ipv6Available(): boolean {
  return Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.address === '::1'));
}

describe('addresses', () => {
  it('parses tcp, IPv6, unix and abstract addresses with options', () => {
    const tcp = parseAddress('tcp://0.0.0.0:5000?reuseport=true&backlog=1024');
    assert.deepEqual([tcp.scheme, tcp.host, tcp.port, tcp.options], ['tcp', '0.0.0.0', 5000, { reuseport: true, backlog: 1024 }]);
    const v6 = parseAddress('tcp://[::1]:0');
    assert.deepEqual([v6.host, v6.port], ['::1', 0]);
    assert.equal(parseAddress('unix:///tmp/x.sock').path, '/tmp/x.sock');
    assert.equal(parseAddress('unix://@name').path, '@name');
    // sun_path's 108 bytes on Linux: a path of 107 and its NUL, an abstract name of 107 after its NUL.
    assert.equal(parseAddress(`unix:///${'x'.repeat(106)}`).path.length, 107);
    assert.equal(parseAddress(`unix://@${'x'.repeat(107)}`).path.length, 108);
    assert.throws(() => parseAddress(`unix:///${'x'.repeat(107)}`), /too long/);
    assert.throws(() => parseAddress(`unix://@${'x'.repeat(108)}`), /too long/);
  });

  it('rejects what it cannot use, naming the problem', () => {
    const bad: [string, RegExp][] = [
      ['localhost:80', /scheme/],
      ['ftp://host:21', /unsupported scheme 'ftp'/],
      ['tcp://127.0.0.1', /host:port/],
      ['tcp://127.0.0.1:70000', /port out of range/],
      ['tcp://:80', /missing host|host:port/],
      ['tcp://127.0.0.1:80?backlog=-1', /backlog/],
      ['tcp://127.0.0.1:80?fast=yes', /unknown address option 'fast'/],
      ['unix://relative.sock', /absolute path/],
      [`unix:///${'x'.repeat(200)}`, /too long/],
    ];
    for (const [url, message] of bad) {
      assert.throws(() => parseAddress(url), (error: unknown) => error instanceof AddressError && message.test(error.message), url);
    }
  });
});

for (const backend of BACKENDS) {
  describe(`servers (${backend} backend)`, function () {
    this.timeout(30_000);

    it('reports the bound address (port 0 resolved) before the first connection', async () => {
      const source = connections$('tcp://127.0.0.1:0', { backend });
      const events: string[] = [];
      source.listening$.subscribe(([address]) => events.push(`listening ${address.port > 0}`));
      const accepted = firstValueFrom(source.pipe(take(1)));
      const [address] = await firstValueFrom(source.listening$);
      const socket = await connect(address.port);
      const conn = await accepted;
      events.push('connection');
      assert.deepEqual(events, ['listening true', 'connection']);
      assert.equal(conn.local.port, address.port);
      socket.destroy();
    });

    it('fails with a clear ListenError when the address is in use', async () => {
      const first = serve('tcp://127.0.0.1:0', (conn) => conn.input$, { backend });
      const [address] = await first.listening;
      try {
        const second = serve(`tcp://127.0.0.1:${address.port}`, (conn) => conn.input$, { backend });
        await assert.rejects(second.listening, (error: unknown) => {
          assert.ok(error instanceof ListenError);
          assert.equal(error.code, 'EADDRINUSE');
          assert.match(error.message, new RegExp(`tcp://127.0.0.1:${address.port}`));
          return true;
        });
      } finally {
        await first.close();
      }
    });

    it('throws an AddressError at once for an invalid address', () => {
      assert.throws(() => connections$('tcp://nowhere', { backend }), AddressError);
    });

    it('shares a port between servers with reuseport', async () => {
      const first = serve('tcp://127.0.0.1:0?reuseport=true', (conn) => conn.input$, { backend });
      const [address] = await first.listening;
      const second = serve(`tcp://127.0.0.1:${address.port}?reuseport=true`, (conn) => conn.input$, { backend });
      try {
        if (backend === 'node' && Number(process.versions.node.split('.')[0]) < 22) {
          // node:net learnt reusePort in Node 22.12; before it, the second bind must fail clearly.
          await assert.rejects(second.listening, ListenError);
          return;
        }
        await second.listening;
        const socket = await connect(address.port);
        const echoed = readBytes(socket, 4);
        socket.write('ping');
        assert.equal((await echoed).toString(), 'ping');
        socket.destroy();
      } finally {
        await first.close();
        await second.close();
      }
    });

    it('serves a unix socket path and removes it on close', async () => {
      const file = path.join(os.tmpdir(), `rxloop-${process.pid}-${backend}.sock`);
      const server = serve(`unix://${file}`, (conn) => conn.input$, { backend });
      const [address] = await server.listening;
      assert.equal(String(address), `unix://${file}`);
      const payload = pattern(4 * 1024 * 1024, 11);
      const socket = await connect(file);
      const echoed = readToEnd(socket);
      socket.end(payload);
      assert.ok((await echoed).equals(payload));
      await server.close();
      await eventually(() => !fs.existsSync(file), 2000, 'socket file removed');
    });

    it('serves an abstract unix socket', async () => {
      const name = `rxloop-${process.pid}-${backend}-${Date.now()}`;
      const server = serve(`unix://@${name}`, (conn) => conn.input$, { backend });
      const [address] = await server.listening;
      assert.equal(String(address), `unix://@${name}`);
      try {
        if (backend === 'native') {
          // The native loop binds the name at its exact length, as systemd, socat, Go and Python
          // do; node:net on Node 20 pads it to the whole sun_path and so cannot reach it.
          const client = spawn('python3', [
            '-c',
            'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(b"\\0"+sys.argv[1].encode()); s.sendall(b"abstract"); s.shutdown(socket.SHUT_WR); print(s.recv(100).decode())',
            name,
          ]);
          let out = '';
          client.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
          assert.equal(await new Promise((resolve) => client.once('exit', resolve)), 0);
          assert.equal(out.trim(), 'abstract');
        } else {
          const socket = await connect(`\0${name}`);
          const echoed = readToEnd(socket);
          socket.end('abstract');
          assert.equal((await echoed).toString(), 'abstract');
        }
      } finally {
        await server.close();
      }
    });

    it('serves IPv6 on [::1]', async function () {
      if (!ipv6Available()) this.skip();
      const server = serve('tcp://[::1]:0', (conn) => conn.input$, { backend });
      const [address] = await server.listening;
      assert.match(String(address), /^tcp:\/\/\[::1\]:\d+$/);
      const remotes: string[] = [];
      const observed = serve('tcp://[::1]:0', (conn) => (remotes.push(conn.remote.host), conn.input$), { backend });
      const [other] = await observed.listening;
      const socket = net.connect({ host: '::1', port: other.port });
      const echoed = readToEnd(socket);
      socket.end('six');
      assert.equal((await echoed).toString(), 'six');
      assert.deepEqual(remotes, ['::1']);
      await server.close();
      await observed.close();
    });

    it('counts connections, bytes and batches', async () => {
      const { server, port } = await startServer(backend, (conn) => conn.input$);
      try {
        const socket = await connect(port);
        const echoed = readToEnd(socket);
        socket.end('12345');
        await echoed;
        await eventually(() => server.stats()!.connections === 0);
        const stats = server.stats()!;
        assert.equal(stats.backend, backend);
        assert.equal(stats.accepted, 1);
        assert.equal(stats.bytesIn, 5);
        assert.equal(stats.bytesOut, 5);
        assert.ok(stats.writev >= 1);
        if (backend === 'native') assert.ok(stats.batches >= 1 && stats.reads >= 1);
      } finally {
        await server.close();
      }
    });

    it('leaves no fd behind and no CPU spent after 3,000 connections close, reset or half-close', async () => {
      const { server, port } = await startServer(backend, (conn) => conn.input$);
      try {
        const baseline = openFds();
        for (let batch = 0; batch < 30; batch++) {
          const sockets = await Promise.all(Array.from({ length: 100 }, () => connect(port)));
          await Promise.all(
            sockets.map(async (socket, i) => {
              const echoed = readBytes(socket, 2);
              socket.write('hi');
              await echoed;
              if (i % 3 === 0) socket.end(); // orderly
              else if (i % 3 === 1) socket.resetAndDestroy(); // reset
              else socket.end(); // half-close: our FIN first, the server finishes the close
              await closed(socket);
            }),
          );
        }
        await eventually(() => server.stats()!.connections === 0, 10_000, 'every connection closed');
        assert.equal(server.stats()!.accepted, 3000);
        await eventually(() => openFds() <= baseline, 5000, `fds back to ${baseline} (now ${openFds()})`);
        // Nothing left spinning: an idle second costs (almost) no CPU.
        await delay(200);
        const before = process.cpuUsage();
        await delay(1000);
        const used = process.cpuUsage(before);
        assert.ok(used.user + used.system < 20_000, `idle CPU ${(used.user + used.system) / 1000} ms in 1 s`);
      } finally {
        await server.close();
      }
    });

    it('writes to 5,000 connections in one turn (more than one native flush call takes), each its own bytes, then closes them', async function () {
      // node:net, client and server in one process, connects ~500 a second here: ~10 s of the node backend's run.
      this.timeout(60_000);
      const count = 5000;
      const go$ = new Subject<void>();
      let waiting = 0;
      // Each connection answers with its first chunk (the client's name) when go$ emits, then
      // ends: one emission writes to every connection in the same turn.
      const { server, port } = await startServer(backend, (conn) =>
        conn.input$.pipe(
          take(1),
          tap(() => waiting++),
          mergeMap((name) => go$.pipe(take(1), map(() => name))),
        ),
      );
      try {
        const answers: Promise<Buffer>[] = [];
        const batchSize = 500;
        for (let batch = 0; batch < count / batchSize; batch++) {
          const sockets = await Promise.all(Array.from({ length: batchSize }, () => connect(port)));
          sockets.forEach((socket, i) => {
            answers.push(readToEnd(socket));
            socket.write(`client ${batch * batchSize + i}`);
          });
        }
        await eventually(() => waiting === count, 20_000, `all ${count} names read (now ${waiting})`);
        go$.next();
        const received = await Promise.all(answers);
        received.forEach((answer, index) => assert.equal(answer.toString(), `client ${index}`));
        await eventually(() => server.stats()!.connections === 0, 10_000, 'every connection closed');
      } finally {
        await server.close();
      }
    });
  });
}

describe('a worker thread hosting its own loop', function () {
  this.timeout(20_000);

  it('serves from the worker and tears down cleanly when terminated', async () => {
    const worker = new Worker(
      `
      const { parentPort } = require('node:worker_threads');
      const { serve } = require(${JSON.stringify(path.join(ROOT, 'dist', 'lib'))});
      const server = serve('tcp://127.0.0.1:0', (conn) => conn.input$, { backend: 'native' });
      server.listening.then(([address]) => parentPort.postMessage(address.port));
      `,
      { eval: true },
    );
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const socket = await connect(port);
    const echoed = readBytes(socket, 6);
    socket.write('worker');
    assert.equal((await echoed).toString(), 'worker');
    const ended = readToEnd(socket);
    assert.equal(await worker.terminate(), 1);
    await ended; // the worker's loop closed the connection on its way out
    await assert.rejects(connect(port), /ECONNREFUSED/);
  });
});

describe('the command line', function () {
  this.timeout(20_000);

  for (const backend of BACKENDS) {
    it(`runs the echo example (${backend}), prints its address and exits 0 on SIGTERM`, async () => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'rxloop.js'), 'echo', '--port', '0', '--backend', backend], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const match = /^listening tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(line);
      assert.ok(match, line);
      const socket = await connect(Number(match[1]));
      const echoed = readBytes(socket, 3);
      socket.write('cli');
      assert.equal((await echoed).toString(), 'cli');
      const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await readToEnd(socket); // drained: the server sent FIN
      assert.equal(await exit, 0);
    });
  }

  it('runs the redis example as npm start does, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'rxloop.js'), 'redis', '--port', '0', '--host', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(Number(/^listening tcp:\/\/127\.0\.0\.1:(\d+)/.exec(chunk.toString())![1])));
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const socket = await connect(port);
    const pong = readBytes(socket, 7);
    socket.write('*1\r\n$4\r\nPING\r\n');
    assert.equal((await pong).toString(), '+PONG\r\n');
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await readToEnd(socket);
    assert.equal(await exit, 0);
  });

  it('refuses an unknown option with usage and exit code 2', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'rxloop.js'), 'echo', '--nope'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 2);
    assert.match(err, /usage: rxloop/);
  });
});

describe('fd exhaustion', function () {
  this.timeout(60_000);

  for (const backend of BACKENDS) {
    it(`keeps serving and accepts again once fds free up (${backend})`, async () => {
      // A child with RLIMIT_NOFILE at 64: the server runs out of fds long before the test does.
      const child = spawn(
        'sh',
        ['-c', `ulimit -n 64 && exec "${process.execPath}" "${path.join(ROOT, 'bin', 'rxloop.js')}" echo --port 0 --backend ${backend}`],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      try {
        const port = await new Promise<number>((resolve, reject) => {
          child.stdout.once('data', (chunk: Buffer) => resolve(Number(/:(\d+)/.exec(chunk.toString())![1])));
          child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
        });
        const sockets: net.Socket[] = [];
        for (let i = 0; i < 100; i++) sockets.push(await connect(port)); // the kernel completes the handshakes
        await delay(300);
        // The first connections were accepted: they are served while the server is out of fds.
        const first = sockets[0];
        const echoed = readBytes(first, 4);
        first.write('live');
        assert.equal((await echoed).toString(), 'live');

        const cpuBefore = cpuSeconds(child.pid!);
        await delay(1000);
        const cpuUsed = cpuSeconds(child.pid!) - cpuBefore;
        assert.ok(cpuUsed < 0.5, `the server spun: ${cpuUsed}s of CPU in 1s while out of fds`);

        // Free fds, then a connection beyond the limit is served. (node:net, unlike the native
        // loop, sheds what waits in the backlog while it is out of fds; the new connection comes
        // once the server has seen the closes.)
        for (const socket of sockets.slice(0, 60)) socket.destroy();
        await delay(500);
        const late = await connect(port);
        const lateEcho = readBytes(late, 4);
        late.write('late');
        assert.equal((await lateEcho).toString(), 'late');
        late.destroy();
        if (backend === 'native') {
          // The native loop left the connections it could not take in the backlog: now served.
          const waiting = sockets[99];
          const waited = readBytes(waiting, 7);
          waiting.write('waiting');
          assert.equal((await waited).toString(), 'waiting');
        }
        for (const socket of sockets) socket.destroy();
        assert.equal(child.exitCode, null, 'the server is still running');
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});
