// Peers that come and go the ways real clients do, for the churn spec and bench/soak.js (which
// loads this from dist/).
import * as net from 'node:net';

/** How a churning peer leaves: FIN after its echo, RST after its echo, or FIN before reading the echo. */
export type Departure = 'close' | 'reset' | 'halfClose';
export const DEPARTURES: readonly Departure[] = ['close', 'reset', 'halfClose'];

const MESSAGE = Buffer.alloc(64, 'c');

/** Connects, failing after `timeoutMs` of silence. */
export function connectPeer(port: number, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timed out')));
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** How many bytes arrived once `bytes` have, or the peer ended or closed first. */
function received(socket: net.Socket, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let count = 0;
    const onData = (data: Buffer): void => {
      count += data.length;
      if (count >= bytes) finish();
    };
    const finish = (): void => {
      socket.off('data', onData);
      resolve(count);
    };
    socket.on('data', onData);
    socket.once('end', finish);
    socket.once('close', finish);
    socket.once('error', reject);
  });
}

const closed = (socket: net.Socket): Promise<void> => new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));

/**
 * One connection to an echo server that sends 64 B, checks they come back, and leaves by
 * `departure`. A half-closing peer sends its FIN with the message: the server must still echo it,
 * then send its own FIN.
 */
export async function churnOnce(port: number, departure: Departure): Promise<void> {
  const socket = await connectPeer(port);
  socket.on('error', () => undefined); // after a reset, nothing more is expected of this socket
  const echoed = received(socket, departure === 'halfClose' ? Infinity : MESSAGE.length);
  if (departure === 'halfClose') socket.end(MESSAGE);
  else socket.write(MESSAGE);
  const count = await echoed;
  if (count !== MESSAGE.length) {
    socket.destroy();
    throw new Error(`${departure}: ${count} of ${MESSAGE.length} bytes echoed`);
  }
  if (departure === 'reset') socket.resetAndDestroy();
  else if (departure === 'close') socket.end();
  await closed(socket);
}

/**
 * `total` churning connections, `concurrency` at a time, leaving in turn by each departure.
 * Resolves with how many left each way, and the errors (at most 10 kept).
 */
export async function churn(port: number, total: number, concurrency: number): Promise<{ departed: Record<Departure, number>; errors: Error[] }> {
  const departed: Record<Departure, number> = { close: 0, reset: 0, halfClose: 0 };
  const errors: Error[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const departure = DEPARTURES[next++ % DEPARTURES.length]!;
      try {
        await churnOnce(port, departure);
        departed[departure]++;
      } catch (error) {
        if (errors.length < 10) errors.push(error as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { departed, errors };
}
