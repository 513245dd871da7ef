import * as fc from 'fast-check';
import { resp, RespReplyError, type RespProtocol, type RespValue } from '../../operators';

/**
 * A comparable, order-preserving form of a decoded reply: Buffers as hex, bigints and NaN tagged,
 * errors by message, maps and sets as entry lists.
 */
export type Canonical =
  | string
  | number
  | boolean
  | null
  | Canonical[]
  | { bytes: string }
  | { bigint: string }
  | { nan: true }
  | { error: string }
  | { verbatim: [string, Canonical] }
  | { push: Canonical[] }
  | { map: [Canonical, Canonical][] }
  | { set: Canonical[] };

export interface CanonicalOptions {
  /** Compare simple strings as bytes, for decoders that do not tell them from bulk strings. */
  readonly textAsBytes?: boolean;
}

function bytes(value: Uint8Array | string): { bytes: string } {
  return { bytes: Buffer.from(value).toString('hex') };
}

function number(value: number): Canonical {
  if (Number.isNaN(value)) return { nan: true };
  return Object.is(value, -0) ? 0 : value;
}

/** The canonical form of what a decoder produced (ours, or another library's equivalent). */
export function canonical(value: unknown, options: CanonicalOptions = {}): Canonical {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return number(value);
  if (typeof value === 'bigint') return { bigint: value.toString() };
  if (typeof value === 'string') return options.textAsBytes ? bytes(value) : value;
  if (value instanceof Uint8Array) return bytes(value);
  if (value instanceof Error) return { error: value.message };
  if (Array.isArray(value)) return value.map((item) => canonical(item, options));
  if (value instanceof Map) return { map: [...value].map(([key, item]) => [canonical(key, options), canonical(item, options)]) };
  if (value instanceof Set) return { set: [...value].map((item) => canonical(item, options)) };
  if (typeof value === 'object' && 'type' in value) {
    const tagged = value as { type: unknown; items?: unknown[]; format?: string; value?: unknown };
    if (tagged.type === 'push') return { push: tagged.items!.map((item) => canonical(item, options)) };
    if (tagged.type === 'verbatim') return { verbatim: [tagged.format!, canonical(tagged.value, options)] };
  }
  throw new Error(`no canonical form for ${String(value)}`);
}

function sanitise(text: string): string {
  return Buffer.from(text).toString().replace(/[\r\n]/g, ' ');
}

function doubleText(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return String(value);
}

function isInt64(value: number | bigint): boolean {
  const big = typeof value === 'bigint' ? value : Number.isInteger(value) ? BigInt(value) : undefined;
  return big !== undefined && big >= -(2n ** 63n) && big < 2n ** 63n;
}

function integer(value: number | bigint): Canonical {
  const big = BigInt(value);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : { bigint: big.toString() };
}

/** Keys (and set members) that a JS Map / Set merges by value once decoded, as opposed to fresh objects. */
function isMergedByValue(key: Canonical): boolean {
  return key === null || typeof key !== 'object' || 'bigint' in key || 'nan' in key;
}

function sameKey(left: Canonical, right: Canonical): boolean {
  return JSON.stringify(left) === JSON.stringify(right);
}

