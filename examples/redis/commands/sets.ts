import type { RespValue } from '../../../operators';
import { bytesOf, countArgument, keyOf } from '../arguments';
import { commandGroup, ONE_KEY } from '../command';
import { SYNTAX_ERROR } from '../replies';
import type { ClientSession } from '../session';
import { containerFor, ofType, RedisSet, removeMembers } from '../values';

const EMPTY_SET: ReadonlySet<Buffer> = new Set();

function sadd(client: ClientSession, args: Buffer[]): RespValue {
  const set = containerFor(client.db, keyOf(args[1]!), RedisSet);
  let added = 0;
  for (let index = 2; index < args.length; index++) if (set.add(keyOf(args[index]!))) added++;
  return added;
}

function scard(client: ClientSession, args: Buffer[]): RespValue {
  return ofType(client.db.read(keyOf(args[1]!)), RedisSet)?.size ?? 0;
}

function sismember(client: ClientSession, args: Buffer[]): RespValue {
  return ofType(client.db.read(keyOf(args[1]!)), RedisSet)?.has(keyOf(args[2]!)) ? 1 : 0;
}

/** A set reply: a RESP3 set, or an array under RESP2. */
function setReply(members: Iterable<string>): ReadonlySet<Buffer> {
  const reply = new Set<Buffer>();
  for (const member of members) reply.add(bytesOf(member));
  return reply;
}

function smembers(client: ClientSession, args: Buffer[]): RespValue {
  const set = ofType(client.db.read(keyOf(args[1]!)), RedisSet);
  return set === undefined ? EMPTY_SET : setReply(set.values());
}

/** SPOP key [count]: one random member (or nil), or with a count a set of up to that many. */
function spop(client: ClientSession, args: Buffer[]): RespValue {
  if (args.length > 3) throw SYNTAX_ERROR;
  const count = args.length === 3 ? countArgument(args[2]!) : -1;
  const key = keyOf(args[1]!);
  const set = ofType(client.db.get(key), RedisSet);
  if (set === undefined) return count < 0 ? null : EMPTY_SET;
  let reply: RespValue;
  if (count < 0) {
    reply = bytesOf(set.popRandom());
  } else {
    const popped: string[] = [];
    while (popped.length < count && set.size > 0) popped.push(set.popRandom());
    reply = setReply(popped);
  }
  if (set.size === 0) client.db.delete(key);
  return reply;
}

export const setCommands = commandGroup('set', [
  [{ name: 'sadd', arity: -3, flags: ['write', 'denyoom', 'fast'], keys: ONE_KEY, since: '1.0.0', summary: 'Add one or more members to a set', complexity: 'O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.' }, sadd],
  [{ name: 'srem', arity: -3, flags: ['write', 'fast'], keys: ONE_KEY, since: '1.0.0', summary: 'Remove one or more members from a set', complexity: 'O(N) where N is the number of members to be removed.' }, (client, args) => removeMembers(client.db, args, RedisSet)],
  [{ name: 'scard', arity: 2, flags: ['readonly', 'fast'], keys: ONE_KEY, since: '1.0.0', summary: 'Get the number of members in a set', complexity: 'O(1)' }, scard],
  [{ name: 'sismember', arity: 3, flags: ['readonly', 'fast'], keys: ONE_KEY, since: '1.0.0', summary: 'Determine if a given value is a member of a set', complexity: 'O(1)' }, sismember],
  [{ name: 'smembers', arity: 2, flags: ['readonly'], keys: ONE_KEY, since: '1.0.0', summary: 'Get all the members in a set', complexity: 'O(N) where N is the set cardinality.' }, smembers],
  [{ name: 'spop', arity: -2, flags: ['write', 'fast'], keys: ONE_KEY, since: '1.0.0', summary: 'Remove and return one or multiple random members from a set', complexity: 'Without the count argument O(1), otherwise O(N) where N is the value of the passed count.' }, spop],
]);
