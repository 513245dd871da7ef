import * as os from 'node:os';

import { resp, type RespValue } from '../../../operators';
import { isOption, keyOf } from '../arguments';
import { type Command, type CommandGroup, commandGroup, NO_KEYS, subcommands } from '../command';
import { globMatch } from '../glob';
import { OK, SYNTAX_ERROR, textReply } from '../replies';
import type { ClientSession } from '../session';
import { REDIS_VERSION } from './connection';

const ACL_CATEGORY: Record<CommandGroup, string | null> = {
  connection: '@connection',
  server: null,
  generic: '@keyspace',
  string: '@string',
  list: '@list',
  set: '@set',
  hash: '@hash',
  'sorted-set': '@sortedset',
};

/** COMMAND INFO's entry: name, arity, flags, first key, last key, step, ACL categories, tips, key specs, subcommands. */
function commandInfo(command: Command): RespValue {
  const categories = [command.flags.includes('write') ? '@write' : command.flags.includes('readonly') ? '@read' : null, ACL_CATEGORY[command.group], command.flags.includes('fast') ? '@fast' : '@slow'];
  return [
    command.name,
    command.arity,
    new Set(command.flags.map(resp.simple)),
    ...command.keys,
    new Set(categories.filter((category): category is string => category !== null).map(resp.simple)),
    [],
    [], // key specs: not described here; first/last/step above say where the keys are
    [],
  ];
}

/** COMMAND DOCS's entry: what redis-cli shows for `HELP <command>`. */
function commandDocs(command: Command): RespValue {
  return new Map<string, RespValue>([
    ['summary', command.summary],
    ['since', command.since],
    ['group', command.group],
    ['complexity', command.complexity],
  ]);
}

/** The commands named in args[2...], or all of them when none are named. */
function named(client: ClientSession, args: Buffer[]): (Command | undefined)[] {
  const table = client.server.commands;
  return args.length === 2 ? [...table.all] : args.slice(2).map((name) => table.lookup(name));
}

const command = subcommands('command', {
  count: { arity: 2, help: ['COUNT', 'Return the total number of commands in this Redis server.'], run: (client) => client.server.commands.all.length },
  list: {
    arity: 2,
    help: ['LIST', 'Return a list of all commands in this Redis server.'],
    run: (client) => client.server.commands.all.map((entry) => entry.name),
  },
  info: {
    arity: -2,
    help: ['INFO [<command-name> ...]', 'Return details about multiple Redis commands.', 'If no command names are given, documentation details for all', 'commands are returned.'],
    run: (client, args) => named(client, args).map((entry) => (entry === undefined ? null : commandInfo(entry))),
  },
  docs: {
    arity: -2,
    help: ['DOCS [<command-name> ...]', 'Return documentation details about multiple Redis commands.', 'If no command names are given, documentation details for all', 'commands are returned.'],
    run: (client, args) => {
      const docs = new Map<string, RespValue>();
      for (const entry of named(client, args)) if (entry !== undefined) docs.set(entry.name, commandDocs(entry));
      return docs;
    },
  },
});

/** CONFIG GET's parameters: what redis-benchmark, redis-cli and client libraries ask about, as this server has them. */
function configuration(client: ClientSession): [string, string][] {
  const tcp = client.server.addresses.filter((address) => address.scheme === 'tcp');
  const unix = client.server.addresses.find((address) => address.scheme === 'unix');
  return [
    ['bind', tcp.map((address) => address.host).join(' ')],
    ['port', String(tcp[0]?.port ?? 0)],
    ['unixsocket', unix?.path ?? ''],
    ['databases', '1'],
    ['save', ''],
    ['appendonly', 'no'],
    ['appendfsync', 'everysec'],
    ['maxmemory', '0'],
    ['maxmemory-policy', 'noeviction'],
    ['maxclients', '10000'],
    ['timeout', '0'],
    ['hz', '10'],
    ['io-threads', '1'],
    ['proto-max-bulk-len', '536870912'],
    ['requirepass', ''],
    ['protected-mode', 'no'],
    ['cluster-enabled', 'no'],
    ['dir', process.cwd()],
  ];
}

const config = subcommands('config', {
  get: {
    arity: -3,
    help: ['GET <pattern>', 'Return parameters matching the glob-like <pattern> and their values.'],
    run: (client, args) => {
      const patterns = args.slice(2).map(keyOf);
      const matched = new Map<string, string>();
      for (const [name, value] of configuration(client)) if (patterns.some((pattern) => globMatch(pattern, name, true))) matched.set(name, value);
      return matched;
    },
  },
  resetstat: {
    arity: 2,
    help: ['RESETSTAT', 'Reset statistics reported by the INFO command.'],
    run: (client) => {
      client.server.resetStats();
      return OK;
    },
  },
});

type InfoSection = [title: string, fields: [string, string | number][]];

