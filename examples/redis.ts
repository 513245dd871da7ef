import { type Example, listenUrl } from './cli';
import { startRedisServer } from './redis/server';

export { startRedisServer, type RedisServer, type RedisServerOptions } from './redis/server';

/** A Redis server that real Redis clients (redis-cli, redis-benchmark, ioredis) can talk to. */
export const example: Example = {
  accepts: ['port', 'host', 'unix', 'loops', 'balance'],
  defaultPort: 6380,
  start: (args) => [startRedisServer({ address: listenUrl(args), backend: args.backend, loops: args.loops, balance: args.balance })],
};
