import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { Subject } from 'rxjs';
import { RespProtocolError, respCommands, respReplies, type RespReply } from '../../operators';
import { decode } from './support';

/** Sends `request` on a fresh connection; resolves with the first reply, or undefined if none comes in `waitMs`. */
function firstReply(socketPath: string, request: Buffer, waitMs: number): Promise<RespReply | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const input = new Subject<Buffer>();
    const timer = setTimeout(() => finish(undefined), waitMs);
    const finish = (reply: RespReply | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    input.pipe(respReplies()).subscribe({ next: finish, error: reject });
    socket.on('data', (data) => input.next(data));
    socket.on('error', reject);
    socket.write(request);
  });
}

/**
 * Differential tests against a real redis-server, when one is installed (they are skipped
 * otherwise): the inline splitting and the protocol-error texts, where redis-server's behaviour
 * is subtle enough that reading its source is not proof.
 */
describe('operators: respCommands against redis-server', function () {
  this.timeout(60_000);
  let server: ChildProcess | undefined;
  let directory = '';
  let socketPath = '';

  before(async function () {
    if (spawnSync('redis-server', ['--version']).status !== 0) this.skip();
    directory = mkdtempSync(join(tmpdir(), 'rxloop-redis-'));
    socketPath = join(directory, 'redis.sock');
    server = spawn('redis-server', ['--port', '0', '--unixsocket', socketPath, '--save', '', '--appendonly', 'no', '--dir', directory], { stdio: 'ignore' });
    for (let waited = 0; !existsSync(socketPath); waited += 20) {
      if (waited > 5000) throw new Error('redis-server did not start');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  after(() => {
    server?.kill();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  it('splits any inline line into the arguments redis-server sees (EVAL "return ARGV")', async () => {
    const line = fc
      .array(fc.constantFrom(' ', '\t', '\x0b', '\x0c', '\r', '"', "'", '\\', 'x', '4', 'f', 'n', 'a', '\xe9'), { maxLength: 16 })
      .map((parts) => parts.join(''));
    await fc.assert(
      fc.asyncProperty(line, async (tail) => {
        const request = Buffer.from(`EVAL "return ARGV" 0 ${tail}\r\n`, 'latin1');
        const theirs = await firstReply(socketPath, request, 2000);
        const ours = decode(respCommands(), [request]);
        if (ours.error instanceof RespProtocolError) {
          assert.equal((theirs as Error).message, `ERR ${ours.error.message}`);
        } else {
          assert.deepEqual((theirs as Buffer[]).map((argument) => argument.toString('hex')), ours.values[0]!.slice(3).map((argument) => argument.toString('hex')));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('answers malformed input with the same error text, or waits where we wait', async () => {
    const inputs = [
      '*2147483648\r\n', '*01\r\n', '*-9223372036854775809\r\n', '*1\r\n$-1\r\n', '*1\r\n$04\r\n', '*1\r\n$536870913\r\n',
      '*1\r\nX\r\n', '*1\r\n\n\r\n', 'ECHO "a"b\r\n', "ECHO 'a\r\n", 'x'.repeat(65537), '*' + '1'.repeat(65536),
      '*1\r\n$' + '1'.repeat(65536), '*1\r\n$536870912\r\n', 'x'.repeat(65536),
    ];
    for (const input of inputs) {
      const bytes = Buffer.from(input, 'latin1');
      const theirs = await firstReply(socketPath, bytes, 300);
      // redis-server 7 allows 2^31 - 1 arguments; our default limit is 1024 * 1024.
      const ours = decode(respCommands({ maxArrayLength: 2 ** 31 - 1 }), [bytes]);
      const expected = ours.error instanceof RespProtocolError ? `ERR ${ours.error.message}` : undefined;
      assert.equal(theirs instanceof Error ? theirs.message : theirs, expected, JSON.stringify(input.slice(0, 30)));
    }
  });
});
