import { strict as assert } from 'node:assert';

import Redis from 'ioredis';

import { type RedisServer, startRedisServer } from '../examples/redis';
import { delay, eventually } from './support/helpers';
import { encodeCommand, RawRedisClient, REDIS_SETUPS } from './support/redis';

const HOST = '127.0.0.1';

function client(port: number, protocol: 2 | 3): Redis {
  return new Redis({ host: HOST, port, protocol, maxRetriesPerRequest: 0, retryStrategy: () => null });
}

/** Every byte value, for binary-safety checks. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, index) => index));

for (const { name, backend, loops } of REDIS_SETUPS) {
  describe(`redis example (${name})`, function () {
    this.timeout(20_000);
    let server: RedisServer;
    let port: number;

    before(async () => {
      server = startRedisServer({ address: `tcp://${HOST}:0`, backend, loops });
      port = (await server.listening)[0]!.port;
    });

    after(async () => {
      await server.close();
    });

    // The commands, through a real client, under both protocols (ioredis maps RESP3 replies back to
    // the shapes it gives for RESP2, so the expectations are the same).
    for (const protocol of [2, 3] as const) {
      describe(`commands over RESP${protocol}`, () => {
        let redis: Redis;

        beforeEach(async () => {
          redis = client(port, protocol);
          await redis.flushall();
        });

        afterEach(() => redis.disconnect());

        it('connection: PING, ECHO, SELECT, HELLO, CLIENT', async () => {
          assert.equal(await redis.ping(), 'PONG');
          assert.equal(await redis.ping('hi'), 'hi');
          assert.equal(await redis.echo('hello'), 'hello');
          assert.equal(await redis.select(0), 'OK');
          await assert.rejects(redis.select(1), /^ReplyError: ERR DB index is out of range$/);
          await assert.rejects(redis.call('SELECT', 'x'), /ERR value is not an integer or out of range/);
          const hello = (await redis.call('HELLO')) as unknown[];
          assert.deepEqual(hello.slice(0, 6), ['server', 'redis', 'version', '7.0.15', 'proto', protocol]);
          assert.deepEqual(hello.slice(8), ['mode', 'standalone', 'role', 'master', 'modules', []]);
          await assert.rejects(redis.call('HELLO', '4'), /NOPROTO unsupported protocol version/);
          const id = (await redis.client('ID')) as number;
          assert.ok(Number.isInteger(id) && id > 0);
          assert.equal(hello[7], id);
          assert.equal(await redis.client('GETNAME'), null);
          assert.equal(await redis.client('SETNAME', 'worker-1'), 'OK');
          assert.equal(await redis.client('GETNAME'), 'worker-1');
          await assert.rejects(redis.client('SETNAME', 'a b'), /ERR Client names cannot contain spaces/);
          assert.equal(await redis.call('CLIENT', 'SETINFO', 'LIB-NAME', 'spec'), 'OK');
          const info = (await redis.client('INFO')) as string;
          assert.match(info, new RegExp(`^id=${id} addr=127\\.0\\.0\\.1:\\d+ laddr=127\\.0\\.0\\.1:${port} name=worker-1 age=\\d+ .* resp=${protocol} lib-name=spec lib-ver=\\S*\\n$`));
          const other = client(port, protocol);
          try {
            await other.ping();
            const list = ((await redis.client('LIST')) as string).trim().split('\n');
            assert.ok(list.length >= 2 && list.some((line) => line.startsWith(`id=${id} `)), list.join('\n'));
          } finally {
            other.disconnect();
          }
          await assert.rejects(redis.call('CLIENT', 'NOPE'), /^ReplyError: ERR unknown subcommand 'NOPE'. Try CLIENT HELP.$/);
          await assert.rejects(redis.call('CLIENT', 'SETNAME'), /ERR wrong number of arguments for 'client\|setname' command/);
        });

        it('server: COMMAND, CONFIG GET, INFO, DBSIZE, FLUSHDB', async () => {
          const count = (await redis.call('COMMAND', 'COUNT')) as number;
          assert.ok(count >= 60, `COMMAND COUNT ${count}`);
          assert.equal(((await redis.call('COMMAND')) as unknown[]).length, count);
          const [getInfo, missing] = (await redis.call('COMMAND', 'INFO', 'get', 'nosuch')) as [unknown[], null];
          assert.deepEqual(getInfo.slice(0, 6), ['get', 2, ['readonly', 'fast'], 1, 1, 1]);
          assert.equal(missing, null);
          const docs = (await redis.call('COMMAND', 'DOCS', 'set')) as unknown[];
          assert.equal(docs[0], 'set');
          assert.deepEqual((docs[1] as unknown[]).slice(0, 6), ['summary', 'Set the string value of a key', 'since', '1.0.0', 'group', 'string']);
          assert.deepEqual(await redis.config('GET', 'save'), ['save', '']);
          assert.deepEqual(await redis.config('GET', 'appendonly'), ['appendonly', 'no']);
          assert.deepEqual(await redis.config('GET', 'port'), ['port', String(port)]);
          await redis.set('a', '1');
          const info = await redis.info();
          for (const section of ['Server', 'Clients', 'Memory', 'Persistence', 'Stats', 'Replication', 'CPU', 'Keyspace']) {
            assert.match(info, new RegExp(`^# ${section}\r$`, 'm'));
          }
          assert.match(info, /^loading:0\r$/m);
          assert.match(info, /^db0:keys=1,expires=0,avg_ttl=0\r$/m);
          assert.match(info, new RegExp(`^rxloop_backend:${backend}\r$`, 'm'));
          assert.equal(await redis.info('keyspace'), '# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n');
          assert.equal(await redis.dbsize(), 1);
          assert.equal(await redis.flushdb(), 'OK');
          assert.equal(await redis.dbsize(), 0);
          await assert.rejects(redis.call('FLUSHDB', 'NOW'), /^ReplyError: ERR syntax error$/);
        });

        it('keys: DEL, EXISTS, TYPE, KEYS', async () => {
          await redis.mset('user:1', 'a', 'user:2', 'b', 'other', 'c');
          await redis.rpush('list', 'x');
          await redis.sadd('set', 'x');
          await redis.hset('hash', 'f', 'v');
          await redis.zadd('zset', 1, 'x');
          assert.equal(await redis.exists('user:1', 'user:1', 'nope'), 2);
          assert.deepEqual(
            await Promise.all(['user:1', 'list', 'set', 'hash', 'zset', 'nope'].map((key) => redis.type(key))),
            ['string', 'list', 'set', 'hash', 'zset', 'none'],
          );
          assert.deepEqual((await redis.keys('user:*')).sort(), ['user:1', 'user:2']);
          assert.deepEqual((await redis.keys('user:[^1]')).sort(), ['user:2']);
          assert.deepEqual((await redis.keys('*')).sort(), ['hash', 'list', 'other', 'set', 'user:1', 'user:2', 'zset']);
          assert.equal(await redis.del('user:1', 'user:2', 'nope'), 2);
          assert.equal(await redis.exists('user:1'), 0);
        });

        it('expiry: EXPIRE, PEXPIRE, TTL, PTTL, PERSIST, SET PX, lazily and by the sweep', async () => {
          await redis.set('k', 'v');
          assert.equal(await redis.ttl('k'), -1);
          assert.equal(await redis.ttl('nope'), -2);
          assert.equal(await redis.pttl('nope'), -2);
          assert.equal(await redis.expire('k', 100), 1);
          assert.equal(await redis.ttl('k'), 100);
          const pttl = await redis.pttl('k');
          assert.ok(pttl > 99_000 && pttl <= 100_000, `PTTL ${pttl}`);
          assert.equal(await redis.call('EXPIRE', 'k', '50', 'GT'), 0);
          assert.equal(await redis.call('EXPIRE', 'k', '50', 'LT'), 1);
          assert.equal(await redis.call('EXPIRE', 'k', '60', 'NX'), 0);
          await assert.rejects(redis.call('EXPIRE', 'k', '60', 'NX', 'XX'), /ERR NX and XX, GT or LT options at the same time are not compatible/);
          await assert.rejects(redis.call('EXPIRE', 'k', '60', 'XY'), /^ReplyError: ERR Unsupported option XY$/);
          assert.equal(await redis.persist('k'), 1);
          assert.equal(await redis.persist('k'), 0);
          assert.equal(await redis.ttl('k'), -1);
          assert.equal(await redis.expire('nope', 10), 0);
          await assert.rejects(redis.expire('k', 'soon' as never), /ERR value is not an integer or out of range/);

          // Short lives, looked up after their end: gone (lazy expiry). Lives of 300 ms, so that a
          // loaded machine does not end them before the first look.
          await redis.set('short', 'v', 'PX', 300);
          await redis.pexpire('k', 300);
          await redis.set('kept', 'v', 'PX', 10_000);
          assert.equal(await redis.get('short'), 'v');
          await delay(400);
          assert.equal(await redis.get('short'), null);
          assert.equal(await redis.exists('k'), 0);
          assert.equal(await redis.get('kept'), 'v');
          // An expiry in the past deletes at once.
          await redis.set('past', 'v');
          assert.equal(await redis.expire('past', -1), 1);
          assert.equal(await redis.exists('past'), 0);

          // Keys nobody looks up again are removed by the active sweep.
          const pipeline = redis.pipeline();
          for (let index = 0; index < 500; index++) pipeline.set(`volatile:${index}`, 'v', 'PX', 300);
          await pipeline.exec();
          assert.equal(await redis.dbsize(), 501);
          await eventually(() => server.keyspace.size === 1, 5000, 'the sweep to remove the expired keys');
          assert.equal(await redis.dbsize(), 1);
        });

        it('strings: GET, SET and its options, SETNX, GETSET, MGET, MSET, APPEND, STRLEN', async () => {
          assert.equal(await redis.get('s'), null);
          assert.equal(await redis.set('s', 'one'), 'OK');
          assert.equal(await redis.get('s'), 'one');
          assert.equal(await redis.set('s', 'two', 'NX'), null);
          assert.equal(await redis.set('s', 'two', 'XX'), 'OK');
          assert.equal(await redis.set('fresh', 'x', 'XX'), null);
          assert.equal(await redis.set('s', 'three', 'GET'), 'two');
          assert.equal(await redis.set('new', 'v', 'NX', 'GET'), null);
          assert.equal(await redis.set('s', 'four', 'EX', 100), 'OK');
          assert.equal(await redis.ttl('s'), 100);
          assert.equal(await redis.set('s', 'five', 'KEEPTTL'), 'OK');
          assert.equal(await redis.ttl('s'), 100);
          assert.equal(await redis.set('s', 'six'), 'OK');
          assert.equal(await redis.ttl('s'), -1);
          assert.equal(await redis.call('SET', 's', 'v', 'PXAT', String(Date.now() + 50_000)), 'OK');
          assert.ok((await redis.ttl('s')) > 40);
          await assert.rejects(redis.call('SET', 's', 'v', 'EX', '0'), /^ReplyError: ERR invalid expire time in 'set' command$/);
          await assert.rejects(redis.call('SET', 's', 'v', 'EX', 'x'), /ERR value is not an integer or out of range/);
          await assert.rejects(redis.call('SET', 's', 'v', 'NX', 'XX'), /^ReplyError: ERR syntax error$/);
          await assert.rejects(redis.call('SET', 's', 'v', 'EX', '10', 'PX', '10'), /^ReplyError: ERR syntax error$/);
          await assert.rejects(redis.call('SET', 's', 'v', 'EX'), /^ReplyError: ERR syntax error$/);
          assert.equal(await redis.setnx('s', 'x'), 0);
          assert.equal(await redis.setnx('n', 'x'), 1);
          assert.equal(await redis.getset('n', 'y'), 'x');
          assert.equal(await redis.getset('none', 'y'), null);
          assert.equal(await redis.mset('m1', 'a', 'm2', 'b'), 'OK');
          await redis.rpush('list', 'x');
          assert.deepEqual(await redis.mget('m1', 'nope', 'm2', 'list'), ['a', null, 'b', null]);
          assert.equal(await redis.append('m1', 'bc'), 3);
          assert.equal(await redis.append('fresh', 'xyz'), 3);
          assert.equal(await redis.get('m1'), 'abc');
          assert.equal(await redis.strlen('m1'), 3);
          assert.equal(await redis.strlen('nope'), 0);
          await assert.rejects(redis.call('MSET', 'a', 'b', 'c'), /^ReplyError: ERR wrong number of arguments for 'mset' command$/);
        });

        it('strings: INCR, DECR, INCRBY, DECRBY over the whole int64 range', async () => {
          assert.equal(await redis.incr('n'), 1);
          assert.equal(await redis.incrby('n', 41), 42);
          assert.equal(await redis.decr('n'), 41);
          assert.equal(await redis.decrby('n', 50), -9);
          assert.equal(await redis.get('n'), '-9');
          // Integers past 2^53, read as strings: a JavaScript number would round them.
          const exact = new Redis({ host: HOST, port, protocol, stringNumbers: true });
          try {
            await exact.set('big', '9223372036854775806');
            assert.equal(await exact.incr('big'), '9223372036854775807');
            await assert.rejects(exact.incr('big'), /^ReplyError: ERR increment or decrement would overflow$/);
            assert.equal(await exact.get('big'), '9223372036854775807');
            await exact.set('small', '-9223372036854775807');
            assert.equal(await exact.decr('small'), '-9223372036854775808');
            await assert.rejects(exact.decr('small'), /ERR increment or decrement would overflow/);
            assert.equal(await exact.incrby('small', '9223372036854775807'), '-1');
          } finally {
            exact.disconnect();
          }
          await assert.rejects(redis.call('DECRBY', 'n', '-9223372036854775808'), /^ReplyError: ERR decrement would overflow$/);
          await redis.set('text', 'abc');
          await assert.rejects(redis.incr('text'), /^ReplyError: ERR value is not an integer or out of range$/);
          await redis.set('spaced', ' 1');
          await assert.rejects(redis.incr('spaced'), /ERR value is not an integer or out of range/);
          await assert.rejects(redis.call('INCRBY', 'n', '1.5'), /ERR value is not an integer or out of range/);
          await redis.set('ttl', '1', 'EX', 100);
          await redis.incr('ttl');
          assert.equal(await redis.ttl('ttl'), 100, 'INCR keeps the time to live');
        });

        it('lists: LPUSH, RPUSH, LPOP, RPOP, LLEN, LRANGE, LINDEX', async () => {
          assert.equal(await redis.rpush('l', 'a', 'b', 'c'), 3);
          assert.equal(await redis.lpush('l', 'z', 'y'), 5);
          assert.deepEqual(await redis.lrange('l', 0, -1), ['y', 'z', 'a', 'b', 'c']);
          assert.deepEqual(await redis.lrange('l', -2, 100), ['b', 'c']);
          assert.deepEqual(await redis.lrange('l', 3, 1), []);
          assert.deepEqual(await redis.lrange('nope', 0, -1), []);
          assert.equal(await redis.lindex('l', 0), 'y');
          assert.equal(await redis.lindex('l', -1), 'c');
          assert.equal(await redis.lindex('l', 9), null);
          assert.equal(await redis.llen('l'), 5);
          assert.equal(await redis.lpop('l'), 'y');
          assert.equal(await redis.rpop('l'), 'c');
          assert.deepEqual(await redis.lpop('l', 2), ['z', 'a']);
          assert.deepEqual(await redis.call('LPOP', 'l', '0'), []);
          assert.deepEqual(await redis.rpop('l', 5), ['b']);
          assert.equal(await redis.exists('l'), 0, 'an emptied list is deleted');
          assert.equal(await redis.lpop('l'), null);
          assert.equal(await redis.call('LPOP', 'l', '2'), null);
          await assert.rejects(redis.call('LPOP', 'l', '-1'), /^ReplyError: ERR value is out of range, must be positive$/);
          await assert.rejects(redis.call('LPOP', 'l', '1', '2'), /ERR wrong number of arguments for 'lpop' command/);
          await assert.rejects(redis.call('LRANGE', 'l', 'a', '1'), /ERR value is not an integer or out of range/);
          // A long list, pushed at both ends.
          const pipeline = redis.pipeline();
          for (let index = 0; index < 1000; index++) pipeline.lpush('long', `-${index}`).rpush('long', `${index}`);
          await pipeline.exec();
          assert.equal(await redis.llen('long'), 2000);
          assert.deepEqual(await redis.lrange('long', 998, 1001), ['-1', '-0', '0', '1']);
        });

        it('sets: SADD, SREM, SCARD, SISMEMBER, SMEMBERS, SPOP', async () => {
          assert.equal(await redis.sadd('s', 'a', 'b', 'c', 'a'), 3);
          assert.equal(await redis.sadd('s', 'c', 'd'), 1);
          assert.equal(await redis.scard('s'), 4);
          assert.equal(await redis.sismember('s', 'a'), 1);
          assert.equal(await redis.sismember('s', 'x'), 0);
          assert.deepEqual((await redis.smembers('s')).sort(), ['a', 'b', 'c', 'd']);
          assert.equal(await redis.srem('s', 'a', 'x'), 1);
          const popped = await redis.spop('s');
          assert.ok(['b', 'c', 'd'].includes(popped!));
          const rest = await redis.spop('s', 10);
          assert.deepEqual([...rest, popped].sort(), ['b', 'c', 'd']);
          assert.equal(await redis.exists('s'), 0, 'an emptied set is deleted');
          assert.equal(await redis.spop('s'), null);
          assert.deepEqual(await redis.spop('s', 3), []);
          assert.deepEqual(await redis.smembers('s'), []);
          assert.equal(await redis.scard('s'), 0);
          await assert.rejects(redis.call('SPOP', 's', '1', '2'), /^ReplyError: ERR syntax error$/);
        });

        it('hashes: HSET, HGET, HDEL, HLEN, HEXISTS, HGETALL, HINCRBY', async () => {
          assert.equal(await redis.hset('h', 'a', '1', 'b', '2'), 2);
          assert.equal(await redis.hset('h', 'b', '3', 'c', '4'), 1);
          assert.equal(await redis.hget('h', 'b'), '3');
          assert.equal(await redis.hget('h', 'x'), null);
          assert.equal(await redis.hget('nope', 'x'), null);
          assert.equal(await redis.hlen('h'), 3);
          assert.equal(await redis.hexists('h', 'a'), 1);
          assert.equal(await redis.hexists('h', 'x'), 0);
          assert.deepEqual(await redis.hgetall('h'), { a: '1', b: '3', c: '4' });
          assert.deepEqual(await redis.hgetall('nope'), {});
          assert.equal(await redis.hincrby('h', 'a', 10), 11);
          assert.equal(await redis.hincrby('h', 'new', -5), -5);
          await redis.hset('h', 'text', 'abc');
          await assert.rejects(redis.hincrby('h', 'text', 1), /^ReplyError: ERR hash value is not an integer$/);
          await assert.rejects(redis.call('HINCRBY', 'h', 'a', 'x'), /ERR value is not an integer or out of range/);
          assert.equal(await redis.hdel('h', 'a', 'b', 'x'), 2);
          assert.equal(await redis.hdel('h', 'c', 'new', 'text'), 3);
          assert.equal(await redis.exists('h'), 0, 'an emptied hash is deleted');
          await assert.rejects(redis.call('HSET', 'h', 'a'), /^ReplyError: ERR wrong number of arguments for 'hset' command$/);
        });

        it('sorted sets: ZADD and its options, ZSCORE, ZCARD, ZRANGE, ZPOPMIN', async () => {
          assert.equal(await redis.zadd('z', 2, 'b', 1, 'a', 3, 'c'), 3);
          assert.equal(await redis.zadd('z', 2.5, 'b', 4, 'd'), 1);
          assert.equal(await redis.zadd('z', 'CH', '2', 'b', '5', 'e'), 2);
          assert.equal(await redis.zadd('z', 'NX', '9', 'a'), 0);
          assert.equal(await redis.zadd('z', 'XX', '9', 'nope'), 0);
          assert.equal(await redis.zadd('z', 'GT', 'CH', '0', 'a'), 0);
          assert.equal(await redis.zadd('z', 'LT', 'CH', '0.5', 'a'), 1);
          assert.equal(await redis.zadd('z', 'INCR', '0.25', 'a'), '0.75');
          assert.equal(await redis.zadd('z', 'NX', 'INCR', '1', 'a'), null);
          assert.equal(await redis.zscore('z', 'a'), '0.75');
          assert.equal(await redis.zscore('z', 'nope'), null);
          assert.equal(await redis.zcard('z'), 5);
          assert.deepEqual(await redis.zrange('z', '0', '-1'), ['a', 'b', 'c', 'd', 'e']);
          assert.deepEqual(await redis.zrange('z', '0', '1', 'WITHSCORES'), ['a', '0.75', 'b', '2']);
          assert.deepEqual(await redis.zrange('z', '0', '1', 'REV'), ['e', 'd']);
          assert.deepEqual(await redis.zrange('z', '(2', '+inf', 'BYSCORE', 'LIMIT', '1', '2'), ['d', 'e']);
          assert.deepEqual(await redis.zrange('z', '4', '-inf', 'BYSCORE', 'REV'), ['d', 'c', 'b', 'a']);
          assert.deepEqual(await redis.zrange('nope', '0', '-1'), []);
          assert.equal(await redis.zadd('lex', 0, 'apple', 0, 'banana', 0, 'cherry'), 3);
          assert.deepEqual(await redis.zrange('lex', '[b', '+', 'BYLEX'), ['banana', 'cherry']);
          assert.deepEqual(await redis.zrange('lex', '(banana', '-', 'BYLEX', 'REV'), ['apple']);
          assert.deepEqual(await redis.zpopmin('z'), ['a', '0.75']);
          assert.deepEqual(await redis.zpopmin('z', 2), ['b', '2', 'c', '3']);
          assert.deepEqual(await redis.zpopmin('z', 5), ['d', '4', 'e', '5']);
          assert.equal(await redis.exists('z'), 0, 'an emptied sorted set is deleted');
          assert.deepEqual(await redis.zpopmin('z'), []);
          await assert.rejects(redis.call('ZADD', 'z', 'NX', '1'), /^ReplyError: ERR syntax error$/);
          await assert.rejects(redis.call('ZADD', 'z', 'x', 'a'), /^ReplyError: ERR value is not a valid float$/);
          await assert.rejects(redis.call('ZADD', 'z', 'NX', 'XX', '1', 'a'), /ERR XX and NX options at the same time are not compatible/);
          await assert.rejects(redis.call('ZADD', 'z', 'GT', 'LT', '1', 'a'), /ERR GT, LT, and\/or NX options at the same time are not compatible/);
          await assert.rejects(redis.call('ZADD', 'z', 'INCR', '1', 'a', '2', 'b'), /ERR INCR option supports a single increment-element pair/);
          await assert.rejects(redis.call('ZRANGE', 'z', '0', '1', 'LIMIT', '0', '1'), /ERR syntax error, LIMIT is only supported/);
          await assert.rejects(redis.call('ZRANGE', 'z', 'x', '1', 'BYSCORE'), /^ReplyError: ERR min or max is not a float$/);
        });

        it('errors: wrong type, wrong arity, unknown commands', async () => {
          await redis.set('string', 'v');
          await redis.rpush('list', 'v');
          const wrongType = /^ReplyError: WRONGTYPE Operation against a key holding the wrong kind of value$/;
          for (const command of [
            ['GET', 'list'], ['INCR', 'list'], ['APPEND', 'list', 'x'], ['STRLEN', 'list'], ['LPUSH', 'string', 'x'], ['LRANGE', 'string', '0', '1'],
            ['SADD', 'string', 'x'], ['SMEMBERS', 'list'], ['HSET', 'string', 'f', 'v'], ['HGETALL', 'list'], ['ZADD', 'string', '1', 'x'],
            ['ZRANGE', 'list', '0', '1'], ['SET', 'list', 'v', 'GET'], ['GETSET', 'list', 'v'],
          ]) {
            await assert.rejects(redis.call(command[0]!, ...command.slice(1)), wrongType, command.join(' '));
          }
          assert.equal(await redis.set('list', 'now a string'), 'OK', 'SET replaces a value of any type');
          for (const [name, args] of [['get', []], ['set', ['k']], ['lpush', ['k']], ['hget', ['k']], ['zadd', ['k', '1']], ['ping', ['a', 'b']], ['echo', []]] as const) {
            await assert.rejects(redis.call(name.toUpperCase(), ...args), new RegExp(`^ReplyError: ERR wrong number of arguments for '${name}' command$`));
          }
          await assert.rejects(redis.call('NOSUCH', 'a', 'b'), /^ReplyError: ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' $/);
          await assert.rejects(redis.call('NOSUCH'), /^ReplyError: ERR unknown command 'NOSUCH', with args beginning with: $/);
          assert.equal(await redis.call('gEt', 'string'), 'v', 'command names are case-insensitive');
        });

        it('answers a pipeline of 10,000 commands in order', async () => {
          const writes = redis.pipeline();
          for (let index = 0; index < 10_000; index++) writes.set(`key:${index}`, `value:${index}`);
          const written = await writes.exec();
          assert.equal(written!.length, 10_000);
          assert.ok(written!.every(([error, reply]) => error === null && reply === 'OK'));
          const mixed = redis.pipeline();
          for (let index = 0; index < 10_000; index++) {
            if (index % 3 === 0) mixed.get(`key:${index}`);
            else if (index % 3 === 1) mixed.incr('counter');
            else mixed.rpush('list', String(index));
          }
          const replies = (await mixed.exec())!;
          let increments = 0;
          let pushes = 0;
          replies.forEach(([error, reply], index) => {
            assert.equal(error, null);
            if (index % 3 === 0) assert.equal(reply, `value:${index}`);
            else if (index % 3 === 1) assert.equal(reply, ++increments);
            else assert.equal(reply, ++pushes);
          });
          assert.equal(await redis.dbsize(), 10_002);
        });

        it('keeps binary keys, values, members and fields exact', async () => {
          const key = Buffer.concat([ALL_BYTES, Buffer.from('key')]);
          await redis.set(key, ALL_BYTES);
          assert.ok((await redis.getBuffer(key))!.equals(ALL_BYTES));
          assert.ok((await redis.keysBuffer('*')).some((found) => found.equals(key)));
          await redis.hset('h', ALL_BYTES, ALL_BYTES);
          const [field, value] = (await redis.callBuffer('HGETALL', 'h')) as Buffer[];
          assert.ok(field!.equals(ALL_BYTES) && value!.equals(ALL_BYTES));
          await redis.sadd('s', ALL_BYTES);
          assert.ok(((await redis.smembersBuffer('s')) as Buffer[])[0]!.equals(ALL_BYTES));
          await redis.zadd('z', 1, ALL_BYTES);
          assert.ok(((await redis.zrangeBuffer('z', '0', '-1')) as Buffer[])[0]!.equals(ALL_BYTES));
        });
      });
    }

    it('serves many connections at once (no MULTI): every increment counted, every key its own', async () => {
      const clients = Array.from({ length: 50 }, () => client(port, 3));
      try {
        await clients[0]!.flushall();
        await Promise.all(
          clients.map(async (redis, clientIndex) => {
            for (let round = 0; round < 20; round++) {
              const pipeline = redis.pipeline();
              for (let index = 0; index < 10; index++) pipeline.incr('shared').set(`own:${clientIndex}:${round}:${index}`, `${clientIndex}`);
              await pipeline.exec();
              assert.equal(await redis.get(`own:${clientIndex}:${round}:0`), `${clientIndex}`);
            }
          }),
        );
        assert.equal(await clients[0]!.get('shared'), '10000');
        assert.equal(await clients[1]!.dbsize(), 1 + 50 * 20 * 10);
        // With several loops, both served some of the clients, and all of them saw one keyspace.
        if (loops !== 1) for (const loop of server.stats()!.loops!) assert.ok(loop.accepted >= 25, `a loop accepted ${loop.accepted} of 50`);
      } finally {
        for (const redis of clients) redis.disconnect();
      }
    });

    it('answers malformed input with the protocol error, closes that connection, and serves the others', async () => {
      const redis = client(port, 3);
      const raw = await RawRedisClient.connect(port);
      try {
        await redis.set('other', 'fine');
        raw.socket.write(Buffer.concat([encodeCommand(['PING']), Buffer.from('*1\r\n$x\r\n')]));
        assert.deepEqual((await raw.replies(2)).map(String), ['+PONG\r\n', '-ERR Protocol error: invalid bulk length\r\n']);
        assert.equal((await raw.closed()).length, 0);
        assert.equal(await redis.get('other'), 'fine');
        const again = await RawRedisClient.connect(port);
        again.socket.write('*-x\r\n');
        assert.deepEqual((await again.replies(1)).map(String), ['-ERR Protocol error: invalid multibulk length\r\n']);
        await again.closed();
        assert.equal(await redis.ping(), 'PONG');
      } finally {
        raw.close();
        redis.disconnect();
      }
    });

    it('QUIT replies OK, runs nothing after it, and closes', async () => {
      const raw = await RawRedisClient.connect(port);
      raw.socket.write(Buffer.concat([encodeCommand(['SET', 'before', '1']), encodeCommand(['QUIT']), encodeCommand(['SET', 'after', '1'])]));
      assert.deepEqual((await raw.replies(2)).map(String), ['+OK\r\n', '+OK\r\n']);
      assert.equal((await raw.closed()).length, 0);
      assert.equal(server.keyspace.get('before')?.toString(), '1');
      assert.equal(server.keyspace.get('after'), undefined);
    });

    it('switches protocol at HELLO, within one batch, and reads inline commands', async () => {
      const raw = await RawRedisClient.connect(port);
      try {
        raw.socket.write('HSET hello-hash f v\r\nPING\r\n');
        assert.deepEqual((await raw.replies(2)).map(String), [':1\r\n', '+PONG\r\n']);
        const replies = await raw.call([['HGETALL', 'hello-hash'], ['HELLO', '3'], ['HGETALL', 'hello-hash'], ['GET', 'nope'], ['HELLO', '2'], ['GET', 'nope']]);
        assert.equal(String(replies[0]), '*2\r\n$1\r\nf\r\n$1\r\nv\r\n');
        assert.match(String(replies[1]), /^%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n/);
        assert.equal(String(replies[2]), '%1\r\n$1\r\nf\r\n$1\r\nv\r\n');
        assert.equal(String(replies[3]), '_\r\n');
        assert.match(String(replies[4]), /^\*14\r\n/);
        assert.equal(String(replies[5]), '$-1\r\n');
      } finally {
        raw.close();
      }
    });

    it('stores copies of values, not views of the read buffer', async () => {
      const raw = await RawRedisClient.connect(port);
      try {
        // Enough bytes to go through the read buffer several times over.
        const values = Array.from({ length: 2000 }, (_, index) => Buffer.alloc(700, index % 251));
        const sets = values.map((value, index) => ['SET', `copy:${index}`, value] as const);
        assert.ok((await raw.call(sets)).every((reply) => String(reply) === '+OK\r\n'));
        assert.equal((await raw.call(values.map((value) => ['ECHO', Buffer.alloc(value.length, 0xee)]))).length, values.length);
        const replies = await raw.call(values.map((_, index) => ['GET', `copy:${index}`]));
        replies.forEach((reply, index) => assert.ok(reply.subarray(reply.indexOf('\n') + 1, -2).equals(values[index]!), `copy:${index}`));
        // A view would keep the whole read chunk (a 1 MiB slab, or a 64 KiB node:net chunk) alive;
        // a copy holds at most Node's Buffer pool (8 KiB before Node 26, about 64 KiB since).
        const pool = Math.max(Buffer.poolSize, Buffer.allocUnsafe(1).buffer.byteLength);
        for (let index = 0; index < values.length; index += 97) {
          const stored = server.keyspace.get(`copy:${index}`) as Buffer;
          assert.ok(stored.buffer.byteLength <= pool, `copy:${index} holds ${stored.buffer.byteLength} bytes`);
        }
      } finally {
        raw.close();
      }
    });
  });
}
