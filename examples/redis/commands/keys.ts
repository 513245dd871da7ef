import { resp, type RespValue } from '../../../operators';
import { bytesOf, integerArgument, keyOf, optionFlag, optionFlags } from '../arguments';
import { ALL_KEYS, commandGroup, NO_KEYS, ONE_KEY } from '../command';
import { globMatch } from '../glob';
import { invalidExpireTime } from '../replies';
import type { ClientSession } from '../session';
import { typeName } from '../values';

function del(client: ClientSession, args: Buffer[]): RespValue {
  let deleted = 0;
  for (let index = 1; index < args.length; index++) if (client.db.delete(keyOf(args[index]!))) deleted++;
  return deleted;
}

function exists(client: ClientSession, args: Buffer[]): RespValue {
  let found = 0; // a key named twice counts twice, as in redis-server
  for (let index = 1; index < args.length; index++) if (client.db.read(keyOf(args[index]!)) !== undefined) found++;
  return found;
}

function type(client: ClientSession, args: Buffer[]): RespValue {
  const value = client.db.read(keyOf(args[1]!));
  return resp.simple(value === undefined ? 'none' : typeName(value));
}

function keys(client: ClientSession, args: Buffer[]): RespValue {
  const pattern = keyOf(args[1]!);
  const matched: Buffer[] = [];
  const all = pattern === '*';
  for (const key of client.db.keys()) if (all || globMatch(pattern, key)) matched.push(bytesOf(key));
  return matched;
}

const CONDITIONS = optionFlags('nx', 'xx', 'gt', 'lt');
const { nx: NX, xx: XX, gt: GT, lt: LT } = CONDITIONS;
const NX_WITH_OTHERS = resp.error('ERR NX and XX, GT or LT options at the same time are not compatible');
const GT_WITH_LT = resp.error('ERR GT and LT options at the same time are not compatible');

/** 2^63, the first integer past int64: where redis-server's overflow checks draw the line. */
const PAST_INT64 = 2 ** 63;
/** LLONG_MAX / 1000: seconds beyond this overflow when made milliseconds. */
const MAX_SECONDS = 9223372036854775;

/**
 * EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT: key, time [NX | XX | GT | LT], as redis-server 7's
 * expireGenericCommand. A time already past deletes the key (and still answers 1).
 */
function expireCommand(name: string, unitMs: 1 | 1000, relative: boolean) {
  return (client: ClientSession, args: Buffer[]): RespValue => {
    let conditions = 0;
    for (let index = 3; index < args.length; index++) {
      const condition = optionFlag(args[index]!, CONDITIONS);
      if (!condition) throw resp.error(`ERR Unsupported option ${args[index]!.toString('utf8')}`);
      conditions |= condition;
    }
    if (conditions & NX && conditions & (XX | GT | LT)) throw NX_WITH_OTHERS;
    if (conditions & GT && conditions & LT) throw GT_WITH_LT;
    const time = integerArgument(args[2]!);
    if (unitMs === 1000 && Math.abs(time) > MAX_SECONDS) throw invalidExpireTime(name);
    let deadline = time * unitMs;
    if (relative) {
      deadline += Date.now();
      if (deadline >= PAST_INT64) throw invalidExpireTime(name);
    }

    const key = keyOf(args[1]!);
    if (client.db.get(key) === undefined) return 0;
    const current = client.db.deadline(key); // undefined: no expiry, an infinite time to live
    if (conditions & NX && current !== undefined) return 0;
    if (conditions & XX && current === undefined) return 0;
    if (conditions & GT && (current === undefined || deadline <= current)) return 0;
    if (conditions & LT && current !== undefined && deadline >= current) return 0;
    if (deadline <= Date.now()) client.db.delete(key);
    else client.db.expireAt(key, deadline);
    return 1;
  };
}

/** TTL and PTTL: -2 for no key, -1 for no expiry, else what is left, in seconds rounded to nearest or in ms. */
function ttlCommand(unitMs: 1 | 1000) {
  return (client: ClientSession, args: Buffer[]): RespValue => {
    const key = keyOf(args[1]!);
    if (client.db.read(key) === undefined) return -2;
    const deadline = client.db.deadline(key);
    if (deadline === undefined) return -1;
    const left = Math.max(0, deadline - Date.now());
    return unitMs === 1 ? left : Math.floor((left + 500) / 1000);
  };
}

function persist(client: ClientSession, args: Buffer[]): RespValue {
  const key = keyOf(args[1]!);
  return client.db.get(key) !== undefined && client.db.persist(key) ? 1 : 0;
}

const READ_FAST = ['readonly', 'fast'];
const WRITE_FAST = ['write', 'fast'];

export const keyCommands = commandGroup('generic', [
  [{ name: 'del', arity: -2, flags: ['write'], keys: ALL_KEYS, since: '1.0.0', summary: 'Delete a key', complexity: 'O(N) where N is the number of keys that will be removed.' }, del],
  [{ name: 'exists', arity: -2, flags: READ_FAST, keys: ALL_KEYS, since: '1.0.0', summary: 'Determine if a key exists', complexity: 'O(N) where N is the number of keys to check.' }, exists],
  [{ name: 'type', arity: 2, flags: READ_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Determine the type stored at key', complexity: 'O(1)' }, type],
  [{ name: 'keys', arity: 2, flags: ['readonly'], keys: NO_KEYS, since: '1.0.0', summary: 'Find all keys matching the given pattern', complexity: 'O(N) with N being the number of keys in the database' }, keys],
  [{ name: 'expire', arity: -3, flags: WRITE_FAST, keys: ONE_KEY, since: '1.0.0', summary: "Set a key's time to live in seconds", complexity: 'O(1)' }, expireCommand('expire', 1000, true)],
  [{ name: 'pexpire', arity: -3, flags: WRITE_FAST, keys: ONE_KEY, since: '2.6.0', summary: "Set a key's time to live in milliseconds", complexity: 'O(1)' }, expireCommand('pexpire', 1, true)],
  [{ name: 'expireat', arity: -3, flags: WRITE_FAST, keys: ONE_KEY, since: '1.2.0', summary: 'Set the expiration for a key as a UNIX timestamp', complexity: 'O(1)' }, expireCommand('expireat', 1000, false)],
  [{ name: 'pexpireat', arity: -3, flags: WRITE_FAST, keys: ONE_KEY, since: '2.6.0', summary: 'Set the expiration for a key as a UNIX timestamp specified in milliseconds', complexity: 'O(1)' }, expireCommand('pexpireat', 1, false)],
  [{ name: 'ttl', arity: 2, flags: READ_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Get the time to live for a key in seconds', complexity: 'O(1)' }, ttlCommand(1000)],
  [{ name: 'pttl', arity: 2, flags: READ_FAST, keys: ONE_KEY, since: '2.6.0', summary: 'Get the time to live for a key in milliseconds', complexity: 'O(1)' }, ttlCommand(1)],
  [{ name: 'persist', arity: 2, flags: WRITE_FAST, keys: ONE_KEY, since: '2.2.0', summary: 'Remove the expiration from a key', complexity: 'O(1)' }, persist],
]);
