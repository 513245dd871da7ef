import { resp, type RespValue } from '../../../operators';
import { copyOf, countArgument, integerArgument, keyOf } from '../arguments';
import { commandGroup, ONE_KEY } from '../command';
import { arityError, EMPTY_ARRAY } from '../replies';
import type { ClientSession } from '../session';
import { containerFor, ofType, RedisList } from '../values';

function push(atFront: boolean) {
  return (client: ClientSession, args: Buffer[]): RespValue => {
    const list = containerFor(client.db, keyOf(args[1]!), RedisList);
    for (let index = 2; index < args.length; index++) {
      if (atFront) list.pushFront(copyOf(args[index]!));
      else list.pushBack(copyOf(args[index]!));
    }
    return list.length;
  };
}

/**
 * LPOP and RPOP: key [count], as redis-server 7's popGenericCommand. Without a count, one item or
 * nil; with one, an array (RPOP's from the tail inwards), or a null array for no key.
 */
function pop(name: string, atFront: boolean) {
  return (client: ClientSession, args: Buffer[]): RespValue => {
    if (args.length > 3) throw arityError(name);
    const count = args.length === 3 ? countArgument(args[2]!) : -1;
    const key = keyOf(args[1]!);
    const list = ofType(client.db.get(key), RedisList);
    if (list === undefined) return count < 0 ? null : resp.nullArray();
    if (count === 0) return EMPTY_ARRAY;
    if (count < 0) {
      const item = atFront ? list.popFront() : list.popBack();
      if (list.length === 0) client.db.delete(key);
      return item;
    }
    const items: Buffer[] = [];
    while (items.length < count && list.length > 0) items.push(atFront ? list.popFront() : list.popBack());
    if (list.length === 0) client.db.delete(key);
    return items;
  };
}

function llen(client: ClientSession, args: Buffer[]): RespValue {
  return ofType(client.db.read(keyOf(args[1]!)), RedisList)?.length ?? 0;
}

function lrange(client: ClientSession, args: Buffer[]): RespValue {
  let start = integerArgument(args[2]!);
  let stop = integerArgument(args[3]!);
  const list = ofType(client.db.read(keyOf(args[1]!)), RedisList);
  if (list === undefined) return EMPTY_ARRAY;
  const length = list.length;
  if (start < 0) start = Math.max(0, length + start);
  if (stop < 0) stop = length + stop;
  if (start > stop || start >= length) return EMPTY_ARRAY;
  return list.slice(start, Math.min(stop, length - 1));
}

function lindex(client: ClientSession, args: Buffer[]): RespValue {
  const list = ofType(client.db.read(keyOf(args[1]!)), RedisList);
  if (list === undefined) return null;
  let index = integerArgument(args[2]!);
  if (index < 0) index += list.length;
  return index >= 0 && index < list.length ? list.at(index) : null;
}

const WRITE_FAST = ['write', 'denyoom', 'fast'];

export const listCommands = commandGroup('list', [
  [{ name: 'lpush', arity: -3, flags: WRITE_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Prepend one or multiple elements to a list', complexity: 'O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.' }, push(true)],
  [{ name: 'rpush', arity: -3, flags: WRITE_FAST, keys: ONE_KEY, since: '1.0.0', summary: 'Append one or multiple elements to a list', complexity: 'O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.' }, push(false)],
  [{ name: 'lpop', arity: -2, flags: ['write', 'fast'], keys: ONE_KEY, since: '1.0.0', summary: 'Remove and get the first elements in a list', complexity: 'O(N) where N is the number of elements returned' }, pop('lpop', true)],
  [{ name: 'rpop', arity: -2, flags: ['write', 'fast'], keys: ONE_KEY, since: '1.0.0', summary: 'Remove and get the last elements in a list', complexity: 'O(N) where N is the number of elements returned' }, pop('rpop', false)],
  [{ name: 'llen', arity: 2, flags: ['readonly', 'fast'], keys: ONE_KEY, since: '1.0.0', summary: 'Get the length of a list', complexity: 'O(1)' }, llen],
  [{ name: 'lrange', arity: 4, flags: ['readonly'], keys: ONE_KEY, since: '1.0.0', summary: 'Get a range of elements from a list', complexity: 'O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.' }, lrange],
  [{ name: 'lindex', arity: 3, flags: ['readonly'], keys: ONE_KEY, since: '1.0.0', summary: 'Get an element from a list by its index', complexity: 'O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).' }, lindex],
]);
