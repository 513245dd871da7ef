import { strict as assert } from 'node:assert';
import * as dgram from 'node:dgram';

import { firstValueFrom } from 'rxjs';

import { type Datagram, datagrams$ } from '../lib';
import { nativeLoop } from '../lib/native/loop';
import { BACKENDS, eventually } from './support/helpers';

/** A node:dgram client bound to loopback, collecting what it receives. */
async function client(family: 'udp4' | 'udp6' = 'udp4'): Promise<{ socket: dgram.Socket; received: Buffer[]; close: () => void }> {
  const socket = dgram.createSocket(family);
  const received: Buffer[] = [];
  socket.on('message', (message) => received.push(message));
  await new Promise<void>((resolve) => socket.bind(0, family === 'udp4' ? '127.0.0.1' : '::1', resolve));
  return { socket, received, close: () => socket.close() };
}

for (const backend of BACKENDS) {
  describe(`datagrams$ (${backend} backend)`, function () {
    this.timeout(30_000);

    it('echoes 2,000 datagrams exactly, each to its sender', async () => {
      const source = datagrams$('udp://127.0.0.1:0', { backend });
      const subscription = source.subscribe((datagram) => datagram.reply(datagram.data));
      try {
        const bound = await firstValueFrom(source.listening$);
        assert.equal(bound.scheme, 'udp');
        assert.ok(bound.port > 0);
        const peers = await Promise.all([client(), client()]);
        // A window of 50 in flight per peer: a burst of replies must fit the peer's receive buffer.
        for (let window = 0; window < 20; window++) {
          for (const [p, peer] of peers.entries()) {
            for (let i = 0; i < 50; i++) peer.socket.send(`peer ${p} datagram ${window * 50 + i}`, bound.port, '127.0.0.1');
          }
          await eventually(() => peers.every((peer) => peer.received.length === (window + 1) * 50), 5000, `window ${window}`);
        }
        for (const [p, peer] of peers.entries()) {
          const expected = Array.from({ length: 1000 }, (_, i) => `peer ${p} datagram ${i}`).sort();
          assert.deepEqual(peer.received.map(String).sort(), expected);
          peer.close();
        }
        const stats = source.stats()!;
        assert.equal(stats.backend, backend);
        assert.equal(stats.received, 2000);
        assert.equal(stats.sent, 2000);
        assert.equal(stats.dropped, 0);
      } finally {
        subscription.unsubscribe();
      }
    });

    it('carries payloads from 0 bytes to 65,507 byte-exact, and tells senders apart', async () => {
      const source = datagrams$('udp://127.0.0.1:0', { backend });
      const seen: Datagram[] = [];
      const subscription = source.subscribe((datagram) => {
        seen.push(datagram);
        datagram.reply(datagram.data);
      });
      try {
        const bound = await firstValueFrom(source.listening$);
        const peer = await client();
        const sizes = [0, 1, 1472, 9000, 65_507];
        for (const size of sizes) {
          const payload = Buffer.alloc(size, size % 251);
          peer.socket.send(payload, bound.port, '127.0.0.1');
          await eventually(() => peer.received.length === sizes.indexOf(size) + 1, 5000, `the ${size}-byte echo`);
          assert.ok(peer.received[peer.received.length - 1].equals(payload), `${size} bytes differ`);
        }
        assert.equal(seen[0].from.host, '127.0.0.1');
        assert.equal(seen[0].from.port, peer.socket.address().port);
        assert.equal(String(seen[0].from), `udp://127.0.0.1:${peer.socket.address().port}`);
        peer.close();
      } finally {
        subscription.unsubscribe();
      }
    });

    it('serves IPv6, and sends to any address with send()', async () => {
      const source = datagrams$('udp://[::1]:0', { backend });
      const subscription = source.subscribe((datagram) => source.send(`udp://[::1]:${datagram.data.toString()}`, 'told you'));
      try {
        const bound = await firstValueFrom(source.listening$);
        assert.equal(bound.host, '::1');
        const peer = await client('udp6');
        const other = await client('udp6');
        peer.socket.send(String(other.socket.address().port), bound.port, '::1');
        await eventually(() => other.received.length === 1, 5000, 'the datagram sent elsewhere');
        assert.equal(other.received[0].toString(), 'told you');
        assert.equal(peer.received.length, 0);
        peer.close();
        other.close();
      } finally {
        subscription.unsubscribe();
      }
    });

    it('drops and counts what goes beyond maxQueuedDatagrams, and unsubscribing frees the port', async () => {
      const source = datagrams$('udp://127.0.0.1:0', { backend, maxQueuedDatagrams: 10 });
      let accepted = 0;
      const subscription = source.subscribe((datagram) => {
        for (let i = 0; i < 100; i++) if (datagram.reply(`${i}`)) accepted++;
      });
      const bound = await firstValueFrom(source.listening$);
      const peer = await client();
      peer.socket.send('go', bound.port, '127.0.0.1');
      await eventually(() => source.stats()!.received === 1, 5000, 'the datagram');
      const stats = source.stats()!;
      assert.ok(accepted >= 10 && accepted < 100, `accepted ${accepted}`);
      assert.equal(stats.dropped, 100 - accepted);
      subscription.unsubscribe();
      peer.close();
      // The port is free again: a plain socket can bind it.
      const again = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.bind(bound.port, '127.0.0.1', () => resolve());
      });
      again.close();
    });

    it('refuses a stream address, and reports a port in use as a ListenError', async () => {
      assert.throws(() => datagrams$('tcp://127.0.0.1:0', { backend }), { code: 'ERR_RXLOOP_ADDRESS' });
      const first = datagrams$('udp://127.0.0.1:0', { backend });
      const subscription = first.subscribe();
      const bound = await firstValueFrom(first.listening$);
      const second = datagrams$(`udp://127.0.0.1:${bound.port}`, { backend });
      await assert.rejects(firstValueFrom(second), { code: 'EADDRINUSE' });
      subscription.unsubscribe();
    });
  });
}

describe('datagrams$ (native backend): batching', () => {
  it('reads a burst with fewer recvmmsg calls than datagrams, and answers it with fewer sendmmsg calls', async () => {
    const loop = nativeLoop();
    if (loop instanceof Error) throw loop;
    const source = datagrams$('udp://127.0.0.1:0', { backend: 'native' });
    const subscription = source.subscribe((datagram) => datagram.reply(datagram.data));
    try {
      const bound = await firstValueFrom(source.listening$);
      const peer = await client();
      const before = loop.counters();
      // Sent synchronously, so they queue up in the server's socket before its loop wakes.
      for (let i = 0; i < 64; i++) peer.socket.send(`burst ${i}`, bound.port, '127.0.0.1');
      await eventually(() => peer.received.length === 64, 5000, 'the echoes');
      const after = loop.counters();
      assert.ok(after.reads - before.reads < 64, `${after.reads - before.reads} reads for 64 datagrams`);
      assert.ok(after.writev - before.writev < 64, `${after.writev - before.writev} sends for 64 datagrams`);
      peer.close();
    } finally {
      subscription.unsubscribe();
    }
  });
});
