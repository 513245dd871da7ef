import { strict as assert } from 'node:assert';

import { EMPTY, NEVER, Observable, concat, defer, delay as delayBy, firstValueFrom, map, of, toArray } from 'rxjs';

import type { CloseReason, Connection } from '../lib';
import {
  BACKENDS,
  assertEchoes,
  closed,
  connect,
  connections$,
  delay,
  echoThrough,
  eventually,
  pattern,
  readBytes,
  readToEnd,
  seededRandom,
  startServer,
} from './support/helpers';

for (const backend of BACKENDS) {
  describe(`Connection (${backend} backend)`, function () {
    this.timeout(60_000);

    it('echoes byte-exact whatever the chunking', async () => {
      const { server, port } = await startServer(backend, (conn) => conn.input$);
      try {
        const random = seededRandom(7);
        for (let round = 0; round < 5; round++) {
          const payload = pattern(256 * 1024 + round * 977, round + 1);
          const socket = await connect(port);
          const received = readToEnd(socket);
          for (let offset = 0; offset < payload.length; ) {
            const size = 1 + Math.floor(random() * (random() < 0.3 ? 16 : 20_000));
            socket.write(payload.subarray(offset, offset + size));
            offset += size;
            if (random() < 0.1) await new Promise((resolve) => setImmediate(resolve));
          }
          socket.end();
          assert.ok((await received).equals(payload), `round ${round}: echo differs`);
        }
      } finally {
        await server.close();
      }
    });

    it('serves 1,000 concurrent connections', async () => {
      const seen = new Set<number>();
      const { server, port } = await startServer(backend, (conn) => {
        seen.add(conn.id);
        return conn.input$;
      });
      try {
        const sockets = await Promise.all(Array.from({ length: 1000 }, () => connect(port)));
        const results = sockets.map((socket, i) => {
          const message = Buffer.from(`connection ${i} says ${'x'.repeat(i % 50)}\n`);
          const echoed = readBytes(socket, message.length);
          socket.write(message);
          return echoed.then((bytes) => assert.ok(bytes.equals(message), `connection ${i}`));
        });
        await Promise.all(results);
        assert.equal(seen.size, 1000, 'every connection has its own id');
        assert.equal(server.stats()?.connections, 1000);
        await Promise.all(sockets.map((socket) => (socket.end(), closed(socket))));
        await eventually(() => server.stats()?.connections === 0, 5000, 'all connections closed');
      } finally {
        await server.close();
      }
    });

    it('carries 64 MB to a slow reader without loss or duplication', async () => {
      const total = 64 * 1024 * 1024;
      const { server, port } = await startServer(backend, (conn) => conn.input$);
      try {
        const socket = await connect(port);
        await echoThrough(socket, total, true);
        socket.end();
        await closed(socket);
      } finally {
        await server.close();
      }
    });

    it('keeps order across writes made in one turn, in microtasks, immediates and timers', async () => {
      const { server, port } = await startServer(backend, (conn) =>
        new Observable<string>((subscriber) => {
          for (let i = 0; i < 1000; i++) conn.write(`${i},`);
          Promise.resolve().then(() => conn.write('microtask,'));
          setImmediate(() => conn.write('immediate,'));
          setTimeout(() => {
            subscriber.next('timer');
            subscriber.complete();
          }, 20);
        }),
      );
      try {
        const socket = await connect(port);
        const text = (await readToEnd(socket)).toString();
        const expected = `${Array.from({ length: 1000 }, (_, i) => `${i},`).join('')}microtask,immediate,timer`;
        assert.equal(text, expected);
      } finally {
        await server.close();
      }
    });

    it('gathers one turn of writes into few vectored writes', async () => {
      const { server, port } = await startServer(backend, (conn) =>
        defer(() => {
          for (let i = 0; i < 500; i++) conn.write(Buffer.from([i & 0xff]));
          return EMPTY;
        }),
      );
      try {
        const before = server.stats()!.writev;
        const socket = await connect(port);
        const bytes = await readToEnd(socket);
        assert.equal(bytes.length, 500);
        const writes = server.stats()!.writev - before;
        assert.ok(writes <= 2, `500 writes in one turn took ${writes} writev calls`);
      } finally {
        await server.close();
      }
    });

    it('sends tens of thousands of small writes from one turn, from many connections, in order', async () => {
      // Sizes around the native backend's copy threshold (1 KiB), and more chunks in one turn than
      // one flush describes (16,384): from one connection, and only from several together.
      const random = seededRandom(11);
      const parts = Array.from({ length: 40_000 }, (_, i) =>
        pattern(1 + Math.floor(random() * (random() < 0.9 ? 64 : 1500)), i + 1),
      );
      const counts = [40_000, 9_000, 9_000, 9_000, 3_000, 3_000];
      const { server, port } = await startServer(backend, (conn) =>
        conn.input$.pipe(
          map((request) => {
            // the request itself goes back first: input forwarded as it was read
            conn.write(request);
            const count = counts[Number(request.toString().split(' ')[1])];
            for (let i = 0; i < count; i++) conn.write(parts[i]);
            return Buffer.from('.');
          }),
        ),
      );
      try {
        const sockets = await Promise.all(counts.map(() => connect(port)));
        const replies = sockets.map((socket, i) => {
          const request = Buffer.from(`client ${i}`);
          const expected = Buffer.concat([request, ...parts.slice(0, counts[i]), Buffer.from('.')]);
          const reply = readBytes(socket, expected.length);
          socket.write(request);
          return reply.then((bytes) => assert.ok(bytes.equals(expected), `client ${i}`));
        });
        await Promise.all(replies);
        sockets.forEach((socket) => socket.destroy());
      } finally {
        await server.close();
      }
    });

    it('answers every request of a peer that has already shut its write side', async () => {
      const { server, port } = await startServer(backend, (conn) =>
        conn.input$.pipe(
          toArray(),
          delayBy(50), // reply well after the peer's FIN has arrived
          map((chunks) => Buffer.concat(chunks).toString().toUpperCase()),
        ),
      );
      try {
        const socket = await connect(port);
        const reply = readToEnd(socket);
        socket.end('half-closed request');
        assert.equal((await reply).toString(), 'HALF-CLOSED REQUEST');
      } finally {
        await server.close();
      }
    });

    it('reports a peer reset on closed$ and keeps serving others', async () => {
      const reasons: CloseReason[] = [];
      const { server, port } = await startServer(backend, (conn) => {
        conn.closed$.subscribe((reason) => reasons.push(reason));
        return conn.input$;
      });
      try {
        const victim = await connect(port);
        victim.write('hello');
        await readBytes(victim, 5);
        victim.resetAndDestroy();
        await eventually(() => reasons.length === 1, 5000, 'closed$ after reset');
        assert.equal(reasons[0].reason, 'error');
        assert.equal((reasons[0].error as NodeJS.ErrnoException).code, 'ECONNRESET');

        const other = await connect(port);
        await assertEchoes(other);
        other.destroy();
      } finally {
        await server.close();
      }
    });

    it('keeps a pause() through close(): a closing connection reads its peer only once resumed', async () => {
      const got: string[] = [];
      let server: Connection | null = null;
      const source = connections$('tcp://127.0.0.1:0', { backend, closeTimeout: 100 });
      const subscription = source.subscribe((conn) => {
        server = conn;
        conn.input$.subscribe((chunk) => got.push(chunk.toString()));
        conn.pause();
        conn.close();
      });
      try {
        const [bound] = await firstValueFrom(source.listening$);
        const client = await connect(bound.port);
        const ended = readToEnd(client); // our FIN comes at once: nothing is queued
        client.end('while paused');
        await ended;
        await delay(300); // three close timeouts: a pause is no stall of the peer's
        assert.deepEqual(got, [], 'nothing was read while paused');
        assert.equal(server!.isClosed, false);
        const reason = firstValueFrom(server!.closed$);
        server!.resume();
        assert.deepEqual(await reason, { reason: 'end' });
        assert.deepEqual(got, ['while paused']);
      } finally {
        subscription.unsubscribe();
      }
    });

    it('never reuses an id, though fds are reused at once', async () => {
      const ids: number[] = [];
      const { server, port } = await startServer(backend, (conn) => {
        ids.push(conn.id);
        return conn.input$;
      });
      try {
        for (let i = 0; i < 200; i++) {
          const socket = await connect(port);
          socket.end('x');
          await readToEnd(socket);
        }
        assert.equal(ids.length, 200);
        assert.equal(new Set(ids).size, 200);
        assert.ok(ids.every((id) => Number.isSafeInteger(id) && id > 0));
      } finally {
        await server.close();
      }
    });

    it('stops reading while paused and resumes where it left off', async () => {
      let conn!: Connection;
      const got: string[] = [];
      const { server, port } = await startServer(backend, (c) => {
        conn = c;
        c.pause();
        c.input$.subscribe((chunk) => got.push(chunk.toString()));
        return NEVER;
      });
      try {
        const socket = await connect(port);
        socket.write('while paused');
        await delay(150);
        assert.deepEqual(got, [], 'nothing is read while paused');
        conn.resume();
        await eventually(() => got.join('') === 'while paused', 2000, 'input after resume');
        socket.destroy();
      } finally {
        await server.close();
      }
    });

    it('keeps input that arrives before anyone subscribes', async () => {
      const { server, port } = await startServer(backend, (conn) =>
        concat(of('greeting:'), defer(() => new Promise((resolve) => setTimeout(resolve, 100))).pipe(map(() => '')), conn.input$),
      );
      try {
        const socket = await connect(port);
        const reply = readToEnd(socket);
        socket.end('early bytes');
        assert.equal((await reply).toString(), 'greeting:early bytes');
      } finally {
        await server.close();
      }
    });

    it('bounds queued output when the peer never reads', async () => {
      const highWaterMark = 64 * 1024;
      let conn!: Connection;
      let peak = 0;
      const { server, port } = await startServer(
        backend,
        (c) => {
          conn = c;
          return c.input$.pipe(
            map((chunk) => {
              peak = Math.max(peak, c.writableLength + chunk.length);
              return chunk;
            }),
          );
        },
        { highWaterMark, lowWaterMark: 16 * 1024 },
      );
      try {
        const socket = await connect(port);
        socket.pause(); // never reads: the echo has nowhere to go
        const block = Buffer.alloc(1024 * 1024, 7);
        for (let i = 0; i < 32; i++) socket.write(block);
        await delay(1000);
        const inAfterOneSecond = server.stats()!.bytesIn;
        await delay(500);
        assert.equal(server.stats()!.bytesIn, inAfterOneSecond, 'reading has stopped');
        assert.ok(inAfterOneSecond < 24 * 1024 * 1024, `read ${inAfterOneSecond} bytes from a peer that never reads`);
        assert.ok(peak <= highWaterMark + 256 * 1024, `output queue peaked at ${peak}`);
        assert.ok(conn.writableLength <= highWaterMark + 256 * 1024);
        socket.destroy();
      } finally {
        await server.close();
      }
    });

    it('resumes after backpressure even with a high-water mark below the socket buffers', async () => {
      const { server, port } = await startServer(backend, (conn) => conn.input$, { highWaterMark: 4096, lowWaterMark: 1024 });
      try {
        const socket = await connect(port);
        socket.pause(); // fill every buffer on the way back first, in 8 KiB echoes
        const payload = pattern(8 * 1024 * 1024, 5);
        for (let offset = 0; offset < payload.length; offset += 8192) {
          socket.write(payload.subarray(offset, offset + 8192));
          if (offset % (256 * 1024) === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        await delay(300);
        const echoed = readBytes(socket, payload.length);
        socket.resume();
        assert.ok((await echoed).subarray(0, payload.length).equals(payload));
        socket.destroy();
      } finally {
        await server.close();
      }
    });

    it('reports why a connection closed', async () => {
      const reasons: string[] = [];
      const { server, port } = await startServer(backend, (conn) => {
        conn.closed$.subscribe(({ reason }) => reasons.push(reason));
        return conn.input$.pipe(
          map((chunk) => {
            if (chunk.toString() === 'destroy') conn.destroy();
            return chunk;
          }),
        );
      });
      try {
        const orderly = await connect(port);
        orderly.end('bye');
        await readToEnd(orderly);
        const destroyed = await connect(port);
        destroyed.write('destroy');
        await closed(destroyed);
        await eventually(() => reasons.length === 2);
        assert.deepEqual(reasons.sort(), ['destroy', 'end']);
      } finally {
        await server.close();
      }
    });

    it('exposes local and remote addresses', async () => {
      const seen: { local: string; remote: string }[] = [];
      const { server, port } = await startServer(backend, (conn) => {
        seen.push({ local: String(conn.local), remote: String(conn.remote) });
        return conn.input$;
      });
      try {
        const socket = await connect(port);
        const clientPort = socket.localPort;
        socket.end();
        await readToEnd(socket);
        assert.equal(seen[0].local, `tcp://127.0.0.1:${port}`);
        assert.equal(seen[0].remote, `tcp://127.0.0.1:${clientPort}`);
      } finally {
        await server.close();
      }
    });

    it('closes every connection gracefully when the subscription ends', async () => {
      const source = connections$('tcp://127.0.0.1:0', { backend });
      const subscription = source.subscribe((conn) => conn.input$.pipe(conn.sink({ end: false })).subscribe());
      const [bound] = await firstValueFrom(source.listening$);
      const sockets = await Promise.all(Array.from({ length: 10 }, () => connect(bound.port)));
      const ends = sockets.map((socket) => readToEnd(socket));
      await eventually(() => source.stats()?.connections === 10);
      subscription.unsubscribe();
      await Promise.all(ends); // every client saw FIN
      await assert.rejects(connect(bound.port), /ECONNREFUSED/);
      for (const socket of sockets) socket.end();
      await eventually(() => source.stats()?.connections === 0, 5000, 'connections closed');
    });
  });
}
