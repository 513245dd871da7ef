import { Buffer } from 'node:buffer';

import { resp, type RespValue } from '../../../operators';
import { integerArgument, isOption, parseInteger } from '../arguments';
import { commandGroup, NO_KEYS, subcommands } from '../command';
import { arityError, OK, PONG, SYNTAX_ERROR, textReply } from '../replies';
import type { ClientSession } from '../session';

/** The redis-server version whose behaviour this example follows, and which its tests compare it with. */
export const REDIS_VERSION = '7.0.15';

const NOT_AN_INT = resp.error('ERR value is out of range, value must between -2147483648 and 2147483647');
const DB_OUT_OF_RANGE = resp.error('ERR DB index is out of range');
const NO_PASSWORD_SET = resp.error(
  'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
);
const WRONGPASS = resp.error('WRONGPASS invalid username-password pair or user is disabled.');
const NOPROTO = resp.error('NOPROTO unsupported protocol version');
const BAD_PROTOCOL_VERSION = resp.error('ERR Protocol version is not an integer or out of range');
const BAD_CLIENT_NAME = resp.error('ERR Client names cannot contain spaces, newlines or special characters.');

function ping(client: ClientSession, args: Buffer[]): RespValue {
  if (args.length > 2) throw arityError('ping');
  return args.length === 2 ? args[1]! : PONG;
}

/** Only database 0 exists here (as in redis-server with `databases 1`). */
function select(client: ClientSession, args: Buffer[]): RespValue {
  const index = integerArgument(args[1]!);
  if (!(index >= -(2 ** 31) && index < 2 ** 31)) throw NOT_AN_INT; // an int, as getIntFromObjectOrReply reads it
  if (index !== 0) throw DB_OUT_OF_RANGE;
  return OK;
}

function quit(client: ClientSession): RespValue {
  client.closing = true;
  return OK;
}

/**
 * There are no users or passwords here: the only user is `default`, which (as in a redis-server
 * without `requirepass`) accepts any password.
 */
function authenticate(username: Buffer): void {
  if (username.toString('latin1') !== 'default') throw WRONGPASS;
}

function auth(client: ClientSession, args: Buffer[]): RespValue {
  if (args.length > 3) throw SYNTAX_ERROR;
  if (args.length === 2) throw NO_PASSWORD_SET;
  authenticate(args[1]!);
  return OK;
}

/** A client name, library name or version: printable ASCII without spaces (an empty name clears it). */
function isValidName(name: Buffer): boolean {
  return name.every((byte) => byte > 0x20 && byte < 0x7f);
}

/**
 * HELLO [protover [AUTH username password] [SETNAME clientname]]: switches the protocol (2 or 3,
 * both implemented fully for the commands here) and replies with the server's particulars, as a
 * map under RESP3, flattened under RESP2.
 */
function hello(client: ClientSession, args: Buffer[]): RespValue {
  let protocol = client.protocol;
  if (args.length >= 2) {
    const version = parseInteger(args[1]!);
    if (Number.isNaN(version)) throw BAD_PROTOCOL_VERSION;
    if (version !== 2 && version !== 3) throw NOPROTO;
    protocol = version;
  }
  let username: Buffer | undefined;
  let name: Buffer | undefined;
  for (let index = 2; index < args.length; index++) {
    const left = args.length - 1 - index;
    if (isOption(args[index]!, 'auth') && left >= 2) {
      username = args[index + 1]!;
      index += 2;
    } else if (isOption(args[index]!, 'setname') && left >= 1) {
      name = args[++index]!;
      if (!isValidName(name)) throw BAD_CLIENT_NAME;
    } else {
      throw resp.error(`ERR Syntax error in HELLO option '${args[index]!.toString('utf8')}'`);
    }
  }
  if (username) authenticate(username);
  if (name) client.name = name.length === 0 ? null : Buffer.from(name);
  client.protocol = protocol;
  return new Map<string, RespValue>([
    ['server', 'redis'],
    ['version', REDIS_VERSION],
    ['proto', protocol],
    ['id', client.id],
    ['mode', 'standalone'],
    ['role', 'master'],
    ['modules', []],
  ]);
}

const client = subcommands('client', {
  id: { arity: 2, help: ['ID', 'Return the ID of the current connection.'], run: (session) => session.id },
  info: { arity: 2, help: ['INFO', 'Return information about the current client connection.'], run: (session) => textReply(session.protocol, session.describe()) },
  list: {
    arity: 2,
    help: ['LIST', 'Return information about client connections.'],
    run: (session) => textReply(session.protocol, [...session.server.clients].map((other) => other.describe()).join('')),
  },
  getname: { arity: 2, help: ['GETNAME', 'Return the name of the current connection.'], run: (session) => session.name },
  setname: {
    arity: 3,
    help: ['SETNAME <name>', 'Assign the name <name> to the current connection.'],
    run: (session, args) => {
      const name = args[2]!;
      if (!isValidName(name)) throw BAD_CLIENT_NAME;
      session.name = name.length === 0 ? null : Buffer.from(name);
      return OK;
    },
  },
  // From redis-server 7.2, where clients such as ioredis send it on connecting.
  setinfo: {
    arity: 4,
    help: ['SETINFO <option> <value>', 'Set client meta attr. Options are:', '* LIB-NAME: the client lib name.', '* LIB-VER: the client lib version.'],
    run: (session, args) => {
      const [, , attribute, value] = args as [Buffer, Buffer, Buffer, Buffer];
      const field = isOption(attribute, 'lib-name') ? 'libraryName' : isOption(attribute, 'lib-ver') ? 'libraryVersion' : undefined;
      if (field === undefined) throw resp.error(`ERR Unrecognized option '${attribute.toString('utf8')}'`);
      if (!isValidName(value)) throw resp.error(`ERR ${attribute.toString('utf8')} cannot contain spaces, newlines or special characters.`);
      session[field] = value.length === 0 ? null : Buffer.from(value);
      return OK;
    },
  },
});

const CONNECTION = ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'];

export const connectionCommands = commandGroup('connection', [
  [{ name: 'ping', arity: -1, flags: ['fast'], keys: NO_KEYS, since: '1.0.0', summary: 'Ping the server', complexity: 'O(1)' }, ping],
  [{ name: 'echo', arity: 2, flags: ['fast'], keys: NO_KEYS, since: '1.0.0', summary: 'Echo the given string', complexity: 'O(1)' }, (session, args) => args[1]!],
  [{ name: 'select', arity: 2, flags: ['loading', 'stale', 'fast'], keys: NO_KEYS, since: '1.0.0', summary: 'Change the selected database for the current connection', complexity: 'O(1)' }, select],
  [{ name: 'quit', arity: -1, flags: CONNECTION, keys: NO_KEYS, since: '1.0.0', summary: 'Close the connection', complexity: 'O(1)' }, quit],
  [{ name: 'auth', arity: -2, flags: CONNECTION, keys: NO_KEYS, since: '1.0.0', summary: 'Authenticate to the server', complexity: 'O(N) where N is the number of passwords defined for the user' }, auth],
  [{ name: 'hello', arity: -1, flags: CONNECTION, keys: NO_KEYS, since: '6.0.0', summary: 'Handshake with Redis', complexity: 'O(1)' }, hello],
  [{ name: 'client', arity: -2, flags: ['sentinel'], keys: NO_KEYS, since: '2.4.0', summary: 'A container for client connection commands', complexity: 'Depends on subcommand.' }, client],
]);
