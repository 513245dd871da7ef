import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';

import { ConnectError, dial, serve } from '../lib';
import { BACKENDS, delay, startServer } from './support/helpers';

for (const backend of BACKENDS) {
  describe(`dial (${backend} backend)`, function () {
    this.timeout(20_000);

    it('connects, exchanges bytes both ways with backpressure, and half-closes', async () => {
      const { server, port } = await startServer(backend, (conn) => conn.input$);
      try {
        // This client writes 8 MiB before it has read its echo: it must keep reading while its
        // own output is blocked, or client and server would each wait for the other to read.
        const conn = await firstValueFrom(dial(`tcp://127.0.0.1:${port}`, { backend, pauseOnBackpressure: false }));
        assert.equal(String(conn.remote), `tcp://127.0.0.1:${port}`);
        assert.equal(conn.local.host, '127.0.0.1');
        const payload = Buffer.alloc(8 * 1024 * 1024, 'd');
        const echoed = lastValueFrom(conn.input$.pipe(toArray()));
        for (let offset = 0; offset < payload.length; offset += 256 * 1024) {
          if (!conn.write(payload.subarray(offset, offset + 256 * 1024))) await firstValueFrom(conn.drain$);
        }
        conn.close(); // FIN: the echo server finishes, then so do we
        assert.ok(Buffer.concat(await echoed).equals(payload));
        assert.equal((await firstValueFrom(conn.closed$)).reason, 'end');
      } finally {
        await server.close();
      }
    });

    it('resolves host names off the loop', async () => {
      const { server, port } = await startServer(backend, (conn) => conn.input$);
      try {
        const conn = await firstValueFrom(dial(`tcp://localhost:${port}`, { backend }));
        assert.ok(['127.0.0.1', '::1'].includes(conn.remote.host));
        conn.destroy();
      } finally {
        await server.close();
      }
    });

    it('dials a unix socket', async () => {
      const file = path.join(os.tmpdir(), `rxloop-dial-${process.pid}-${backend}.sock`);
      const server = serve(`unix://${file}`, (conn) => conn.input$, { backend });
      await server.listening;
      try {
        const conn = await firstValueFrom(dial(`unix://${file}`, { backend }));
        assert.equal(String(conn.remote), `unix://${file}`);
        const reply = lastValueFrom(conn.input$.pipe(toArray()));
        conn.write('over unix');
        conn.close();
        assert.equal(Buffer.concat(await reply).toString(), 'over unix');
      } finally {
        await server.close();
      }
    });

    it('fails with ECONNREFUSED when nobody listens', async () => {
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const { port } = probe.address() as net.AddressInfo;
      await new Promise((resolve) => probe.close(resolve));
      await assert.rejects(firstValueFrom(dial(`tcp://127.0.0.1:${port}`, { backend })), (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(error.code, 'ECONNREFUSED');
        return true;
      });
    });

    it('fails with ENOTFOUND for a name that does not resolve', async () => {
      await assert.rejects(firstValueFrom(dial('tcp://no-such-host.invalid:80', { backend })), (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        // EAI_AGAIN where no resolver answers at all (no network): still a typed, named failure.
        assert.ok(['ENOTFOUND', 'EAI_AGAIN'].includes(error.code), error.code);
        return true;
      });
    });

    it('fails with ETIMEDOUT when the handshake never completes', async () => {
      // A listener that never accepts, its backlog filled: further SYNs are dropped by the
      // kernel, so the next connect hangs.
      const jam = spawn('python3', [
        '-c',
        'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(0); print(s.getsockname()[1], flush=True); time.sleep(30)',
      ]);
      try {
        const port = await new Promise<number>((resolve) => jam.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString()))));
        const fillers = Array.from({ length: 4 }, () => net.connect(port, '127.0.0.1').on('error', () => undefined));
        await delay(100);
        await assert.rejects(firstValueFrom(dial(`tcp://127.0.0.1:${port}`, { backend, timeout: 300 })), {
          name: 'ConnectError',
          code: 'ETIMEDOUT',
        });
        for (const socket of fillers) socket.destroy();
      } finally {
        jam.kill();
      }
    });

    it('rejects a bad address at once', () => {
      assert.throws(() => dial('tcp://127.0.0.1', { backend }), /host:port/);
    });

    it('gets the reply of a server that closes first', async () => {
      const { server, port } = await startServer(backend, () => ['hello and goodbye']);
      try {
        const conn = await firstValueFrom(dial(`tcp://127.0.0.1:${port}`, { backend }));
        const received = Buffer.concat(await lastValueFrom(conn.input$.pipe(toArray())));
        assert.equal(received.toString(), 'hello and goodbye');
        conn.close();
        assert.equal((await firstValueFrom(conn.closed$)).reason, 'end');
      } finally {
        await server.close();
      }
    });
  });
}
