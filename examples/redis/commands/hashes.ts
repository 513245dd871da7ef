import { Buffer } from 'node:buffer';

import { resp, type RespValue } from '../../../operators';
import { addInt64, bytesOf, copyOf, keyOf, parseInt64 } from '../arguments';
import { commandGroup, ONE_KEY } from '../command';
import { arityError, NOT_AN_INTEGER, OVERFLOW } from '../replies';
import type { ClientSession } from '../session';
import { containerFor, ofType, RedisHash, removeMembers } from '../values';

const NOT_AN_INTEGER_FIELD = resp.error('ERR hash value is not an integer');
const EMPTY_MAP: ReadonlyMap<Buffer, Buffer> = new Map();

function hset(client: ClientSession, args: Buffer[]): RespValue {
  if (args.length % 2 === 1) throw arityError('hset');
  const hash = containerFor(client.db, keyOf(args[1]!), RedisHash);
  let added = 0;
  for (let index = 2; index < args.length; index += 2) {
    const field = keyOf(args[index]!);
    if (!hash.has(field)) added++;
    hash.set(field, copyOf(args[index + 1]!));
  }
  return added;
}

function hget(client: ClientSession, args: Buffer[]): RespValue {
  return ofType(client.db.read(keyOf(args[1]!)), RedisHash)?.get(keyOf(args[2]!)) ?? null;
}

function hlen(client: ClientSession, args: Buffer[]): RespValue {
  return ofType(client.db.read(keyOf(args[1]!)), RedisHash)?.size ?? 0;
}

function hexists(client: ClientSession, args: Buffer[]): RespValue {
  return ofType(client.db.read(keyOf(args[1]!)), RedisHash)?.has(keyOf(args[2]!)) ? 1 : 0;
}

/** A map under RESP3, field, value, field, value... under RESP2. */
function hgetall(client: ClientSession, args: Buffer[]): RespValue {
  const hash = ofType(client.db.read(keyOf(args[1]!)), RedisHash);
  if (hash === undefined) return EMPTY_MAP;
  const reply = new Map<Buffer, Buffer>();
  for (const [field, value] of hash) reply.set(bytesOf(field), value);
  return reply;
}

function hincrby(client: ClientSession, args: Buffer[]): RespValue {
  const increment = parseInt64(args[3]!);
  if (increment === null) throw NOT_AN_INTEGER;
  const hash = containerFor(client.db, keyOf(args[1]!), RedisHash);
  const field = keyOf(args[2]!);
  const value = hash.get(field);
  const current = value === undefined ? 0 : parseInt64(value);
  if (current === null) throw NOT_AN_INTEGER_FIELD;
  const result = addInt64(current, increment);
  if (result === null) throw OVERFLOW;
  hash.set(field, Buffer.from(String(result), 'latin1'));
  return result;
}

const WRITE_FAST = ['write', 'denyoom', 'fast'];
const READ_FAST = ['readonly', 'fast'];

export const hashCommands = commandGroup('hash', [
  [{ name: 'hset', arity: -4, flags: WRITE_FAST, keys: ONE_KEY, since: '2.0.0', summary: 'Set the string value of a hash field', complexity: 'O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.' }, hset],
  [{ name: 'hget', arity: 3, flags: READ_FAST, keys: ONE_KEY, since: '2.0.0', summary: 'Get the value of a hash field', complexity: 'O(1)' }, hget],
  [{ name: 'hdel', arity: -3, flags: ['write', 'fast'], keys: ONE_KEY, since: '2.0.0', summary: 'Delete one or more hash fields', complexity: 'O(N) where N is the number of fields to be removed.' }, (client, args) => removeMembers(client.db, args, RedisHash)],
  [{ name: 'hlen', arity: 2, flags: READ_FAST, keys: ONE_KEY, since: '2.0.0', summary: 'Get the number of fields in a hash', complexity: 'O(1)' }, hlen],
  [{ name: 'hexists', arity: 3, flags: READ_FAST, keys: ONE_KEY, since: '2.0.0', summary: 'Determine if a hash field exists', complexity: 'O(1)' }, hexists],
  [{ name: 'hgetall', arity: 2, flags: ['readonly'], keys: ONE_KEY, since: '2.0.0', summary: 'Get all the fields and values in a hash', complexity: 'O(N) where N is the size of the hash.' }, hgetall],
  [{ name: 'hincrby', arity: 4, flags: WRITE_FAST, keys: ONE_KEY, since: '2.0.0', summary: 'Increment the integer value of a hash field by the given number', complexity: 'O(1)' }, hincrby],
]);
