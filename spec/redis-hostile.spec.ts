// The redis example against hostile clients, over real sockets: negative and huge lengths, endless
// lines, binary noise, many such clients at once, and one that pipelines without ever reading a
// reply. Each must get redis-server's own answer (checked against a real redis-server where one is
// installed) and lose its connection, or be slowed by TCP; the server's memory (it runs in a child
// process) must grow by less than 100 MB, and it must still serve.
import { strict as assert } from 'node:assert';
import type * as net from 'node:net';

import { connect, pattern, trickle } from './support/helpers';
import { HostileSuite } from './support/hostile';
import { RawRedisClient, REDIS_SETUPS, redisServerInstalled, replyEnd, startRealRedis, type RealRedis } from './support/redis';

const MB = 1_000_000;
const protocolError = (text: string): string => `-ERR Protocol error: ${text}\r\n`;

/** What a hostile client sends, whole or a piece at a time, and redis-server's answer before it closes. */
interface HostileCase {
  readonly name: string;
  readonly input: Buffer;
  readonly trickle?: boolean;
  readonly reply: string;
}

const CASES: readonly HostileCase[] = [
  { name: 'a multibulk length past 2^31 (*99999999999)', input: Buffer.from('*99999999999\r\n'), reply: protocolError('invalid multibulk length') },
  { name: 'a multibulk length past 2^63', input: Buffer.from('*9223372036854775808\r\n'), reply: protocolError('invalid multibulk length') },
  { name: 'a negative bulk length ($-2)', input: Buffer.from('*1\r\n$-2\r\n'), reply: protocolError('invalid bulk length') },
  { name: 'a bulk length of 2^31 ($2147483648)', input: Buffer.from('*1\r\n$2147483648\r\n'), reply: protocolError('invalid bulk length') },
  { name: 'a 600 MB bulk header, then a trickle', input: Buffer.concat([Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$600000000\r\n'), Buffer.alloc(64 * 1024, 'v')]), trickle: true, reply: protocolError('invalid bulk length') },
  { name: 'an endless inline line (no newline, past 64 KiB)', input: Buffer.alloc(200 * 1024, 'x'), trickle: true, reply: protocolError('too big inline request') },
  { name: 'an endless multibulk count', input: Buffer.from(`*${'9'.repeat(100 * 1024)}`), trickle: true, reply: protocolError('too big mbulk count string') },
  { name: 'an endless bulk count', input: Buffer.from(`*1\r\n$${'1'.repeat(100 * 1024)}`), trickle: true, reply: protocolError('too big bulk count string') },
  { name: 'something else where a bulk string belongs', input: Buffer.from('*1\r\n:1\r\n'), reply: protocolError("expected '$', got ':'") },
  { name: 'unbalanced quotes in an inline command', input: Buffer.from('SET "k v\r\n'), reply: protocolError('unbalanced quotes in request') },
];

/** Sends `input` and resolves with everything the server sent before it closed the connection. */
async function answerTo(target: number | string, input: Buffer, piecewise = false): Promise<string> {
  const client = await RawRedisClient.connect(target);
  if (piecewise) await trickle(client.socket, input, 4096);
  else client.socket.write(input);
  return (await client.closed(10_000)).toString('latin1');
}

/** The replies in `bytes`, split at their ends. */
function splitReplies(bytes: Buffer): string[] {
  const replies: string[] = [];
  for (let start = 0; start < bytes.length; ) {
    const end = replyEnd(bytes, start);
    if (end < 0) throw new Error(`an incomplete reply: ${JSON.stringify(bytes.toString('latin1', start, start + 80))}`);
    replies.push(bytes.toString('latin1', start, end));
    start = end;
  }
  return replies;
}

async function servesNormally(target: number | string): Promise<void> {
  const client = await RawRedisClient.connect(target);
  try {
    const replies = await client.call([['PING'], ['SET', 'after', 'hostile'], ['GET', 'after']]);
    assert.deepEqual(replies.map(String), ['+PONG\r\n', '+OK\r\n', '$7\r\nhostile\r\n']);
  } finally {
    client.close();
  }
}

/** The command line of the example server for one of the setups. */
function redisArgs(setup: (typeof REDIS_SETUPS)[number]): string[] {
  return ['redis', '--port', '0', '--backend', setup.backend, '--loops', String(setup.loops)];
}

for (const setup of REDIS_SETUPS) {
  describe(`redis example under hostile input (${setup.name}, in a child process)`, function () {
    this.timeout(60_000);
    const suite = new HostileSuite(redisArgs(setup), servesNormally);
    let realRedis: RealRedis | undefined;

    before(async () => {
      if (redisServerInstalled()) realRedis = await startRealRedis();
    });

    after(() => realRedis?.stop());

    for (const hostile of CASES) {
      it(`${hostile.name}: ${JSON.stringify(hostile.reply.trim())}, then closes`, async () => {
        assert.equal(await answerTo(suite.port, hostile.input, hostile.trickle), hostile.reply);
        if (realRedis) assert.equal(await answerTo(realRedis.path, hostile.input, hostile.trickle), hostile.reply, 'redis-server answers the same');
      });
    }

    it('skips negative and zero multibulk lengths (*-5, *-1, *0) as redis-server does, and goes on', async () => {
      for (const target of realRedis ? [suite.port, realRedis.path] : [suite.port]) {
        const client = await RawRedisClient.connect(target);
        try {
          client.socket.write('*-5\r\n*-1\r\n*0\r\n*-9223372036854775808\r\nPING\r\n');
          assert.deepEqual((await client.replies(1)).map(String), ['+PONG\r\n'], `at ${target}`);
        } finally {
          client.close();
        }
      }
    });

    it('holds a bulk string announced at the 512 MiB limit only as far as it has arrived, and serves others meanwhile', async () => {
      const client = await RawRedisClient.connect(suite.port);
      try {
        client.socket.write('*3\r\n$3\r\nSET\r\n$5\r\nlarge\r\n$536870912\r\n');
        const rssAtStart = suite.server.rss();
        await trickle(client.socket, Buffer.alloc(4 * 1024 * 1024, 'v'), 64 * 1024);
        await servesNormally(suite.port);
        const growth = suite.server.rss() - rssAtStart;
        assert.ok(growth < 64 * MB, `RSS grew ${(growth / MB).toFixed(1)} MB for 4 MiB of a 512 MiB value`);
      } finally {
        client.close();
      }
    });

    it('answers binary noise with error replies only, and closes', async () => {
      const client = await RawRedisClient.connect(suite.port);
      client.socket.end(pattern(512 * 1024, 7));
      const replies = splitReplies(await client.closed(10_000));
      assert.ok(replies.length > 0, 'some answer');
      const notErrors = replies.filter((reply) => !reply.startsWith('-'));
      assert.deepEqual(notErrors, [], 'nothing but error replies');
    });

    it('answers 300 hostile clients at once, each with its error', async () => {
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, index) => {
          const hostile = CASES[index % CASES.length]!;
          return answerTo(suite.port, hostile.input, hostile.trickle).then((answer) => [answer, hostile.reply]);
        }),
      );
      for (const [answer, expected] of answers) assert.equal(answer, expected);
    });

    suite.itStillServesAndGrewLittle();
  });
}