/** The model: what decoding encodeReply(value, protocol) must give, in canonical form. */
export function expectedReply(value: RespValue, protocol: RespProtocol): Canonical {
  const expect = (item: RespValue): Canonical => expectedReply(item, protocol);
  switch (typeof value) {
    case 'string':
      return bytes(value);
    case 'number':
      if (isInt64(value)) return integer(value);
      return protocol === 3 ? number(value) : bytes(doubleText(value));
    case 'bigint':
      if (isInt64(value)) return integer(value);
      return protocol === 3 ? { bigint: value.toString() } : bytes(value.toString());
    case 'boolean':
      return protocol === 3 ? value : value ? 1 : 0;
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) return bytes(value);
  if (value instanceof RespReplyError) return { error: sanitise(value.message) };
  if (value instanceof Error) return { error: sanitise(`ERR ${value.message}`) };
  if (Array.isArray(value)) return value.map(expect);
  if (value instanceof Map) {
    const entries = [...value].map(([key, item]): [Canonical, Canonical] => [expect(key), expect(item)]);
    if (protocol === 2) return entries.flat();
    const merged: [Canonical, Canonical][] = [];
    for (const [key, item] of entries) {
      const existing = isMergedByValue(key) ? merged.find(([other]) => sameKey(other, key)) : undefined;
      if (existing) existing[1] = item;
      else merged.push([key, item]);
    }
    return { map: merged };
  }
  if (value instanceof Set) {
    const members = [...value].map(expect);
    if (protocol === 2) return members;
    const merged: Canonical[] = [];
    for (const member of members) {
      if (!(isMergedByValue(member) && merged.some((other) => sameKey(other, member)))) merged.push(member);
    }
    return { set: merged };
  }
  const tagged = value as Exclude<RespValue, readonly RespValue[]> & { type: string };
  switch (tagged.type) {
    case 'simple':
      return sanitise((tagged as { value: string }).value);
    case 'double': {
      const double = (tagged as { value: number }).value;
      return protocol === 3 ? number(double) : bytes(doubleText(double));
    }
    case 'big-number': {
      const big = (tagged as { value: bigint }).value;
      return protocol === 3 ? { bigint: big.toString() } : bytes(big.toString());
    }
    case 'verbatim': {
      const { format, value: text } = tagged as { format: string; value: string | Uint8Array };
      return protocol === 3 ? { verbatim: [format, bytes(text)] } : bytes(text);
    }
    case 'push': {
      const items = (tagged as { items: readonly RespValue[] }).items.map(expect);
      return protocol === 3 ? { push: items } : items;
    }
    case 'null-array':
      return null;
  }
  throw new Error(`no model for ${String(value)}`);
}

export interface ReplyArbitraryOptions {
  /**
   * Only integers well within 2^53, for decoders that parse integers into doubles (ioredis's even
   * rounds just below 2^53, as its digit loop computes number * 10 + byte before subtracting '0').
   */
  readonly safeIntegers?: boolean;
  /** Only integral doubles and the specials (for decoders whose fraction parsing is approximate). */
  readonly integralDoubles?: boolean;
  /** Whether pushes may appear inside aggregates (RESP3 allows it; some clients do not). */
  readonly nestedPush?: boolean;
}

const text = fc.string({ unit: 'binary', maxLength: 12 });
const crlfText = fc.array(fc.constantFrom('a', 'b', '\r', '\n', ' ', 'é'), { maxLength: 8 }).map((parts) => parts.join(''));

export function replyArbitrary(options: ReplyArbitraryOptions = {}): fc.Arbitrary<RespValue> {
  const wellWithin2to53 = fc.integer({ min: -(2 ** 50), max: 2 ** 50 });
  const integers: fc.Arbitrary<number | bigint> = options.safeIntegers
    ? fc.oneof(fc.integer(), wellWithin2to53.map((value) => BigInt(value)))
    : fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.constantFrom(2 ** 60, -(2 ** 63), 2 ** 63, 9.2e18));
  const doubles = options.integralDoubles
    ? fc.oneof(fc.integer(), fc.constantFrom(Number.NaN, Infinity, -Infinity))
    : fc.double();
  const leaf: fc.Arbitrary<RespValue> = fc.oneof(
    text,
    fc.uint8Array({ maxLength: 16 }).map((value) => Buffer.from(value)),
    integers,
    doubles.filter((value) => !options.safeIntegers || !isInt64(value) || Math.abs(value) <= 2 ** 50),
    fc.boolean(),
    fc.constant(null),
    crlfText.map((message) => new Error(message)),
    crlfText.map((message) => resp.error(message)),
    fc.oneof(text, crlfText).map((value) => resp.simple(value)),
    doubles.map((value) => resp.double(value)),
    (options.safeIntegers ? wellWithin2to53.map((value) => BigInt(value)) : fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n })).map((value) => resp.bigNumber(value)),
    fc.tuple(fc.oneof(text, fc.uint8Array({ maxLength: 8 })), fc.constantFrom('txt', 'mkd')).map(([value, format]) => resp.verbatim(value, format)),
    fc.constant(resp.nullArray()),
  );
  const tree = fc.letrec<{ value: RespValue; aggregate: RespValue }>((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('aggregate')),
    aggregate: fc.oneof(
      fc.array(tie('value'), { maxLength: 4 }),
      fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
      fc.array(tie('value'), { maxLength: 3 }).map((items) => new Set(items)),
      ...(options.nestedPush === false ? [] : [fc.array(tie('value'), { maxLength: 3 }).map((items) => resp.push(items))]),
    ),
  }));
  return tree.value;
}
