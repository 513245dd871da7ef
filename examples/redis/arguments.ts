import { Buffer } from 'node:buffer';

import { invalidExpireTime, NOT_AN_INTEGER, NOT_A_FLOAT, NOT_POSITIVE } from './replies';

// Reading command arguments as redis-server does: integers as its string2ll, doubles as its
// string2d (strtod), options compared without case. The readers that end in "Argument" throw the
// error reply redis-server gives for a bad value; the command dispatcher sends it.

const MINUS = 45;
const ZERO = 48;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * string2ll: an optional '-', then "0" or a digit 1-9 and more digits, within int64; no spaces,
 * no '+', no leading zeros. NaN where it fails. Exact up to 2^53; larger values are rounded, and
 * only the callers that need every int64 exactly (INCRBY and friends) use parseInt64 instead.
 */
export function parseInteger(bytes: Uint8Array): number {
  const length = bytes.length;
  if (length === 0 || length > 20) return Number.NaN;
  if (length === 1 && bytes[0] === ZERO) return 0;
  const negative = bytes[0] === MINUS;
  const first = negative ? 1 : 0;
  if (first === length) return Number.NaN;
  let digit = bytes[first]! - ZERO;
  if (digit < 1 || digit > 9) return Number.NaN;
  let value = digit;
  for (let index = first + 1; index < length; index++) {
    digit = bytes[index]! - ZERO;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  // Past 2^63 by the rounded value means out of range, except near the bound, which only exact arithmetic can tell.
  if (length - first >= 19 && value >= 9e18) {
    const exact = BigInt(Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('latin1'));
    if (exact > INT64_MAX || exact < INT64_MIN) return Number.NaN;
  }
  return negative ? -value : value;
}

/** As parseInteger, but exact over all of int64: a bigint where a number would be rounded; null where it fails. */
export function parseInt64(bytes: Uint8Array): number | bigint | null {
  const value = parseInteger(bytes);
  if (Number.isNaN(value)) return null;
  if (Number.isSafeInteger(value)) return value;
  return BigInt(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1'));
}

/** a + b, or null where the sum leaves int64 (redis-server: "increment or decrement would overflow"). */
export function addInt64(a: number | bigint, b: number | bigint): number | bigint | null {
  if (typeof a === 'number' && typeof b === 'number') {
    const sum = a + b;
    if (Number.isSafeInteger(sum)) return sum;
  }
  const sum = BigInt(a) + BigInt(b);
  if (sum > INT64_MAX || sum < INT64_MIN) return null;
  return sum;
}

/** An integer argument; throws `ERR value is not an integer or out of range` otherwise. */
export function integerArgument(argument: Buffer): number {
  const value = parseInteger(argument);
  if (Number.isNaN(value)) throw NOT_AN_INTEGER;
  return value;
}

/** A count that must be >= 0 (getPositiveLongFromObjectOrReply): `ERR value is out of range, must be positive` otherwise, integer or not. */
export function countArgument(argument: Buffer): number {
  const value = parseInteger(argument);
  if (!(value >= 0)) throw NOT_POSITIVE;
  return value;
}

/** 2^63, the first integer past int64 (as a double, INT64_MAX rounds to it). */
const PAST_INT64 = 2 ** 63;

/**
 * The deadline (unix ms) that an expiry argument of SET (EX, PX, EXAT, PXAT) gives, with
 * redis-server's checks: `ERR invalid expire time in 'set' command` for a time that is not
 * positive or would overflow.
 */
export function deadlineArgument(argument: Buffer, unitMs: 1 | 1000, relative: boolean, command: string): number {
  let deadline = integerArgument(argument);
  if (deadline <= 0 || deadline * unitMs >= PAST_INT64) throw invalidExpireTime(command);
  deadline *= unitMs;
  if (relative) deadline += Date.now();
  if (deadline >= PAST_INT64) throw invalidExpireTime(command);
  return deadline;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const HEXADECIMAL = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
const INFINITY = /^[+-]?inf(?:inity)?$/i;
const LEADING_SPACE = /^[ \t\n\v\f\r]+/;

/**
 * C's strtod, where the whole of `text` must be read: leading white space, then a decimal or
 * hexadecimal ("0x1.8p3") number, or "inf" / "infinity", with an optional sign; overflow gives
 * ±Infinity and underflow 0. NaN if anything is left over; the empty string is 0 (strtod reads
 * nothing, and nothing is left). ("nan" reads as NaN, which every caller refuses.)
 */
export function strtod(text: string): number {
  const number = text.replace(LEADING_SPACE, '');
  if (INFINITY.test(number)) return number.charCodeAt(0) === MINUS ? -Infinity : Infinity;
  if (DECIMAL.test(number)) return Number(number);
  const hexadecimal = HEXADECIMAL.exec(number);
  if (hexadecimal) return hexadecimalValue(hexadecimal);
  return text === '' ? 0 : Number.NaN;
}

function hexadecimalValue([, sign, whole = '', fraction = '', exponent = '0']: RegExpExecArray): number {
  if (whole === '' && fraction === '') return Number.NaN; // "0x" alone: strtod reads the 0 and stops at the x
  const mantissa = Number(BigInt(`0x${whole}${fraction}`));
  const power = Number(exponent) - 4 * fraction.length;
  // In two steps, so that a large mantissa with a very negative power still lands on a subnormal.
  const half = Math.trunc(power / 2);
  const magnitude = mantissa === 0 ? 0 : mantissa * 2 ** half * 2 ** (power - half);
  return sign === '-' ? -magnitude : magnitude;
}

/** Whether the digits before the exponent are all zero: a zero result from other digits is an underflow. */
function hasZeroMantissa(number: string): boolean {
  const hexadecimal = HEXADECIMAL.exec(number);
  const digits = hexadecimal ? `${hexadecimal[2]}${hexadecimal[3] ?? ''}` : number.replace(/[eE].*$/, '');
  return !/[1-9a-fA-F]/.test(digits);
}

/**
 * redis-server's string2d: strtod, but not empty, no leading space, no NaN, and no overflow to
 * infinity or underflow to zero (strtod's ERANGE). NaN where it fails.
 */
export function parseDouble(text: string): number {
  if (text === '' || LEADING_SPACE.test(text)) return Number.NaN;
  const value = strtod(text);
  if (!Number.isFinite(value) && !INFINITY.test(text)) return Number.NaN; // overflow
  if (value === 0 && !hasZeroMantissa(text)) return Number.NaN; // underflow
  return value;
}

/** A double argument; throws `ERR value is not a valid float` otherwise. */
export function doubleArgument(argument: Buffer): number {
  const value = parseDouble(argument.toString('latin1'));
  if (Number.isNaN(value)) throw NOT_A_FLOAT;
  return value;
}

/**
 * C's printf("%.17g"), which redis-server 7.0 uses for the doubles it replies with (ZSCORE and
 * the scores of ZRANGE ... WITHSCORES), with its "inf" and "-inf". 1.1 is "1.1000000000000001".
 */
export function formatDouble(value: number): string {
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (Number.isNaN(value)) return 'nan';
  const exponential = value.toExponential(16); // d.dddddddddddddddde±x: 17 significant digits
  const exponent = Number(exponential.slice(exponential.indexOf('e') + 1));
  if (exponent < -4 || exponent >= 17) {
    const [mantissa, power] = exponential.split('e') as [string, string];
    const sign = power[0] === '-' ? '-' : '+';
    const digits = power.replace(/^[+-]/, '');
    return `${stripZeros(mantissa)}e${sign}${digits.length < 2 ? `0${digits}` : digits}`;
  }
  return stripZeros(value.toFixed(16 - exponent));
}

/** %g drops trailing zeros after the decimal point, and the point itself when nothing follows it. */
function stripZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** Whether `argument` is the option `name` (given in lower case), compared as strcasecmp does. */
export function isOption(argument: Uint8Array, name: string): boolean {
  if (argument.length !== name.length) return false;
  for (let index = 0; index < name.length; index++) {
    const expected = name.charCodeAt(index);
    const byte = argument[index]!;
    if (byte !== expected && !(expected >= 97 && expected <= 122 && byte === expected - 32)) return false;
  }
  return true;
}

/** Bit flags for a command's options, one each in the order given: optionFlags('nx', 'xx') is { nx: 1, xx: 2 }. */
export function optionFlags<Name extends string>(...names: Name[]): Readonly<Record<Name, number>> {
  return Object.fromEntries(names.map((name, index) => [name, 1 << index])) as Record<Name, number>;
}

/** The flag of the option that `argument` names (in any case), or 0 if it names none of `flags`. */
export function optionFlag(argument: Uint8Array, flags: Readonly<Record<string, number>>): number {
  for (const name in flags) if (isOption(argument, name)) return flags[name]!;
  return 0;
}

/** Buffer's own latin1 decoder, which toString('latin1') reaches only after looking the encoding up. */
type Latin1Slicer = { latin1Slice(start: number, end: number): string };

/** The key (or member, or field) as a Map key: one character per byte, so any bytes round-trip. */
export function keyOf(argument: Buffer): string {
  return (argument as unknown as Latin1Slicer).latin1Slice(0, argument.length);
}

/** The bytes a key (or member, or field) string stands for. */
export function bytesOf(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

/** Values this short are copied byte by byte: cheaper than a call into the typed-array copy. */
const SHORT_COPY = 16;

/** A copy of an argument, to be stored: arguments are views into the connection's read buffer. */
export function copyOf(argument: Buffer): Buffer {
  const copy = Buffer.allocUnsafe(argument.length);
  if (argument.length <= SHORT_COPY) {
    for (let index = 0; index < argument.length; index++) copy[index] = argument[index]!;
  } else {
    copy.set(argument);
  }
  return copy;
}
