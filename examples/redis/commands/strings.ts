import { Buffer } from 'node:buffer';

import { resp, type RespValue } from '../../../operators';
import { addInt64, copyOf, deadlineArgument, isOption, keyOf, optionFlags, parseInt64 } from '../arguments';
import { commandGroup, ALL_KEYS, ONE_KEY } from '../command';
import { arityError, NOT_AN_INTEGER, OK, OVERFLOW, SYNTAX_ERROR, WRONGTYPE } from '../replies';
import type { ClientSession } from '../session';
import { ofType, type RedisValue } from '../values';

/** proto-max-bulk-len: no string may grow past it. */
const MAX_STRING_LENGTH = 512 * 1024 * 1024;
const STRING_TOO_LONG = resp.error('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
const DECREMENT_OVERFLOW = resp.error('ERR decrement would overflow');

function stringAt(value: RedisValue | undefined): Buffer | undefined {
  return ofType(value, Buffer);
}

function get(client: ClientSession, args: Buffer[]): RespValue {
  // The hottest command, so the type check is written out rather than through stringAt.
  const value = client.db.read(keyOf(args[1]!));
  if (value === undefined) return null;
  if (value instanceof Uint8Array) return value;
  throw WRONGTYPE;
}

const { nx: NX, xx: XX, get: GET, keepttl: KEEPTTL, ex: EX, px: PX, exat: EXAT, pxat: PXAT } = optionFlags('nx', 'xx', 'get', 'keepttl', 'ex', 'px', 'exat', 'pxat');
const EXPIRY_OPTIONS = [
  { name: 'ex', flag: EX, unitMs: 1000, relative: true },
  { name: 'px', flag: PX, unitMs: 1, relative: true },
  { name: 'exat', flag: EXAT, unitMs: 1000, relative: false },
  { name: 'pxat', flag: PXAT, unitMs: 1, relative: false },
] as const;

/** SET key value [NX | XX] [GET] [EX s | PX ms | EXAT unix-s | PXAT unix-ms | KEEPTTL], parsed as redis-server 7 does. */
function set(client: ClientSession, args: Buffer[]): RespValue {
  let flags = 0;
  let expiry: { argument: Buffer; unitMs: 1 | 1000; relative: boolean } | undefined;
  for (let index = 3; index < args.length; index++) {
    const option = args[index]!;
    const hasValue = index + 1 < args.length;
    if (isOption(option, 'nx') && !(flags & XX)) flags |= NX;
    else if (isOption(option, 'xx') && !(flags & NX)) flags |= XX;
    else if (isOption(option, 'get')) flags |= GET;
    else if (isOption(option, 'keepttl') && !(flags & (EX | PX | EXAT | PXAT))) flags |= KEEPTTL;
    else {
      // Each expiry option excludes KEEPTTL and the other three, but may repeat itself (the last wins).
      const found = EXPIRY_OPTIONS.find(({ name, flag }) => isOption(option, name) && !(flags & (KEEPTTL | EX | PX | EXAT | PXAT) & ~flag));
      if (!found || !hasValue) throw SYNTAX_ERROR;
      flags |= found.flag;
      expiry = { argument: args[++index]!, unitMs: found.unitMs, relative: found.relative };
    }
  }
  // As redis-server does: the time is read only once every option has been accepted.
  const deadline = expiry && deadlineArgument(expiry.argument, expiry.unitMs, expiry.relative, 'set');
  const key = keyOf(args[1]!);
  if (flags === 0) {
    // A plain SET, the common case, needs no lookup.
    client.db.set(key, copyOf(args[2]!));
    return OK;
  }
  const current = client.db.get(key);
  let reply: RespValue = OK;
  if (flags & GET) reply = stringAt(current) ?? null;
  if ((flags & NX && current !== undefined) || (flags & XX && current === undefined)) return flags & GET ? reply : null;
  client.db.set(key, copyOf(args[2]!), (flags & KEEPTTL) !== 0);
  if (deadline !== undefined) client.db.expireAt(key, deadline);
  return reply;
}

function setnx(client: ClientSession, args: Buffer[]): RespValue {
  const key = keyOf(args[1]!);
  if (client.db.get(key) !== undefined) return 0;
  client.db.set(key, copyOf(args[2]!));
  return 1;
}

function getset(client: ClientSession, args: Buffer[]): RespValue {
  const key = keyOf(args[1]!);
  const old = stringAt(client.db.get(key)) ?? null;
  client.db.set(key, copyOf(args[2]!));
  return old;
}

function mget(client: ClientSession, args: Buffer[]): RespValue {
  const values: RespValue[] = [];
  for (let index = 1; index < args.length; index++) {
    const value = client.db.read(keyOf(args[index]!));
    values.push(value instanceof Uint8Array ? value : null); // other types read as nil here, not WRONGTYPE
  }
  return values;
}

function mset(client: ClientSession, args: Buffer[]): RespValue {
  if (args.length % 2 === 0) throw arityError('mset');
  for (let index = 1; index < args.length; index += 2) client.db.set(keyOf(args[index]!), copyOf(args[index + 1]!));
  return OK;
}

/** INCRBY's core: the key's integer plus `increment`, stored as its decimal text, with its time to live kept. */
function incrementBy(client: ClientSession, keyArgument: Buffer, increment: number | bigint): RespValue {
  const key = keyOf(keyArgument);
  const value = stringAt(client.db.get(key));
  const current = value === undefined ? 0 : parseInt64(value);
  if (current === null) throw NOT_AN_INTEGER;
  const result = addInt64(current, increment);
  if (result === null) throw OVERFLOW;
  client.db.set(key, Buffer.from(String(result), 'latin1'), true);
  return result;
}

function incrementArgument(argument: Buffer): number | bigint {
  const increment = parseInt64(argument);
  if (increment === null) throw NOT_AN_INTEGER;
  return increment;
}

function append(client: ClientSession, args: Buffer[]): RespValue {
  const key = keyOf(args[1]!);
  const value = stringAt(client.db.get(key));
  if (value === undefined) {
    client.db.set(key, copyOf(args[2]!));
    return args[2]!.length;
  }
  if (value.length + args[2]!.length > MAX_STRING_LENGTH) throw STRING_TOO_LONG;
  const joined = Buffer.concat([value, args[2]!]);
  client.db.set(key, joined, true);
  return joined.length;
}

function strlen(client: ClientSession, args: Buffer[]): RespValue {
  return stringAt(client.db.read(keyOf(args[1]!)))?.length ?? 0;
}

const WRITE = ['write', 'denyoom'];
const WRITE_FAST = ['write', 'denyoom', 'fast'];
const READ_FAST = ['readonly', 'fast'];

export const stringCommands = commandGroup('string', [
  [{ name: 'get', arity: 2, flags: READ_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Get the value of a key', complexity: 'O(1)' }, get],
  [{ name: 'set', arity: -3, flags: WRITE, keys: ONE_KEY, since: '1.0.0', summary: 'Set the string value of a key', complexity: 'O(1)' }, set],
  [{ name: 'setnx', arity: 3, flags: WRITE_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Set the value of a key, only if the key does not exist', complexity: 'O(1)' }, setnx],
  [{ name: 'getset', arity: 3, flags: WRITE_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Set the string value of a key and return its old value', complexity: 'O(1)' }, getset],
  [{ name: 'mget', arity: -2, flags: READ_FAST, keys: ALL_KEYS, since: '1.0.0', summary: 'Get the values of all the given keys', complexity: 'O(N) where N is the number of keys to retrieve.' }, mget],
  [{ name: 'mset', arity: -3, flags: WRITE, keys: [1, -1, 2], since: '1.0.1', summary: 'Set multiple keys to multiple values', complexity: 'O(N) where N is the number of keys to set.' }, mset],
  [{ name: 'incr', arity: 2, flags: WRITE_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Increment the integer value of a key by one', complexity: 'O(1)' }, (client, args) => incrementBy(client, args[1]!, 1)],
  [{ name: 'decr', arity: 2, flags: WRITE_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Decrement the integer value of a key by one', complexity: 'O(1)' }, (client, args) => incrementBy(client, args[1]!, -1)],
  [
    { name: 'incrby', arity: 3, flags: WRITE_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Increment the integer value of a key by the given amount', complexity: 'O(1)' },
    (client, args) => incrementBy(client, args[1]!, incrementArgument(args[2]!)),
  ],
  [
    { name: 'decrby', arity: 3, flags: WRITE_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Decrement the integer value of a key by the given number', complexity: 'O(1)' },
    (client, args) => {
      const decrement = incrementArgument(args[2]!);
      if (decrement === -(2n ** 63n)) throw DECREMENT_OVERFLOW;
      return incrementBy(client, args[1]!, -decrement);
    },
  ],
  [{ name: 'append', arity: 3, flags: WRITE_FAST, keys: ONE_KEY, since: '2.0.0', summary: 'Append a value to a key', complexity: 'O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.' }, append],
  [{ name: 'strlen', arity: 2, flags: READ_FAST, keys: ONE_KEY, since: '2.2.0', summary: 'Get the length of the value stored in a key', complexity: 'O(1)' }, strlen],
]);
