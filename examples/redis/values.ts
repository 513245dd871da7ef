import { keyOf } from './arguments';
import type { Keyspace } from './keyspace';
import { WRONGTYPE } from './replies';
import type { SortedSet } from './sorted-set';

/**
 * What a key holds. Strings are Buffers (copies: never views of a connection's read buffer).
 * Members and fields are Map keys as latin1 strings, one character per byte (see keyOf).
 */
export type RedisValue = Buffer | RedisList | RedisSet | RedisHash | SortedSet;

/** TYPE's answer for a value. */
export function typeName(value: RedisValue): string {
  if (value instanceof Uint8Array) return 'string';
  if (value instanceof RedisList) return 'list';
  if (value instanceof RedisSet) return 'set';
  if (value instanceof RedisHash) return 'hash';
  return 'zset';
}

/** `value` if it is missing or a `type`; throws the WRONGTYPE error reply otherwise. */
export function ofType<T extends RedisValue>(value: RedisValue | undefined, type: abstract new (...args: never[]) => T): T | undefined {
  if (value === undefined || value instanceof type) return value;
  throw WRONGTYPE;
}

/** The `type` at `key`, made (empty) and stored if the key is missing; WRONGTYPE if it holds another type. */
export function containerFor<T extends RedisValue>(db: Keyspace, key: string, type: new () => T): T {
  let container = ofType(db.get(key), type);
  if (container === undefined) {
    container = new type();
    db.set(key, container);
  }
  return container;
}

/** A container that members or fields are removed from by name: a set, a hash, a sorted set. */
type Removable = RedisValue & { readonly size: number; delete(member: string): boolean };

/**
 * SREM, HDEL, ZREM: removes the members args[2...] from the `type` at args[1], deleting the key
 * once it is empty (redis-server keeps no empty containers); returns how many were removed.
 */
export function removeMembers<T extends Removable>(db: Keyspace, args: Buffer[], type: abstract new (...args: never[]) => T): number {
  const key = keyOf(args[1]!);
  const container = ofType(db.get(key), type);
  if (container === undefined) return 0;
  let removed = 0;
  for (let index = 2; index < args.length; index++) if (container.delete(keyOf(args[index]!))) removed++;
  if (container.size === 0) db.delete(key);
  return removed;
}

/**
 * A list: a ring buffer, so that pushing and popping at either end cost O(1) however long the
 * list is (Array.prototype.unshift is O(n), and redis-benchmark pushes 100,000 items onto one list).
 */
export class RedisList {
  private items: (Buffer | undefined)[] = new Array<Buffer | undefined>(8);
  private head = 0;
  length = 0;

  pushFront(item: Buffer): void {
    if (this.length === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.length++;
  }

  pushBack(item: Buffer): void {
    if (this.length === this.items.length) this.grow();
    this.items[(this.head + this.length) & (this.items.length - 1)] = item;
    this.length++;
  }

  /** Removes and returns the first item; the list must not be empty. */
  popFront(): Buffer {
    const item = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.length--;
    return item;
  }

  /** Removes and returns the last item; the list must not be empty. */
  popBack(): Buffer {
    const index = (this.head + this.length - 1) & (this.items.length - 1);
    const item = this.items[index]!;
    this.items[index] = undefined;
    this.length--;
    return item;
  }

  /** The item at `index`, 0 <= index < length. */
  at(index: number): Buffer {
    return this.items[(this.head + index) & (this.items.length - 1)]!;
  }

  /** Items first..last inclusive, 0 <= first <= last < length. */
  slice(first: number, last: number): Buffer[] {
    const items = new Array<Buffer>(last - first + 1);
    for (let index = first; index <= last; index++) items[index - first] = this.at(index);
    return items;
  }

  private grow(): void {
    const items = new Array<Buffer | undefined>(this.items.length * 2);
    for (let index = 0; index < this.length; index++) items[index] = this.at(index);
    this.items = items;
    this.head = 0;
  }
}

/**
 * A set: members in an array, with each one's position in a Map, so that SPOP picks a random
 * member in O(1) (a JavaScript Set can only be walked).
 */
export class RedisSet {
  private readonly members: string[] = [];
  private readonly positions = new Map<string, number>();

  get size(): number {
    return this.members.length;
  }

  has(member: string): boolean {
    return this.positions.has(member);
  }

  /** Adds `member`; false if it was there already. */
  add(member: string): boolean {
    if (this.positions.has(member)) return false;
    this.positions.set(member, this.members.length);
    this.members.push(member);
    return true;
  }

  /** Removes `member`; false if it was not there. */
  delete(member: string): boolean {
    const position = this.positions.get(member);
    if (position === undefined) return false;
    this.removeAt(position);
    return true;
  }

  /** Removes and returns a random member; the set must not be empty. */
  popRandom(): string {
    const position = Math.floor(Math.random() * this.members.length);
    const member = this.members[position]!;
    this.removeAt(position);
    return member;
  }

  values(): readonly string[] {
    return this.members;
  }

  /** Moves the last member into the hole, so that removal is O(1). */
  private removeAt(position: number): void {
    const removed = this.members[position]!;
    const last = this.members.pop()!;
    this.positions.delete(removed);
    if (position < this.members.length) {
      this.members[position] = last;
      this.positions.set(last, position);
    }
  }
}

/** A hash: field → value, in insertion order, as redis-server's small (listpack) hashes reply. */
export class RedisHash extends Map<string, Buffer> {}
