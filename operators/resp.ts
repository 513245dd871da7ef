import { Buffer } from 'node:buffer';

import { RespReplyError } from './errors';

/** RESP version of a connection: 2 is the default, 3 after a client's `HELLO 3`. */
export type RespProtocol = 2 | 3;

// Reply types that JavaScript has no value for are tagged objects; build them with `resp.*`.
export interface RespSimpleString {
  readonly type: 'simple';
  readonly value: string;
}
export interface RespDouble {
  readonly type: 'double';
  readonly value: number;
}
export interface RespBigNumber {
  readonly type: 'big-number';
  readonly value: bigint;
}
export interface RespVerbatimString<Text extends string | Uint8Array = string | Uint8Array> {
  readonly type: 'verbatim';
  /** Three characters, e.g. 'txt' or 'mkd'. */
  readonly format: string;
  readonly value: Text;
}
export interface RespPush<Item = RespValue> {
  readonly type: 'push';
  readonly items: readonly Item[];
}
/** RESP2's `*-1` (e.g. BLPOP timing out); RESP3 has a single null. */
export interface RespNullArray {
  readonly type: 'null-array';
}

export type RespTagged = RespSimpleString | RespDouble | RespBigNumber | RespVerbatimString | RespPush | RespNullArray;

/**
 * A reply the encoder accepts. Plain values map as Redis would answer them:
 * string / Uint8Array → bulk string; null → null bulk (RESP3 null); number → integer when it is an
 * int64, otherwise double; bigint → integer when it fits int64, otherwise big number; boolean →
 * RESP3 boolean (RESP2 integer 1 / 0); array → array; Map → map; Set → set; RespReplyError →
 * error with its message as is; any other Error → `-ERR <message>`.
 * Under protocol 2, RESP3-only types are downgraded the way redis-server downgrades them.
 */
export type RespValue =
  | string
  | Uint8Array
  | number
  | bigint
  | boolean
  | null
  | Error
  | RespTagged
  | readonly RespValue[]
  | ReadonlyMap<RespValue, RespValue>
  | ReadonlySet<RespValue>;

/**
 * A reply as `respReplies` decodes it: simple strings become strings, bulk strings Buffers (strings
 * with the `encoding` option), integers numbers (bigint past 2^53), doubles numbers, big numbers
 * bigints, nulls (all kinds) null, errors RespReplyError values, maps Map, sets Set.
 */
export type RespReply =
  | string
  | Buffer
  | number
  | bigint
  | boolean
  | null
  | RespReplyError
  | RespVerbatimString<string | Buffer>
  | RespPush<RespReply>
  | RespReply[]
  | Map<RespReply, RespReply>
  | Set<RespReply>;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function isInt64(value: number | bigint): boolean {
  if (typeof value === 'bigint') return value >= INT64_MIN && value <= INT64_MAX;
  return Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63;
}

const NULL_ARRAY: RespNullArray = Object.freeze({ type: 'null-array' });

/** Reply builders, one per RESP type. */
export const resp = {
  simple(value: string): RespSimpleString {
    return { type: 'simple', value };
  },
  /** An error reply, written as is: by convention it starts with a code, e.g. 'WRONGTYPE ...'. */
  error(message: string): RespReplyError {
    return new RespReplyError(message);
  },
  integer(value: number | bigint): number | bigint {
    if (!isInt64(value)) throw new RangeError(`resp.integer: ${value} is not a 64-bit integer`);
    return value;
  },
  bulk(value: string | Uint8Array | null): string | Uint8Array | null {
    return value;
  },
  null(): null {
    return null;
  },
  nullArray(): RespNullArray {
    return NULL_ARRAY;
  },
  array(items: readonly RespValue[]): readonly RespValue[] {
    return items;
  },
  map(entries: Iterable<readonly [RespValue, RespValue]> | Readonly<Record<string, RespValue>>): Map<RespValue, RespValue> {
    return Symbol.iterator in entries
      ? new Map(entries as Iterable<readonly [RespValue, RespValue]>)
      : new Map(Object.entries(entries));
  },
  set(items: Iterable<RespValue>): Set<RespValue> {
    return new Set(items);
  },
  double(value: number): RespDouble {
    return { type: 'double', value };
  },
  boolean(value: boolean): boolean {
    return value;
  },
  push(items: readonly RespValue[]): RespPush {
    return { type: 'push', items };
  },
  bigNumber(value: bigint | string): RespBigNumber {
    if (typeof value === 'string' && !/^-?\d+$/.test(value)) throw new RangeError(`resp.bigNumber: '${value}' is not an integer`);
    return { type: 'big-number', value: BigInt(value) };
  },
  verbatim(value: string | Uint8Array, format = 'txt'): RespVerbatimString {
    if (Buffer.byteLength(format) !== 3) throw new RangeError(`resp.verbatim: format must be 3 bytes, got '${format}'`);
    return { type: 'verbatim', format, value };
  },
} as const;
