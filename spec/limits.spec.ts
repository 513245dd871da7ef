import { strict as assert } from 'node:assert';

import { NEVER, defer, EMPTY } from 'rxjs';

import { type CloseReason, LimitError } from '../lib';
import { BACKENDS, assertEchoes, closed, connect, delay, eventually, readBytes, readToEnd, startServer } from './support/helpers';

for (const backend of BACKENDS) {
  describe(`limits (${backend} backend)`, function () {
    this.timeout(30_000);

    it('accepts and closes at once beyond maxConnections, counting them', async () => {
      const { server, port } = await startServer(backend, (conn) => conn.input$, { maxConnections: 3 });
      try {
        const kept = await Promise.all([connect(port), connect(port), connect(port)]);
        for (const socket of kept) {
          const echoed = readBytes(socket, 2);
          socket.write('ok');
          await echoed;
        }
        const extra = await connect(port);
        await readToEnd(extra); // closed by the server without a byte
        assert.equal(server.stats()!.rejected, 1);
        assert.equal(server.stats()!.connections, 3);
        await assertEchoes(kept[0]);
        for (const socket of kept) socket.destroy();
      } finally {
        await server.close();
      }
    });

    it('destroys a connection idle for idleTimeout with a typed error, not a busy one', async () => {
      const reasons: CloseReason[] = [];
      const { server, port } = await startServer(
        backend,
        (conn) => {
          conn.closed$.subscribe((reason) => reasons.push(reason));
          return conn.input$;
        },
        { idleTimeout: 300 },
      );
      try {
        const idle = await connect(port);
        const busy = await connect(port);
        const ticker = setInterval(() => busy.write('.'), 50);
        const started = Date.now();
        await closed(idle);
        const elapsed = Date.now() - started;
        clearInterval(ticker);
        assert.ok(elapsed >= 280 && elapsed < 1000, `idle connection closed after ${elapsed} ms`);
        assert.ok(!busy.destroyed, 'the busy connection is still open');
        await eventually(() => reasons.length === 1);
        assert.ok(reasons[0].error instanceof LimitError);
        assert.equal((reasons[0].error as LimitError).code, 'ERR_RXLOOP_IDLE_TIMEOUT');
        assert.equal(server.stats()!.idleTimeouts, 1);
        busy.destroy();
      } finally {
        await server.close();
      }
    });

    it('destroys a connection whose queued output passes maxWritableLength', async () => {
      const reasons: CloseReason[] = [];
      const { server, port } = await startServer(
        backend,
        (conn) =>
          defer(() => {
            conn.closed$.subscribe((reason) => reasons.push(reason));
            // A writer that ignores write()'s false: 64 × 1 MiB to a peer that never reads.
            const block = Buffer.alloc(1024 * 1024);
            const timer = setInterval(() => {
              for (let i = 0; i < 8 && !conn.isClosed; i++) conn.write(block);
              if (conn.isClosed) clearInterval(timer);
            }, 5);
            return NEVER;
          }),
        { maxWritableLength: 8 * 1024 * 1024 },
      );
      try {
        const socket = await connect(port);
        socket.pause();
        await eventually(() => reasons.length === 1, 10_000, 'the connection to be destroyed');
        assert.equal((reasons[0].error as LimitError).code, 'ERR_RXLOOP_OUTPUT_LIMIT');
        assert.equal(server.stats()!.outputLimitHits, 1);
        socket.destroy();
      } finally {
        await server.close();
      }
    });

    it('lets a graceful close that keeps progressing outlast closeTimeout', async () => {
      const reasons: string[] = [];
      const payload = Buffer.alloc(16 * 1024 * 1024, 'p');
      const { server, port } = await startServer(
        backend,
        (conn) =>
          defer(() => {
            conn.closed$.subscribe(({ reason }) => reasons.push(reason));
            conn.write(payload);
            return EMPTY; // close() at once, with 16 MiB still to drain
          }),
        // The node backend cannot see the kernel's send buffer (a few MiB) drain after the last
        // of its own queue: the peer has a whole closeTimeout for that tail.
        { closeTimeout: 1500, maxWritableLength: 32 * 1024 * 1024 },
      );
      try {
        const socket = await connect(port);
        let received = 0;
        const done = new Promise<void>((resolve) => socket.on('end', resolve));
        socket.on('data', (chunk: Buffer) => {
          received += chunk.length;
          socket.pause(); // a slow reader: the whole transfer takes several closeTimeouts
          setTimeout(() => socket.resume(), 8);
        });
        const started = Date.now();
        await done;
        socket.end();
        assert.equal(received, payload.length);
        assert.ok(Date.now() - started > 1500, `the transfer took ${Date.now() - started} ms, less than closeTimeout`);
        await eventually(() => reasons.length === 1);
        assert.deepEqual(reasons, ['end']);
      } finally {
        await server.close();
      }
    });

    it('gives up a graceful close after closeTimeout when the peer never reads', async () => {
      const reasons: string[] = [];
      const { server, port } = await startServer(
        backend,
        (conn) =>
          defer(() => {
            conn.closed$.subscribe(({ reason }) => reasons.push(reason));
            conn.write(Buffer.alloc(16 * 1024 * 1024)); // more than the socket buffers take
            return EMPTY; // completes at once: close() with output still queued
          }),
        { closeTimeout: 300 },
      );
      try {
        const socket = await connect(port);
        socket.pause();
        socket.end(); // the peer has even sent its FIN: only the output keeps the close open
        await eventually(() => reasons.length === 1, 5000, 'the close to give up');
        assert.deepEqual(reasons, ['timeout']);
        await delay(10);
        socket.destroy();
      } finally {
        await server.close();
      }
    });
  });
}