/**
 * Writes `chunk` over and over until `limit` bytes have gone, or until a write has waited
 * `stallMs` for 'drain' (the peer stopped reading, and TCP pushed back). Returns the bytes written.
 */
async function writeUntilStalled(socket: net.Socket, chunk: Buffer, limit: number, stallMs: number): Promise<number> {
  let written = 0;
  while (written < limit && !socket.destroyed) {
    written += chunk.length;
    if (socket.write(chunk)) continue;
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        socket.off('drain', onDrain);
        resolve(false);
      }, stallMs);
      const onDrain = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      socket.once('drain', onDrain);
    });
    if (!drained) break;
  }
  return written;
}

// In its own child process: what a client that never reads costs the server is measured alone.
// With 2 loops the input crosses to the main thread, which must push back as well.
for (const setup of REDIS_SETUPS) {
  describe(`redis example against a client that pipelines and never reads (${setup.name}, in a child process)`, function () {
    this.timeout(60_000);
    const suite = new HostileSuite(redisArgs(setup), servesNormally);

    it('stops reading from it once its replies back up, so TCP slows it, and serves others meanwhile', async () => {
      const pings = Buffer.from('*1\r\n$4\r\nPING\r\n'.repeat(4096));
      const limit = 200 * MB;
      const socket = await connect(suite.port);
      socket.pause(); // never reads: the replies stay in the kernel's buffers
      socket.on('error', () => undefined);
      try {
        const written = await writeUntilStalled(socket, pings, limit, 1000);
        console.log(`      the client wrote ${(written / MB).toFixed(1)} MB before TCP stopped it`);
        assert.ok(written < limit, `the server read all ${limit / MB} MB of a client that reads nothing`);
        await servesNormally(suite.port);
      } finally {
        socket.destroy();
      }
    });

    suite.itStillServesAndGrewLittle();
  });
}