/** INFO's sections, in redis-server's order, with the fields that make sense here. */
function infoSections(client: ClientSession): InfoSection[] {
  const { server } = client;
  const transport = server.transport();
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  const uptime = Math.floor((Date.now() - server.startedAt) / 1000);
  const keyspace = server.keyspace;
  return [
    ['Server', [
      ['redis_version', REDIS_VERSION],
      ['redis_mode', 'standalone'],
      ['os', `${os.type()} ${os.release()} ${os.arch()}`],
      ['arch_bits', 64],
      ['multiplexing_api', transport?.backend === 'native' ? 'epoll' : 'libuv'],
      ['rxloop_backend', transport?.backend ?? 'none'],
      ['node_version', process.version],
      ['process_id', process.pid],
      ['tcp_port', server.addresses.find((address) => address.scheme === 'tcp')?.port ?? 0],
      ['uptime_in_seconds', uptime],
      ['uptime_in_days', Math.floor(uptime / 86400)],
      ['hz', 10],
      ['executable', process.execPath],
    ]],
    ['Clients', [
      ['connected_clients', transport?.connections ?? 0],
      ['maxclients', 10000],
      ['blocked_clients', 0],
    ]],
    ['Memory', [
      ['used_memory', memory.heapUsed + memory.external],
      ['used_memory_human', `${((memory.heapUsed + memory.external) / 1048576).toFixed(2)}M`],
      ['used_memory_rss', memory.rss],
      ['used_memory_rss_human', `${(memory.rss / 1048576).toFixed(2)}M`],
      ['maxmemory', 0],
      ['maxmemory_policy', 'noeviction'],
    ]],
    ['Persistence', [
      ['loading', 0], // client libraries wait for loading:0 before they report ready
      ['rdb_bgsave_in_progress', 0],
      ['aof_enabled', 0],
    ]],
    ['Stats', [
      ['total_connections_received', transport?.accepted ?? 0],
      ['total_commands_processed', server.commandsProcessed],
      ['total_net_input_bytes', transport?.bytesIn ?? 0],
      ['total_net_output_bytes', transport?.bytesOut ?? 0],
      ['expired_keys', keyspace.expiredKeys],
      ['evicted_keys', 0],
      ['keyspace_hits', keyspace.hits],
      ['keyspace_misses', keyspace.misses],
    ]],
    ['Replication', [
      ['role', 'master'],
      ['connected_slaves', 0],
    ]],
    ['CPU', [
      ['used_cpu_sys', (cpu.system / 1e6).toFixed(6)],
      ['used_cpu_user', (cpu.user / 1e6).toFixed(6)],
    ]],
    ['Modules', []],
    ['Cluster', [['cluster_enabled', 0]]],
    ['Keyspace', keyspace.size > 0 ? [['db0', `keys=${keyspace.size},expires=${keyspace.volatileSize},avg_ttl=0`]] : []],
  ];
}

/** INFO [section ...]: named sections, "default" and "all" (here the same: every section), or "everything". */
function info(client: ClientSession, args: Buffer[]): RespValue {
  const wanted = new Set(args.slice(1).map((section) => section.toString('latin1').toLowerCase()));
  const everything = wanted.size === 0 || wanted.has('default') || wanted.has('all') || wanted.has('everything');
  const text = infoSections(client)
    .filter(([title]) => everything || wanted.has(title.toLowerCase()))
    .map(([title, fields]) => `# ${title}\r\n${fields.map(([name, value]) => `${name}:${value}\r\n`).join('')}`)
    .join('\r\n');
  return textReply(client.protocol, text);
}

/** FLUSHDB and FLUSHALL [ASYNC | SYNC]: both are immediate here. */
function flush(client: ClientSession, args: Buffer[]): RespValue {
  if (args.length > 2 || (args.length === 2 && !isOption(args[1]!, 'async') && !isOption(args[1]!, 'sync'))) throw SYNTAX_ERROR;
  client.db.clear();
  return OK;
}

export const serverCommands = commandGroup('server', [
  [{ name: 'command', arity: -1, flags: ['loading', 'stale'], keys: NO_KEYS, since: '2.8.13', summary: 'Get array of Redis command details', complexity: 'O(N) where N is the total number of Redis commands' }, (client, args) => (args.length === 1 ? client.server.commands.all.map(commandInfo) : command(client, args))],
  [{ name: 'config', arity: -2, flags: [], keys: NO_KEYS, since: '2.0.0', summary: 'A container for server configuration commands', complexity: 'Depends on subcommand.' }, config],
  [{ name: 'info', arity: -1, flags: ['loading', 'stale'], keys: NO_KEYS, since: '1.0.0', summary: 'Get information and statistics about the server', complexity: 'O(1)' }, info],
  [{ name: 'dbsize', arity: 1, flags: ['readonly', 'fast'], keys: NO_KEYS, since: '1.0.0', summary: 'Return the number of keys in the selected database', complexity: 'O(1)' }, (client) => client.db.size],
  [{ name: 'flushdb', arity: -1, flags: ['write'], keys: NO_KEYS, since: '1.0.0', summary: 'Remove all keys from the current database', complexity: 'O(N) where N is the number of keys in the selected database' }, flush],
  [{ name: 'flushall', arity: -1, flags: ['write'], keys: NO_KEYS, since: '1.0.0', summary: 'Remove all keys from all databases', complexity: 'O(N) where N is the total number of keys in all databases' }, flush],
]);
