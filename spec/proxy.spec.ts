import { strict as assert } from 'node:assert';
import * as net from 'node:net';

import { startProxy } from '../examples/proxy';
import { BACKENDS, closed, connect, keystream, readToEnd, startServer } from './support/helpers';

for (const backend of BACKENDS) {
  describe(`the proxy example (${backend} backend)`, function () {
    this.timeout(60_000);

    it('carries 100 MB each way byte-exact through a slow reader, with bounded memory and half-close', async () => {
      // The backend echoes, so 100 MB cross the proxy towards it and 100 MB back; the client
      // reads slowly. Backpressure must hold both ways: the slow client stalls the backend's
      // output, which stalls its reading, which must stall the client's writing. A proxy that
      // ignored it would queue tens of MB (and at 64 MB would be destroyed for its output limit).
      const echo = await startServer(backend, (conn) => conn.input$);
      const proxy = startProxy({ listen: 'tcp://127.0.0.1:0', to: `tcp://127.0.0.1:${echo.port}`, backend });
      const [address] = await proxy.listening;
      let maxQueued = 0;
      const sampler = setInterval(() => (maxQueued = Math.max(maxQueued, proxy.queued())), 2);
      try {
        const total = 100 * 1024 * 1024;
        const chunkSize = 1024 * 1024;
        const sent = keystream(9);
        const expected = keystream(9);
        const socket = await connect(address.port);
        let received = 0;
        let mismatch = -1;
        const done = new Promise<void>((resolve, reject) => {
          socket.on('data', (data: Buffer) => {
            const want = expected.next(data.length);
            if (mismatch < 0 && !data.equals(want)) {
              let i = 0;
              while (data[i] === want[i]) i++;
              mismatch = received + i;
            }
            // One long stall, so that the kernel's buffers fill and the proxy must queue even
            // where it is slower than this reader (under ASan, say).
            const stallAt = 8 * 1024 * 1024;
            const stall = received < stallAt && received + data.length >= stallAt ? 200 : 1;
            received += data.length;
            socket.pause();
            setTimeout(() => socket.resume(), stall);
          });
          socket.once('end', resolve); // the backend's FIN, passed on after all its bytes
          socket.once('error', reject);
        });
        for (let offset = 0; offset < total; offset += chunkSize) {
          if (!socket.write(sent.next(chunkSize))) await new Promise((resolve) => socket.once('drain', resolve));
        }
        const receivedAtFin = received;
        socket.end(); // our FIN reaches the backend through the proxy; its echo finishes, then closes
        await done;
        assert.equal(mismatch, -1, `byte ${mismatch} differs`);
        assert.equal(received, total);
        await closed(socket);
        // Part of the echo (what the socket buffers and the two servers held then, some MB) came
        // after our FIN, and all of it arrived: the proxy kept the other direction open.
        assert.ok(receivedAtFin < total, 'the whole echo arrived before the FIN: half-close was not tested');
        // Queued in the proxy at any one time, before the FIN and after: a few chunks, never a real
        // part of the 100 MB.
        assert.ok(maxQueued > 0, 'the proxy never had output queued: the test measured nothing');
        assert.ok(maxQueued <= 2 * 1024 * 1024, `the proxy queued up to ${maxQueued} bytes`);
      } finally {
        clearInterval(sampler);
        await proxy.close();
        await echo.server.close();
      }
    });

    // Before close() honoured pause(), sending the FIN on turned reading back on, so the proxy read
    // the backend as fast as it sent and the client's queue grew until maxWritableLength (64 MB)
    // destroyed it: the client got ~20 MB of the 100.
    it('keeps memory bounded while a backend streams 100 MB after the client FIN to a slow reader', async () => {
      // A request, then FIN; then the whole answer (HTTP/1.0 style). Passing the FIN on must not
      // make the proxy read the backend faster than the client takes it.
      const total = 100 * 1024 * 1024;
      const chunkSize = 256 * 1024;
      const streamer = net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.resume(); // the request is not looked at
        socket.once('end', async () => {
          const data = keystream(21);
          for (let offset = 0; offset < total && !socket.destroyed; offset += chunkSize) {
            if (!socket.write(data.next(chunkSize))) await new Promise((resolve) => socket.once('drain', resolve));
          }
          socket.end();
        });
        socket.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => streamer.listen(0, '127.0.0.1', resolve));
      const { port } = streamer.address() as net.AddressInfo;
      const proxy = startProxy({ listen: 'tcp://127.0.0.1:0', to: `tcp://127.0.0.1:${port}`, backend });
      const [address] = await proxy.listening;
      let maxQueued = 0;
      const sampler = setInterval(() => (maxQueued = Math.max(maxQueued, proxy.queued())), 2);
      try {
        const socket = await connect(address.port);
        const expected = keystream(21);
        let received = 0;
        let mismatch = -1;
        const done = new Promise<void>((resolve, reject) => {
          socket.on('data', (data: Buffer) => {
            if (mismatch < 0 && !data.equals(expected.next(data.length))) mismatch = received;
            received += data.length;
            socket.pause();
            setTimeout(() => socket.resume(), 1);
          });
          socket.once('end', resolve);
          socket.once('close', resolve);
          socket.once('error', reject);
        });
        socket.end('send it all\n');
        await done;
        assert.equal(mismatch, -1, `the chunk at byte ${mismatch} differs`);
        assert.equal(received, total);
        assert.ok(maxQueued <= 2 * 1024 * 1024, `the proxy queued up to ${maxQueued} bytes`);
        await closed(socket);
      } finally {
        clearInterval(sampler);
        await proxy.close();
        await new Promise((resolve) => streamer.close(resolve));
      }
    });

    it('passes a reply that follows the client FIN (half-close both ways)', async () => {
      const upper = await startServer(backend, (conn) => conn.input$);
      const proxy = startProxy({ listen: 'tcp://127.0.0.1:0', to: `tcp://127.0.0.1:${upper.port}`, backend });
      const [address] = await proxy.listening;
      try {
        const socket = await connect(address.port);
        const reply = readToEnd(socket);
        socket.end('sent before FIN');
        assert.equal((await reply).toString(), 'sent before FIN');
      } finally {
        await proxy.close();
        await upper.server.close();
      }
    });

    it('closes the client cleanly when the backend refuses', async () => {
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const { port } = probe.address() as net.AddressInfo;
      await new Promise((resolve) => probe.close(resolve));
      const proxy = startProxy({ listen: 'tcp://127.0.0.1:0', to: `tcp://127.0.0.1:${port}`, backend });
      const [address] = await proxy.listening;
      try {
        const socket = await connect(address.port);
        let error: Error | null = null;
        socket.on('error', (e) => (error = e));
        assert.equal((await readToEnd(socket)).length, 0);
        await closed(socket);
        assert.equal(error, null, 'closed with FIN, not reset');
      } finally {
        await proxy.close();
      }
    });
  });
}
