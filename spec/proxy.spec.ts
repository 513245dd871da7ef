import { strict as assert } from 'node:assert';
import * as net from 'node:net';

import { startProxy } from '../examples/proxy';
import { BACKENDS, closed, connect, pattern, readToEnd, startServer } from './support/helpers';

for (const backend of BACKENDS) {
  describe(`the proxy example (${backend} backend)`, function () {
    this.timeout(60_000);

    it('carries 32 MB each way byte-exact through a slow reader, with half-close', async () => {
      // The backend echoes, so the bytes cross the proxy twice; the client reads slowly.
      const echo = await startServer(backend, (conn) => conn.input$);
      const proxy = startProxy({ listen: 'tcp://127.0.0.1:0', to: `tcp://127.0.0.1:${echo.port}`, backend });
      const [address] = await proxy.listening;
      try {
        const total = 32 * 1024 * 1024;
        const chunk = pattern(1024 * 1024, 9);
        const socket = await connect(address.port);
        let received = 0;
        let mismatch = -1;
        const done = new Promise<void>((resolve, reject) => {
          socket.on('data', (data: Buffer) => {
            for (let i = 0; i < data.length && mismatch < 0; i++) {
              if (data[i] !== chunk[(received + i) % chunk.length]) mismatch = received + i;
            }
            received += data.length;
            socket.pause();
            setTimeout(() => socket.resume(), 1);
          });
          socket.once('end', resolve); // the backend's FIN, passed on after all its bytes
          socket.once('error', reject);
        });
        for (let sent = 0; sent < total; sent += chunk.length) {
          if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
        }
        socket.end(); // our FIN reaches the backend through the proxy; its echo finishes, then closes
        await done;
        assert.equal(mismatch, -1, `byte ${mismatch} differs`);
        assert.equal(received, total);
        await closed(socket);
      } finally {
        await proxy.close();
        await echo.server.close();
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
