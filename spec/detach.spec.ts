import { strict as assert } from 'node:assert';
import * as net from 'node:net';

import { firstValueFrom, take } from 'rxjs';

import type { CloseReason, Connection, Detached } from '../lib';
import { BACKENDS, assertEchoes, connect, connections$, delay, eventually, openFds, pattern, readBytes, readToEnd } from './support/helpers';

/** Listens with `onConnection` for every connection; resolves the port and a stop function. */
async function listen(backend: string, onConnection: (conn: Connection) => void): Promise<{ port: number; stop: () => void }> {
  const source = connections$('tcp://127.0.0.1:0', { backend: backend as 'native' | 'node' });
  const subscription = source.subscribe(onConnection);
  const [bound] = await firstValueFrom(source.listening$);
  return { port: bound.port, stop: () => subscription.unsubscribe() };
}

/** Continues a detached socket in node:net, echoing what it reads in upper case. */
function continueInNode(detached: Detached): net.Socket {
  const socket = new net.Socket({ fd: detached.fd, readable: true, writable: true, allowHalfOpen: false });
  socket.write(detached.input.toString().toUpperCase());
  socket.on('data', (chunk) => socket.write(chunk.toString().toUpperCase()));
  socket.on('end', () => socket.end());
  return socket;
}

describe('detach (native backend)', function () {
  this.timeout(30_000);

  it('hands over the fd with the input read after detach() and everything written before it', async () => {
    let reason: Promise<CloseReason> | null = null;
    let handed: net.Socket | null = null;
    const { port, stop } = await listen('native', (conn) => {
      reason = firstValueFrom(conn.closed$);
      // Speaks rxloop for one chunk, then hands the rest of the conversation to node:net.
      conn.input$.pipe(take(1)).subscribe(() => {
        conn.write('welcome\n');
        conn.detach().then((detached) => (handed = continueInNode(detached)));
      });
    });
    try {
      const client = await connect(port);
      const received = readToEnd(client);
      client.write('hello');
      await eventually(() => handed !== null, 5000, 'the detach');
      client.write('after the hand-over');
      await delay(50);
      client.end();
      assert.equal((await received).toString(), 'welcome\nAFTER THE HAND-OVER');
      assert.deepEqual(await reason, { reason: 'detach' });
    } finally {
      stop();
    }
  });

  it('gives back input held for a subscriber that never came, after draining the output', async () => {
    const detachedInput: string[] = [];
    const { port, stop } = await listen('native', (conn) => {
      // Nobody subscribes: the first bytes are held for a subscriber that never comes.
      setTimeout(() => {
        conn.write(pattern(4 * 1024 * 1024, 3)); // drains only as fast as the client reads
        conn.detach().then((detached) => {
          detachedInput.push(detached.input.toString());
          continueInNode(detached);
        });
      }, 100);
    });
    try {
      const client = await connect(port);
      client.write('held ');
      client.pause();
      await delay(300);
      client.write('while draining');
      client.resume();
      const body = await readBytes(client, 4 * 1024 * 1024 + 'HELD WHILE DRAINING'.length);
      assert.ok(body.subarray(0, 4 * 1024 * 1024).equals(pattern(4 * 1024 * 1024, 3)), 'output written before detach() arrives whole');
      // Reading stopped while input was held, so the rest waited in the kernel for the new owner.
      assert.equal(detachedInput[0], 'held ');
      assert.equal(body.subarray(4 * 1024 * 1024).toString(), 'HELD WHILE DRAINING');
      client.destroy();
    } finally {
      stop();
    }
  });

  it('rejects when the connection closes before its output drains, and leaks no fd', async () => {
    const fdsBefore = openFds();
    let outcome: Promise<unknown> | null = null;
    const { port, stop } = await listen('native', (conn) => {
      conn.write(pattern(8 * 1024 * 1024, 5)); // the client never reads it
      outcome = conn.detach().then(
        () => 'detached',
        (error: Error) => error,
      );
      setTimeout(() => conn.destroy(), 200);
    });
    try {
      const client = await connect(port);
      client.pause();
      await eventually(() => outcome !== null, 5000, 'a connection');
      const error = (await outcome!) as { code?: string };
      assert.equal(error.code, 'ERR_RXLOOP_DETACH');
      client.destroy();
    } finally {
      stop();
    }
    await eventually(() => openFds() <= fdsBefore, 5000, 'the fds to be closed');
  });

  it('refuses a second detach and a detach after close()', async () => {
    const errors: string[] = [];
    const { port, stop } = await listen('native', (conn) => {
      const first = conn.detach();
      conn.detach().catch((error: { code: string }) => errors.push(error.code));
      first.then((detached) => new net.Socket({ fd: detached.fd }).destroy());
    });
    const closing = await listen('native', (conn) => {
      conn.close();
      conn.detach().catch((error: { code: string }) => errors.push(error.code));
    });
    try {
      (await connect(port)).destroy();
      (await connect(closing.port)).destroy();
      await eventually(() => errors.length === 2, 5000, 'both refusals');
      assert.deepEqual(errors, ['ERR_RXLOOP_DETACH', 'ERR_RXLOOP_DETACH']);
    } finally {
      stop();
      closing.stop();
    }
  });
});

for (const backend of BACKENDS.filter((name) => name !== 'native')) {
  describe(`detach (${backend} backend)`, () => {
    it('says clearly that it cannot, and the connection goes on', async () => {
      const { port, stop } = await listen(backend, (conn) => {
        conn.detach().catch((error: Error & { code: string }) => {
          conn.write(`${error.code}\n`);
          conn.input$.subscribe((chunk) => conn.write(chunk));
        });
      });
      try {
        const client = await connect(port);
        assert.equal((await readBytes(client, 'ERR_RXLOOP_DETACH_UNSUPPORTED\n'.length)).toString(), 'ERR_RXLOOP_DETACH_UNSUPPORTED\n');
        await assertEchoes(client, 'still here');
        client.destroy();
      } finally {
        stop();
      }
    });
  });
}
