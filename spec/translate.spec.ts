import { strict as assert } from 'node:assert';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import * as zlib from 'node:zlib';

import { type Observable, delay as delayBy, ignoreElements, map, toArray } from 'rxjs';

import type { Chunk, CloseReason } from '../lib';
import {
  type TranslatedConnection,
  TranslationError,
  type Translator,
  deflate,
  gzip,
  tlsClient,
  tlsServer,
  translate,
} from '../operators';
import { testCertificates } from './support/certificates';
import { BACKENDS, type Backend, assertEchoes, closed, echoThrough, connect, delay, eventually, pattern, readBytes, readToEnd, startServer } from './support/helpers';

const certs = testCertificates();

interface Translating<S extends TranslatedConnection['stream']> {
  port: number;
  /** Every translated connection, in accept order. */
  accepted: TranslatedConnection<S>[];
  /** Their close reasons, as they come. */
  reasons: CloseReason[];
  close(): Promise<void>;
}

/** A server that translates each connection and answers with `handler` on the translated one. */
async function startTranslating<S extends TranslatedConnection['stream']>(
  backend: Backend,
  translator: Translator<S>,
  handler: (conn: TranslatedConnection<S>) => Observable<Chunk> = (conn) => conn.input$,
): Promise<Translating<S>> {
  const accepted: TranslatedConnection<S>[] = [];
  const reasons: CloseReason[] = [];
  const { server, port } = await startServer(backend, (conn) => {
    const translated = translate(conn, translator);
    accepted.push(translated);
    translated.closed$.subscribe((reason) => reasons.push(reason));
    translated.writeFrom(handler(translated));
    return translated.closed$.pipe(ignoreElements());
  });
  return { port, accepted, reasons, close: () => server.close() };
}

