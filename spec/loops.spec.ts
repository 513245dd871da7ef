import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as path from 'node:path';
import { MessageChannel, threadId } from 'node:worker_threads';

import { firstValueFrom } from 'rxjs';

import { type Balance, type LoopError, type Server, currentLoop, serve, serveDatagrams } from '../lib';
import { assertEchoes, eventually, pattern, readBytes, readToEnd } from './support/helpers';

const HANDLERS = path.join(__dirname, 'support', 'loop-handlers.js');
const CONNECTIONS = 100;

function connectFrom(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Connects, reads the serving thread's id (the whoami handler), checks an echo, and stays open. */
async function whoServes(port: number, localAddress?: string): Promise<{ socket: net.Socket; thread: number }> {
  const socket = await connectFrom(port, localAddress);
  const line = (await readBytes(socket, 2)).toString();
  const thread = Number(line.split('\n')[0]);
  socket.write('ping');
  const echoed = line.slice(line.indexOf('\n') + 1) + (await readBytes(socket, 4 - (line.length - line.indexOf('\n') - 1))).toString();
  assert.equal(echoed, 'ping');
  return { socket, thread };
}

describe('several loops (native backend)', function () {
  this.timeout(60_000);
  let server: Server | null = null;

  afterEach(async () => {
    await server?.close();
    server = null;
  });

  for (const balance of ['round-robin', 'least-connections', 'random', 'source-hash', 'reuseport'] as Balance[]) {
    it(`spreads connections over both loops with ${balance}`, async () => {
      server = serve('tcp://127.0.0.1:0', { path: HANDLERS, export: 'whoami' }, { loops: 2, balance });
      const [bound] = await server.listening;
      // Every peer from its own loopback address, so that source-hash has sources to spread.
      const served = [];
      for (let i = 0; i < CONNECTIONS; i++) served.push(await whoServes(bound.port, `127.0.0.${i + 1}`));
      const byThread = new Map<number, number>();
      for (const { thread } of served) byThread.set(thread, (byThread.get(thread) ?? 0) + 1);
      const stats = server.stats()!;
      assert.equal(stats.loops!.length, 2);
      for (const loop of stats.loops!) {
        assert.notEqual(loop.threadId, threadId, 'a loop runs in its own thread');
        assert.equal(loop.accepted, byThread.get(loop.threadId) ?? 0, 'the per-loop stats agree with who answered');
        assert.ok(loop.accepted >= CONNECTIONS * 0.25, `loop ${loop.threadId} took ${loop.accepted} of ${CONNECTIONS}`);
      }
      assert.equal(stats.accepted, CONNECTIONS);
      await Promise.all(served.map(({ socket }) => (socket.end(), readToEnd(socket))));
      await eventually(() => server!.stats()!.connections === 0, 5000, 'every connection to close');
    });
  }

  it('source-hash keeps a peer on one loop', async () => {
    server = serve('tcp://127.0.0.1:0', { path: HANDLERS, export: 'whoami' }, { loops: 2, balance: 'source-hash' });
    const [bound] = await server.listening;
    for (const peer of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) {
      const served = await Promise.all(Array.from({ length: 5 }, () => whoServes(bound.port, peer)));
      assert.equal(new Set(served.map((s) => s.thread)).size, 1, `${peer} went to more than one loop`);
      for (const { socket } of served) socket.destroy();
    }
  });

  it('least-connections sends new connections to the loop with fewer open', async () => {
    server = serve('tcp://127.0.0.1:0', { path: HANDLERS, export: 'whoami' }, { loops: 2, balance: 'least-connections' });
    const [bound] = await server.listening;
    const first = [];
    for (let i = 0; i < 6; i++) first.push(await whoServes(bound.port));
    const emptied = first[0].thread;
    for (const { socket, thread } of first) if (thread === emptied) socket.destroy();
    await eventually(() => server!.stats()!.loops!.find((l) => l.threadId === emptied)!.connections === 0, 5000, 'the closes');
    const next = [];
    for (let i = 0; i < 3; i++) next.push(await whoServes(bound.port));
    assert.deepEqual(next.map((s) => s.thread), [emptied, emptied, emptied]);
    for (const { socket } of [...first, ...next]) socket.destroy();
  });

  it('carries 4 MB byte-exact per connection over a unix socket, handed to the loops', async () => {
    const socketPath = path.join(require('node:os').tmpdir(), `rxloop-loops-${process.pid}.sock`);
    server = serve(`unix://${socketPath}`, HANDLERS, { loops: 2 });
    await server.listening;
    const payload = pattern(4 * 1024 * 1024, 9);
    await Promise.all(
      [1, 2].map(async () => {
        const socket = net.connect({ path: socketPath });
        const received = readToEnd(socket);
        socket.end(payload);
        assert.ok((await received).equals(payload));
      }),
    );
    assert.deepEqual(server.stats()!.loops!.map((l) => l.accepted), [1, 1]);
  });

  it('reports a loop whose worker dies, and the other loop serves on', async () => {
    server = serve('tcp://127.0.0.1:0', { path: HANDLERS, export: 'dieOnRequest' }, { loops: 2 });
    const failure = firstValueFrom(server.errors$);
    const [bound] = await server.listening;
    const victim = await connectFrom(bound.port);
    victim.write('die');
    const error: LoopError = await failure;
    assert.equal(error.code, 'ERR_RXLOOP_LOOP');
    assert.match(error.message, /exited \(code 3\)/);
    await eventually(() => server!.stats()!.loops!.some((l) => !l.alive), 5000, 'the loop to be marked dead');
    for (let i = 0; i < 10; i++) {
      const socket = await connectFrom(bound.port);
      await assertEchoes(socket, 'still serving');
      socket.destroy();
    }
  });

  it('gives each loop its loopData, transfers what it lists, and currentLoop() is null elsewhere', async () => {
    assert.equal(currentLoop(), null);
    const channels = [new MessageChannel(), new MessageChannel()];
    channels.forEach(({ port1 }, index) => port1.on('message', (question: string) => port1.postMessage(`${question} answered for loop ${index}`)));
    server = serve('tcp://127.0.0.1:0', { path: HANDLERS, export: 'askHome' }, {
      loops: 2,
      loopData: (index) => ({ data: { port: channels[index].port2, question: `ping ${index}` }, transfer: [channels[index].port2] }),
    });
    const [bound] = await server.listening;
    const answers = new Set<string>();
    for (let i = 0; i < 2; i++) answers.add((await readToEnd(await connectFrom(bound.port))).toString());
    assert.deepEqual([...answers].sort(), ['loop 0 of 2: ping 0 answered for loop 0', 'loop 1 of 2: ping 1 answered for loop 1']);
    for (const { port1 } of channels) port1.close();
  });

  it('close() stops accepting, drains every loop and ends their threads', async () => {
    server = serve('tcp://127.0.0.1:0', HANDLERS, { loops: 2 });
    const [bound] = await server.listening;
    const clients = await Promise.all([connectFrom(bound.port), connectFrom(bound.port)]);
    const ends = clients.map((socket) => readToEnd(socket));
    clients[0].write('before close');
    await readBytes(clients[0], 12);
    const closing = server.close();
    server = null;
    // Each loop closes gracefully: FIN first; the close completes when the peer answers with its own.
    await Promise.all(ends.map((end, i) => end.then(() => clients[i].end())));
    await closing;
    await assert.rejects(connectFrom(bound.port), /ECONNREFUSED/);
  });

  it('refuses what cannot work, with clear errors', async () => {
    assert.throws(() => serve('tcp://127.0.0.1:0', (conn) => conn.input$, { loops: 2 }), { code: 'ERR_RXLOOP_LOOPS', message: /module/ });
    assert.throws(() => serve('tcp://127.0.0.1:0', HANDLERS, { loops: 0 }), { code: 'ERR_RXLOOP_LOOPS' });
    assert.throws(() => serve('tcp://127.0.0.1:0', HANDLERS, { loops: 2, balance: 'fastest' as Balance }), { code: 'ERR_RXLOOP_LOOPS' });
    assert.throws(() => serve('tcp://127.0.0.1:0', HANDLERS, { loops: 2, backend: 'node' }), { code: 'ERR_RXLOOP_LOOPS', message: /native/ });
    assert.throws(() => serve('unix:///tmp/rxloop-never-bound.sock', HANDLERS, { loops: 2, balance: 'reuseport' }), { code: 'ERR_RXLOOP_LOOPS', message: /unix socket/ });
    const missing = serve('tcp://127.0.0.1:0', path.join(__dirname, 'no-such-handler.js'), { loops: 2 });
    await assert.rejects(missing.listening, { code: 'ERR_RXLOOP_LOOP', message: /no-such-handler/ });
    await missing.close();
    const noExport = serve('tcp://127.0.0.1:0', { path: HANDLERS, export: 'nothing' }, { loops: 2 });
    await assert.rejects(noExport.listening, { code: 'ERR_RXLOOP_LOOP', message: /export 'nothing'/ });
    await noExport.close();
  });
});

describe('several loops for datagrams (native backend)', function () {
  this.timeout(60_000);

  it('each loop reads its own reuseport socket, and the kernel spreads the peers', async () => {
    const server = serveDatagrams('udp://127.0.0.1:0', { path: HANDLERS, export: 'datagramWhoami' }, { loops: 2 });
    try {
      const [bound] = await server.listening;
      assert.equal(bound.scheme, 'udp');
      const answeredBy = new Map<number, number>();
      // Forty peers, each its own source port: the reuseport hash puts each on one socket.
      await Promise.all(
        Array.from({ length: 40 }, async () => {
          const peer = dgram.createSocket('udp4');
          await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
          const replies: number[] = [];
          peer.on('message', (message) => replies.push(Number(message.toString())));
          for (let i = 0; i < 5; i++) peer.send('who', bound.port, '127.0.0.1');
          await eventually(() => replies.length === 5, 5000, 'five replies');
          assert.equal(new Set(replies).size, 1, 'one peer, one loop');
          answeredBy.set(replies[0], (answeredBy.get(replies[0]) ?? 0) + 5);
          peer.close();
        }),
      );
      const stats = server.stats()!;
      assert.equal(stats.received, 200);
      assert.equal(stats.sent, 200);
      for (const loop of stats.loops!) {
        assert.equal(loop.received, answeredBy.get(loop.threadId) ?? 0);
        assert.ok(loop.received > 0, `loop ${loop.threadId} read nothing`);
      }
    } finally {
      await server.close();
    }
  });
});

describe('the command line with several loops', function () {
  this.timeout(30_000);

  it('echo --loops 2 --balance least-connections --udp-port 0 serves TCP and UDP, prints stats on SIGUSR2, exits 0', async () => {
    const cli = path.join(__dirname, '..', '..', 'bin', 'rxloop.js');
    const child = spawn(process.execPath, [cli, 'echo', '--port', '0', '--udp-port', '0', '--loops', '2', '--balance', 'least-connections'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
    });
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await eventually(() => lines.length >= 2, 10_000, 'two listening lines');
    const tcp = /^listening tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(lines[0]);
    const udp = /^listening udp:\/\/127\.0\.0\.1:(\d+)$/.exec(lines[1]);
    assert.ok(tcp && udp, lines.join(' | '));

    const sockets = await Promise.all([1, 2, 3, 4].map(() => connectFrom(Number(tcp[1]))));
    for (const socket of sockets) socket.write('tcp echo');
    for (const socket of sockets) assert.equal((await readBytes(socket, 8)).toString(), 'tcp echo');
    const peer = dgram.createSocket('udp4');
    const echoed = new Promise<string>((resolve) => peer.once('message', (message) => resolve(message.toString())));
    peer.send('udp echo', Number(udp[1]), '127.0.0.1');
    assert.equal(await echoed, 'udp echo');
    peer.close();

    child.kill('SIGUSR2');
    await eventually(() => lines.some((line) => line.startsWith('{"stats"')), 5000, 'the stats line');
    const [streams, datagrams] = JSON.parse(lines.find((line) => line.startsWith('{"stats"'))!).stats;
    assert.deepEqual(streams.loops.map((l: { accepted: number }) => l.accepted), [2, 2]);
    assert.equal(datagrams.received, 1);

    const ends = sockets.map((socket) => readToEnd(socket));
    child.kill('SIGTERM');
    await Promise.all(ends); // every loop drained: FIN on every connection
    for (const socket of sockets) socket.end();
    assert.equal(await exit, 0);
  });
});
