import { createCipheriv } from 'node:crypto';
import * as net from 'node:net';

import { type Connection, type Server, type ServerOptions, connections$, serve } from '../../lib';

export const BACKENDS = ['native', 'node'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface Started {
  server: Server;
  port: number;
}

export async function startServer(
  backend: Backend,
  handler: Parameters<typeof serve>[1],
  options: ServerOptions = {},
  address = 'tcp://127.0.0.1:0',
): Promise<Started> {
  const server = serve(address, handler, { backend, ...options });
  const [bound] = await server.listening;
  return { server, port: bound.port };
}

export function connect(target: number | string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket =
      typeof target === 'number' ? net.connect({ port: target, host: '127.0.0.1' }) : net.connect({ path: target });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Everything the socket receives until the peer's FIN (or the socket closes). */
export function readToEnd(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('close', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** Resolves once `n` bytes have arrived. */
export function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= n) {
        socket.removeListener('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed after ${total} of ${n} bytes`)));
  });
}

/** Fails unless `text` written to `socket` comes back: an echo server still serving this peer. */
export async function assertEchoes(socket: net.Socket, text = 'still'): Promise<void> {
  const echoed = readBytes(socket, Buffer.byteLength(text));
  socket.write(text);
  if ((await echoed).toString() !== text) throw new Error(`expected the echo '${text}'`);
}

export function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed && socket.closed) resolve();
    else socket.once('close', () => resolve());
  });
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds, or fails after `ms`. */
export async function eventually(condition: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/**
 * Writes `total` bytes of a pattern, honouring backpressure, and reads them back through an echo,
 * checking each byte; a slow reader pauses after every chunk, keeping the server's output full.
 */
export async function echoThrough(socket: net.Socket, total: number, slowReader: boolean): Promise<void> {
  const block = pattern(256 * 1024, 11);
  let received = 0;
  let mismatch = -1;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (data: Buffer) => {
      for (let i = 0; i < data.length && mismatch < 0; i++) {
        if (data[i] !== block[(received + i) % block.length]) mismatch = received + i;
      }
      received += data.length;
      if (slowReader) {
        socket.pause();
        setTimeout(() => socket.resume(), 1);
      }
      if (received >= total) resolve();
    });
    socket.once('error', reject);
  });
  for (let sent = 0; sent < total; sent += block.length) {
    if (!socket.write(block)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  await done;
  if (mismatch >= 0) throw new Error(`byte ${mismatch} differs`);
  if (received !== total) throw new Error(`received ${received} bytes of ${total}`);
}

/**
 * Deterministic numbers in [0, 1): a 32-bit LCG, multiplied with Math.imul. (A plain `*` of two
 * such numbers passes 2^53 and loses the low bits, and the sequence falls into a cycle of a few
 * thousand values.)
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
}

/** A deterministic byte pattern, so corruption, loss and duplication all show. */
export function pattern(length: number, seed = 1): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/**
 * An endless deterministic byte stream (AES-128-CTR's keystream for `seed`), made on demand: a
 * sender and a checker built with the same seed agree byte for byte, so megabytes can be sent
 * and checked without either side holding them, and a lost, duplicated or reordered chunk shows.
 */
export function keystream(seed: number): { next(length: number): Buffer } {
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed >>> 0);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  let zeros = Buffer.alloc(0);
  return {
    next(length: number): Buffer {
      if (zeros.length < length) zeros = Buffer.alloc(length);
      return cipher.update(zeros.subarray(0, length));
    },
  };
}

export function openFds(): number {
  return require('node:fs').readdirSync('/proc/self/fd').length as number;
}

export { connections$, type Connection };

/**
 * Writes `bytes` `pieceSize` at a time, a timer tick apart, so the server reads them in many
 * pieces; stops early, without error, once the server has closed or reset the connection.
 */
export async function trickle(socket: net.Socket, bytes: Buffer, pieceSize: number): Promise<void> {
  let gone = false;
  const onGone = (): void => {
    gone = true;
  };
  socket.once('end', onGone);
  socket.once('close', onGone);
  socket.on('error', onGone);
  for (let start = 0; start < bytes.length && !gone && !socket.destroyed; start += pieceSize) {
    socket.write(bytes.subarray(start, start + pieceSize));
    await delay(1);
  }
  socket.off('end', onGone);
  socket.off('close', onGone);
}