function tlsConnect(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: certs.ca, ...options });
    socket.once('secureConnect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

for (const backend of BACKENDS) {
  describe(`translate (${backend} backend)`, function () {
    this.timeout(30_000);

    describe('tlsServer', () => {
      const serverOptions = { key: certs.serverKey, cert: certs.serverCert, ALPNProtocols: ['http/1.1', 'echo'] };

      it('completes a handshake with a node:tls client, negotiating ALPN and seeing SNI', async () => {
        const server = await startTranslating(backend, tlsServer(serverOptions), (conn) =>
          conn.input$.pipe(map((chunk) => `${conn.stream.alpnProtocol}/${conn.stream.servername}: ${chunk}`)),
        );
        try {
          const socket = await tlsConnect(server.port, { ALPNProtocols: ['echo'] });
          assert.equal(socket.alpnProtocol, 'echo');
          assert.ok(socket.authorized, 'the client trusts the server certificate');
          const reply = readToEnd(socket);
          socket.end('hello');
          assert.equal((await reply).toString(), 'echo/localhost: hello');
          await eventually(() => server.reasons.length === 1, 5000, 'closed$');
          assert.deepEqual(server.reasons[0], { reason: 'end' });
          assert.equal(server.accepted[0].id > 0, true);
          assert.equal(String(server.accepted[0].local), `tcp://127.0.0.1:${server.port}`);
        } finally {
          await server.close();
        }
      });

      it('picks a certificate per server name with SNICallback', async () => {
        const contexts: Record<string, tls.SecureContext> = {
          localhost: tls.createSecureContext({ key: certs.serverKey, cert: certs.serverCert }),
          'rogue.test': tls.createSecureContext({ key: certs.rogueKey, cert: certs.rogueCert }),
        };
        const server = await startTranslating(
          backend,
          tlsServer({ ...serverOptions, SNICallback: (name, callback) => callback(null, contexts[name]) }),
        );
        try {
          const seen: string[] = [];
          for (const servername of ['localhost', 'rogue.test']) {
            const socket = await tlsConnect(server.port, { servername, rejectUnauthorized: false });
            seen.push(socket.getPeerCertificate().subject.CN as string);
            socket.destroy();
          }
          assert.deepEqual(seen, ['localhost', 'rogue']);
        } finally {
          await server.close();
        }
      });

      it('carries 24 MB each way, byte-exact, to a slow reader', async () => {
        const server = await startTranslating(backend, tlsServer(serverOptions));
        try {
          const socket = await tlsConnect(server.port);
          await echoThrough(socket, 24 * 1024 * 1024, true);
          socket.end();
          await closed(socket);
        } finally {
          await server.close();
        }
      });

      it('answers a peer that has already shut its write side, then closes cleanly', async () => {
        const server = await startTranslating(backend, tlsServer(serverOptions), (conn) =>
          conn.input$.pipe(
            toArray(),
            delayBy(50), // reply well after the peer's close_notify and FIN
            map((chunks) => Buffer.concat(chunks).toString().toUpperCase()),
          ),
        );
        try {
          const socket = await tlsConnect(server.port);
          const reply = readToEnd(socket);
          socket.end('half-closed request');
          assert.equal((await reply).toString(), 'HALF-CLOSED REQUEST');
          await eventually(() => server.reasons.length === 1, 5000, 'closed$');
          assert.equal(server.reasons[0].reason, 'end');
        } finally {
          await server.close();
        }
      });

      it('serves on after a client refuses its certificate', async () => {
        const server = await startTranslating(backend, tlsServer(serverOptions));
        try {
          // No CA given: the client cannot verify the server. node:tls judges the certificate once
          // OpenSSL's handshake is done, so the server sees a finished handshake and then a close.
          await assert.rejects(tlsConnect(server.port, { ca: undefined }), /unable to verify|self.signed|local issuer/i);
          await eventually(() => server.reasons.length === 1, 5000, 'closed$ of the refused connection');
          assert.notEqual(server.reasons[0].reason, 'destroy');

          const good = await tlsConnect(server.port);
          await assertEchoes(good);
          good.destroy();
        } finally {
          await server.close();
        }
      });

      it('reports a peer that does not speak TLS at all', async () => {
        const server = await startTranslating(backend, tlsServer(serverOptions));
        try {
          const plain = await connect(server.port);
          plain.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
          await readToEnd(plain);
          await eventually(() => server.reasons.length === 1, 5000, 'closed$');
          const error = server.reasons[0].error as TranslationError;
          assert.equal(error.code, 'ERR_RXLOOP_TLS_HANDSHAKE');
          assert.match(error.message, /http request|wrong version/i);
        } finally {
          await server.close();
        }
      });

      it('checks client certificates against its CA', async () => {
        const server = await startTranslating(
          backend,
          tlsServer({ ...serverOptions, ca: certs.ca, requestCert: true, rejectUnauthorized: true }),
          (conn) => conn.input$.pipe(map(() => `hello ${conn.stream.getPeerCertificate().subject.CN}, authorized ${conn.stream.authorized}`)),
        );
        try {
          const trusted = await tlsConnect(server.port, { key: certs.clientKey, cert: certs.clientCert });
          const reply = readToEnd(trusted);
          trusted.end('hi');
          assert.equal((await reply).toString(), 'hello rxloop test client, authorized true');
          await eventually(() => server.reasons.length === 1, 5000, 'closed$ of the trusted client');

          for (const client of [{ key: certs.rogueKey, cert: certs.rogueCert }, {}]) {
            const before = server.reasons.length;
            // TLS 1.3 finishes the client's side of the handshake before the server judges its certificate.
            const rejected = await tlsConnect(server.port, client).catch(() => null);
            if (rejected !== null) {
              const answered: Buffer[] = [];
              rejected.on('data', (data: Buffer) => answered.push(data)).on('error', () => undefined);
              rejected.write('let me in');
              await closed(rejected);
              assert.equal(answered.length, 0, 'nothing is answered');
            }
            await eventually(() => server.reasons.length === before + 1, 5000, 'closed$ of the rejected client');
            const error = server.reasons[before].error as TranslationError;
            assert.equal(error.code, 'ERR_RXLOOP_TLS_HANDSHAKE');
          }
          assert.match(server.reasons[1].error!.message, /client certificate rejected \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
          assert.match(server.reasons[2].error!.message, /did not return a certificate/);
        } finally {
          await server.close();
        }
      });

      it('resumes TLS sessions across connections', async () => {
        const server = await startTranslating(backend, tlsServer(serverOptions));
        try {
          const first = await tlsConnect(server.port);
          const session = new Promise<Buffer>((resolve) => first.once('session', resolve));
          first.write('x');
          await readBytes(first, 1);
          const ticket = await session;
          first.end();
          const second = await tlsConnect(server.port, { session: ticket });
          assert.ok(second.isSessionReused(), 'the second handshake resumed the first session');
          const echoed = readBytes(second, 2);
          second.write('ok');
          assert.equal((await echoed).toString(), 'ok');
          second.end();
        } finally {
          await server.close();
        }
      });

      it('reports a peer that resets mid-stream and keeps serving others', async () => {
        const server = await startTranslating(backend, tlsServer(serverOptions));
        try {
          const tcp = await connect(server.port);
          const victim = tls.connect({ socket: tcp, ca: certs.ca, servername: 'localhost' });
          victim.on('error', () => undefined);
          const echoed = readBytes(victim, 5);
          victim.write('hello');
          await echoed;
          tcp.resetAndDestroy();
          await eventually(() => server.reasons.length === 1, 5000, 'closed$ after the reset');
          assert.equal(server.reasons[0].reason, 'error');
          assert.equal((server.reasons[0].error as NodeJS.ErrnoException).code, 'ECONNRESET');

          const other = await tlsConnect(server.port);
          await assertEchoes(other);
          other.destroy();
        } finally {
          await server.close();
        }
      });

      it('bounds what it reads from a peer that never reads its replies', async () => {
        let translated!: TranslatedConnection;
        const { server, port } = await startServer(
          backend,
          (conn) => {
            translated = translate(conn, tlsServer(serverOptions));
            translated.writeFrom(translated.input$);
            return translated.closed$.pipe(ignoreElements());
          },
          { highWaterMark: 64 * 1024, lowWaterMark: 16 * 1024 },
        );
        try {
          const socket = await tlsConnect(port);
          socket.pause();
          const block = Buffer.alloc(1024 * 1024, 7);
          for (let i = 0; i < 32; i++) socket.write(block);
          await delay(1000);
          const inAfterOneSecond = server.stats()!.bytesIn;
          await delay(500);
          assert.equal(server.stats()!.bytesIn, inAfterOneSecond, 'reading has stopped');
          assert.ok(inAfterOneSecond < 24 * 1024 * 1024, `read ${inAfterOneSecond} bytes from a peer that never reads`);
          assert.ok(translated.writableLength <= 1024 * 1024, `translated output queue at ${translated.writableLength}`);
          socket.destroy();
        } finally {
          await server.close();
        }
      });
    });

    describe('tlsClient', () => {
      it('speaks TLS as the client over an accepted connection', async () => {
        // The rxloop side accepts TCP and then plays TLS client; the peer is a node:tls server socket.
        const server = await startTranslating(
          backend,
          tlsClient({ ca: certs.ca, servername: 'localhost', ALPNProtocols: ['echo'] }),
          (conn) => conn.input$.pipe(map((chunk) => `client heard: ${chunk}`)),
        );
        try {
          const tcp = await connect(server.port);
          const secure = new tls.TLSSocket(tcp, {
            isServer: true,
            secureContext: tls.createSecureContext({ key: certs.serverKey, cert: certs.serverCert }),
            ALPNProtocols: ['echo'],
          });
          await new Promise((resolve) => secure.once('secure', resolve));
          const reply = readBytes(secure, 'client heard: ping'.length);
          secure.write('ping');
          assert.equal((await reply).toString(), 'client heard: ping');
          assert.equal(server.accepted[0].stream.alpnProtocol, 'echo');
          secure.end();
          await eventually(() => server.reasons.length === 1, 5000, 'closed$');
          assert.equal(server.reasons[0].reason, 'end');
        } finally {
          await server.close();
        }
      });

      it('gives up on a server that never answers the handshake', async () => {
        const server = await startTranslating(backend, tlsClient({ ca: certs.ca, servername: 'localhost', handshakeTimeout: 200 }));
        try {
          const silent = await connect(server.port); // reads the ClientHello, says nothing
          await eventually(() => server.reasons.length === 1, 5000, 'closed$');
          const error = server.reasons[0].error as TranslationError;
          assert.equal(error.code, 'ERR_RXLOOP_TLS_HANDSHAKE');
          assert.match(error.message, /not done after 200 ms/);
          silent.destroy();
        } finally {
          await server.close();
        }
      });

      it('refuses a server whose certificate does not verify', async () => {
        const server = await startTranslating(backend, tlsClient({ ca: certs.ca, servername: 'localhost' }));
        try {
          const tcp = await connect(server.port);
          const secure = new tls.TLSSocket(tcp, {
            isServer: true,
            secureContext: tls.createSecureContext({ key: certs.rogueKey, cert: certs.rogueCert }),
          });
          secure.on('error', () => undefined);
          await eventually(() => server.reasons.length === 1, 5000, 'closed$');
          const error = server.reasons[0].error as TranslationError;
          assert.equal(error.code, 'ERR_RXLOOP_TLS_HANDSHAKE');
          assert.match(error.message, /self.signed/i);
          secure.destroy();
        } finally {
          await server.close();
        }
      });
    });

    for (const [name, translator, compressor, decompressor] of [
      ['deflate', deflate(), zlib.createDeflate, zlib.createInflate],
      ['gzip', gzip(), zlib.createGzip, zlib.createGunzip],
    ] as const) {
      describe(name, () => {
        /** A peer speaking the compressed protocol: what it writes is flushed at once. */
        async function compressedPeer(port: number) {
          const socket = await connect(port);
          const out = compressor();
          const incoming = decompressor();
          out.pipe(socket);
          socket.pipe(incoming);
          const send = (data: string | Buffer): Promise<void> =>
            new Promise((resolve) => {
              out.write(data);
              out.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve());
            });
          return { socket, out, incoming, send };
        }

        it('answers each request as it comes (sync flushes) and ends both streams', async () => {
          const server = await startTranslating(backend, translator, (conn) =>
            conn.input$.pipe(map((chunk) => `${chunk.toString().toUpperCase()}!`)),
          );
          try {
            const peer = await compressedPeer(server.port);
            for (const word of ['one', 'two', 'three']) {
              const reply = new Promise<string>((resolve) => peer.incoming.once('data', (data: Buffer) => resolve(data.toString())));
              await peer.send(word);
              assert.equal(await reply, `${word.toUpperCase()}!`);
            }
            const rest = new Promise<void>((resolve) => peer.incoming.on('end', resolve).resume());
            peer.out.end();
            await rest; // the server's stream ended properly (a complete trailer), after our end
            await eventually(() => server.reasons.length === 1, 5000, 'closed$');
            assert.equal(server.reasons[0].reason, 'end');
          } finally {
            await server.close();
          }
        });

        it("takes the limits of the connection underneath, and an option overrides one", async () => {
          const limits: unknown[] = [];
          const { server, port } = await startServer(
            backend,
            (conn) => {
              limits.push(translate(conn, translator).limits, translate(conn, translator, { highWaterMark: 4096 }).limits);
              return conn.input$;
            },
            { highWaterMark: 2048, lowWaterMark: 512, closeTimeout: 1234, maxWritableLength: 1 << 20 },
          );
          try {
            (await connect(port)).destroy();
            await eventually(() => limits.length === 2, 5000, 'a connection');
            const inherited = { highWaterMark: 2048, lowWaterMark: 512, closeTimeout: 1234, maxWritableLength: 1 << 20, pauseOnBackpressure: true };
            assert.deepEqual(limits, [inherited, { ...inherited, highWaterMark: 4096 }]);
          } finally {
            await server.close();
          }
        });

        it('round-trips 8 MB of mixed data byte-exact', async () => {
          const server = await startTranslating(backend, translator);
          try {
            const peer = await compressedPeer(server.port);
            const payload = Buffer.concat([pattern(4 * 1024 * 1024, 5), Buffer.alloc(4 * 1024 * 1024, 'rxloop ')]);
            const received: Buffer[] = [];
            const done = new Promise<void>((resolve) => peer.incoming.on('data', (d: Buffer) => received.push(d)).on('end', resolve));
            for (let i = 0; i < payload.length; i += 100_000) peer.out.write(payload.subarray(i, i + 100_000));
            peer.out.end();
            await done;
            assert.ok(Buffer.concat(received).equals(payload), 'the echo differs');
          } finally {
            await server.close();
          }
        });

        it('destroys a connection whose input does not decompress', async () => {
          const server = await startTranslating(backend, translator);
          try {
            const socket = await connect(server.port);
            socket.write('this is not compressed at all');
            await closed(socket);
            await eventually(() => server.reasons.length === 1, 5000, 'closed$');
            const error = server.reasons[0].error as TranslationError;
            assert.equal(error.code, 'ERR_RXLOOP_DECOMPRESS');
            assert.match(error.message, /^cannot decompress the input: /);
          } finally {
            await server.close();
          }
        });
      });
    }

    it('stacks translators: TLS inside deflate', async () => {
      const { server, port } = await startServer(backend, (conn) => {
        const secure = translate(translate(conn, deflate()), tlsServer({ key: certs.serverKey, cert: certs.serverCert }));
        secure.writeFrom(secure.input$.pipe(map((chunk) => `secure and small: ${chunk}`)));
        return secure.closed$.pipe(ignoreElements());
      });
      try {
        const tcp = await connect(port);
        // Every write of the client's TLS records is flushed at once, so the handshake can proceed.
        const compressing = zlib.createDeflate({ flush: zlib.constants.Z_SYNC_FLUSH });
        const inflating = zlib.createInflate();
        compressing.pipe(tcp);
        tcp.pipe(inflating);
        const secure = tls.connect({ socket: Duplex.from({ readable: inflating, writable: compressing }), ca: certs.ca, servername: 'localhost' });
        const reply = readToEnd(secure);
        secure.end('hello');
        assert.equal((await reply).toString(), 'secure and small: hello');
      } finally {
        await server.close();
      }
    });
  });
}
