import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { encodeReply } from '../../operators';

/**
 * The ways the redis example runs that every redis spec covers: each backend with one loop, and
 * connections served by two loops in worker threads with the commands run in the main thread.
 */
export const REDIS_SETUPS = [
  { name: 'native backend', backend: 'native', loops: 1 },
  { name: 'node backend', backend: 'node', loops: 1 },
  { name: 'native backend, 2 loops', backend: 'native', loops: 2 },
] as const;

export type CommandArgs = readonly (string | Buffer)[];

/** A command as a client sends it: a RESP array of bulk strings. */
export function encodeCommand(args: CommandArgs): Buffer {
  return encodeReply(args.map((arg) => (typeof arg === 'string' ? Buffer.from(arg) : arg)));
}

const LF = 0x0a;

/** The end of the line that starts at `start` (just past its LF), or -1 if it has not all arrived. */
function lineEnd(bytes: Buffer, start: number): number {
  const lf = bytes.indexOf(LF, start);
  return lf < 0 ? -1 : lf + 1;
}

/**
 * Where the RESP2/RESP3 reply starting at `start` ends, or -1 if it has not all arrived. Only
 * finds boundaries: the replies themselves are compared as bytes.
 */
export function replyEnd(bytes: Buffer, start: number): number {
  if (start >= bytes.length) return -1;
  const type = String.fromCharCode(bytes[start]!);
  const headerEnd = lineEnd(bytes, start);
  if (headerEnd < 0) return -1;
  const count = Number(bytes.toString('latin1', start + 1, headerEnd - 2));
  switch (type) {
    case '$':
    case '=':
    case '!':
      if (count < 0) return headerEnd;
      return headerEnd + count + 2 <= bytes.length ? headerEnd + count + 2 : -1;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      let position = headerEnd;
      const items = type === '%' || type === '|' ? count * 2 : count;
      for (let item = 0; item < items && position >= 0; item++) position = replyEnd(bytes, position);
      if (type === '|' && position >= 0) return replyEnd(bytes, position); // attributes precede a reply
      return position;
    }
    default: // + - : , _ # ( and inline
      return headerEnd;
  }
}

/** A raw client: writes bytes, and reads replies as the exact bytes the server sent. */
export class RawRedisClient {
  private received = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();
  private ended = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      for (const wake of this.waiters) wake();
    });
    socket.on('close', () => {
      this.ended = true;
      for (const wake of this.waiters) wake();
    });
    socket.on('error', () => undefined); // a reset shows as the end of the replies
  }

  static connect(target: number | string): Promise<RawRedisClient> {
    return new Promise((resolve, reject) => {
      const socket = typeof target === 'number' ? net.connect(target, '127.0.0.1') : net.connect(target);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawRedisClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Sends each command (an array of arguments, or raw bytes) in one write, and reads one reply per command. */
  async call(commands: readonly (CommandArgs | Buffer)[]): Promise<Buffer[]> {
    this.socket.write(Buffer.concat(commands.map((command) => (Buffer.isBuffer(command) ? command : encodeCommand(command)))));
    return this.replies(commands.length);
  }

  /** Reads `count` replies, as exact bytes each. */
  async replies(count: number, timeoutMs = 5000): Promise<Buffer[]> {
    const replies: Buffer[] = [];
    await this.until(() => {
      while (replies.length < count) {
        const end = replyEnd(this.received, 0);
        if (end < 0) return false;
        replies.push(this.received.subarray(0, end));
        this.received = this.received.subarray(end);
      }
      return true;
    }, timeoutMs, `${count} replies (got ${replies.length}: ${replies.map(String).join(' | ')})`);
    return replies;
  }

  /** Resolves once the server has closed the connection, with whatever it sent that was not read. */
  async closed(timeoutMs = 5000): Promise<Buffer> {
    await this.until(() => this.ended, timeoutMs, 'the server to close the connection');
    return this.received;
  }

  close(): void {
    this.socket.destroy();
  }

  private until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) finish(null);
        else if (this.ended) finish(new Error(`connection closed while waiting for ${what}`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const finish = (error: Error | null): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.waiters.add(check);
      check();
    });
  }
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

export interface RealRedis {
  /** Its unix socket. */
  readonly path: string;
  stop(): void;
}

/** Starts redis-server on a unix socket in a fresh directory, with no persistence. */
export async function startRealRedis(): Promise<RealRedis> {
  const directory = mkdtempSync(join(tmpdir(), 'rxloop-redis-'));
  const path = join(directory, 'redis.sock');
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no', '--dir', directory], {
    stdio: 'ignore',
  });
  for (let waited = 0; !existsSync(path); waited += 20) {
    if (waited > 5000) {
      child.kill();
      throw new Error('redis-server did not start');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    path,
    stop: () => {
      child.kill();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
