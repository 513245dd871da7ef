import { Buffer } from 'node:buffer';

import { RespReplyError } from './errors';
import { isInt64, type RespProtocol, type RespTagged, type RespValue } from './resp';

const CR = 13;
const LF = 10;
const SPACE = 32;

/** One reply as RESP, in one exactly-sized Buffer. Throws TypeError for a value that is not a RespValue. */
export function encodeReply(value: RespValue, protocol: RespProtocol = 2): Buffer {
  const buffer = Buffer.allocUnsafe(measure(value, protocol));
  write(value, protocol, buffer, 0);
  return buffer;
}

/**
 * Several replies, back to back, in one exactly-sized Buffer: what a pipelined server writes for
 * the batch of commands one read brought in.
 */
export function encodeReplies(values: readonly RespValue[], protocol: RespProtocol = 2): Buffer {
  let size = 0;
  for (const value of values) size += measure(value, protocol);
  const buffer = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const value of values) offset = write(value, protocol, buffer, offset);
  return buffer;
}

// measure() and write() walk values the same way: the first sizes the Buffer, the second fills it.

function measure(value: RespValue, protocol: RespProtocol): number {
  switch (typeof value) {
    case 'string':
      return bulkSize(utf8Length(value));
    case 'number':
      if (Number.isSafeInteger(value)) return 3 + (value < 0 ? 1 + decimalLength(-value) : decimalLength(value));
      return isInt64(value) ? lineSize(integerText(value)) : textSize(doubleText(value), protocol);
    case 'bigint':
      return isInt64(value) || protocol === 3 ? lineSize(value.toString()) : bulkSize(value.toString().length);
    case 'boolean':
      return 4; // #t\r\n or :1\r\n
    case 'object':
      if (value === null) return protocol === 3 ? 3 : 5; // _\r\n or $-1\r\n
      if (value instanceof Uint8Array) return bulkSize(value.length);
      if (isArray(value)) return measureItems(value, value.length, protocol);
      if (value instanceof Map) {
        let size = headerSize(protocol === 3 ? value.size : value.size * 2);
        for (const [key, item] of value) size += measure(key, protocol) + measure(item, protocol);
        return size;
      }
      if (value instanceof Set) return measureItems(value, value.size, protocol);
      if (value instanceof Error) return lineSize(errorText(value));
      if ('type' in value) return measureTagged(value, protocol);
  }
  throw notEncodable(value);
}

function measureTagged(value: RespTagged, protocol: RespProtocol): number {
  switch (value.type) {
    case 'simple':
      return 3 + utf8Length(value.value);
    case 'double':
      return textSize(doubleText(value.value), protocol);
    case 'big-number':
      return protocol === 3 ? lineSize(value.value.toString()) : bulkSize(value.value.toString().length);
    case 'verbatim': {
      const length = byteLength(value.value);
      return protocol === 3 ? bulkSize(4 + length) : bulkSize(length);
    }
    case 'push':
      return measureItems(value.items, value.items.length, protocol);
    case 'null-array':
      return protocol === 3 ? 3 : 5; // _\r\n or *-1\r\n
  }
  throw notEncodable(value);
}

function measureItems(items: Iterable<RespValue>, count: number, protocol: RespProtocol): number {
  let size = headerSize(count);
  for (const item of items) size += measure(item, protocol);
  return size;
}

function write(value: RespValue, protocol: RespProtocol, buffer: Buffer, offset: number): number {
  switch (typeof value) {
    case 'string':
      offset = writeHeader(buffer, offset, 0x24, utf8Length(value)); // $
      return writeCrlf(buffer, writeUtf8(buffer, offset, value));
    case 'number':
      if (Number.isSafeInteger(value)) return writeInteger(buffer, offset, value);
      if (isInt64(value)) return writeLine(buffer, offset, 0x3a, integerText(value)); // :
      return writeText(buffer, offset, doubleText(value), protocol);
    case 'bigint':
      if (isInt64(value)) return writeLine(buffer, offset, 0x3a, value.toString()); // :
      return writeBigNumber(buffer, offset, value, protocol);
    case 'boolean':
      if (protocol === 3) return writeAscii(buffer, offset, value ? '#t\r\n' : '#f\r\n');
      return writeAscii(buffer, offset, value ? ':1\r\n' : ':0\r\n');
    case 'object':
      if (value === null) return writeAscii(buffer, offset, protocol === 3 ? '_\r\n' : '$-1\r\n');
      if (value instanceof Uint8Array) {
        offset = writeHeader(buffer, offset, 0x24, value.length); // $
        return writeCrlf(buffer, writeBytes(buffer, offset, value));
      }
      if (isArray(value)) return writeItems(buffer, offset, 0x2a, value, value.length, protocol); // *
      if (value instanceof Map) {
        offset = protocol === 3 ? writeHeader(buffer, offset, 0x25, value.size) : writeHeader(buffer, offset, 0x2a, value.size * 2); // % or *
        for (const [key, item] of value) {
          offset = write(key, protocol, buffer, offset);
          offset = write(item, protocol, buffer, offset);
        }
        return offset;
      }
      if (value instanceof Set) return writeItems(buffer, offset, protocol === 3 ? 0x7e : 0x2a, value, value.size, protocol); // ~ or *
      if (value instanceof Error) return writeLine(buffer, offset, 0x2d, errorText(value), true); // -
      if ('type' in value) return writeTagged(value, protocol, buffer, offset);
  }
  throw notEncodable(value);
}

function writeTagged(value: RespTagged, protocol: RespProtocol, buffer: Buffer, offset: number): number {
  switch (value.type) {
    case 'simple':
      return writeLine(buffer, offset, 0x2b, value.value, true); // +
    case 'double':
      return writeText(buffer, offset, doubleText(value.value), protocol);
    case 'big-number':
      return writeBigNumber(buffer, offset, value.value, protocol);
    case 'verbatim': {
      const text = value.value;
      const length = byteLength(text);
      if (protocol === 3) {
        offset = writeHeader(buffer, offset, 0x3d, 4 + length); // =
        offset += buffer.write(value.format, offset, 'latin1');
        buffer[offset++] = 0x3a; // :
      } else {
        offset = writeHeader(buffer, offset, 0x24, length); // $
      }
      if (typeof text === 'string') buffer.write(text, offset);
      else buffer.set(text, offset);
      return writeCrlf(buffer, offset + length);
    }
    case 'push':
      return writeItems(buffer, offset, protocol === 3 ? 0x3e : 0x2a, value.items, value.items.length, protocol); // > or *
    case 'null-array':
      return writeAscii(buffer, offset, protocol === 3 ? '_\r\n' : '*-1\r\n');
  }
  throw notEncodable(value);
}

function writeItems(buffer: Buffer, offset: number, type: number, items: Iterable<RespValue>, count: number, protocol: RespProtocol): number {
  offset = writeHeader(buffer, offset, type, count);
  for (const item of items) offset = write(item, protocol, buffer, offset);
  return offset;
}

/** A double is a RESP3 double, or in RESP2 the bulk string redis-server sends instead (as for ZSCORE). */
function writeText(buffer: Buffer, offset: number, text: string, protocol: RespProtocol): number {
  if (protocol === 3) return writeLine(buffer, offset, 0x2c, text); // ,
  offset = writeHeader(buffer, offset, 0x24, text.length); // $
  offset += buffer.write(text, offset, 'latin1');
  return writeCrlf(buffer, offset);
}

function textSize(text: string, protocol: RespProtocol): number {
  return protocol === 3 ? lineSize(text) : bulkSize(text.length);
}

function writeBigNumber(buffer: Buffer, offset: number, value: bigint, protocol: RespProtocol): number {
  const digits = value.toString();
  if (protocol === 3) return writeLine(buffer, offset, 0x28, digits); // (
  offset = writeHeader(buffer, offset, 0x24, digits.length); // $
  offset += buffer.write(digits, offset, 'latin1');
  return writeCrlf(buffer, offset);
}

/** Exact digits: String() gives the shortest round-trip form, which past 2^53 is not the integer itself. */
function integerText(value: number): string {
  return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
}

function doubleText(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return String(value); // the shortest text that parses back to the same double
}

function errorText(error: Error): string {
  return error instanceof RespReplyError ? error.message : `ERR ${error.message}`;
}

function byteLength(text: string | Uint8Array): number {
  return typeof text === 'string' ? Buffer.byteLength(text) : text.length;
}

/** `<type><text>\r\n`. Sanitised lines (simple strings, errors) get CR and LF replaced by spaces, as redis-server does, so a stray newline cannot break the stream. */
function writeLine(buffer: Buffer, offset: number, type: number, text: string, sanitise = false): number {
  buffer[offset++] = type;
  const end = writeUtf8(buffer, offset, text);
  if (sanitise) {
    for (let index = offset; index < end; index++) {
      if (buffer[index] === CR || buffer[index] === LF) buffer[index] = SPACE;
    }
  }
  return writeCrlf(buffer, end);
}

function lineSize(text: string): number {
  return 3 + utf8Length(text);
}

/**
 * Text this short is measured and written here, byte by byte, when it is ASCII: for a few bytes
 * (+OK, a small bulk string) a call into C++ (Buffer.byteLength, buffer.write) costs more than
 * the copy itself.
 */
const SHORT_TEXT = 32;

/** The UTF-8 length of `text`. */
function utf8Length(text: string): number {
  if (text.length <= SHORT_TEXT) {
    let index = 0;
    while (index < text.length && text.charCodeAt(index) < 0x80) index++;
    if (index === text.length) return index;
  }
  return Buffer.byteLength(text);
}

/** Writes `text` as UTF-8 at `offset`; returns the offset after it. */
function writeUtf8(buffer: Buffer, offset: number, text: string): number {
  if (text.length <= SHORT_TEXT) {
    let index = 0;
    for (let code; index < text.length && (code = text.charCodeAt(index)) < 0x80; index++) buffer[offset + index] = code;
    if (index === text.length) return offset + index;
  }
  return offset + buffer.write(text, offset);
}

/** Copies `bytes` to `offset`, byte by byte when they are few (cheaper than TypedArray#set's call); returns the offset after them. */
function writeBytes(buffer: Buffer, offset: number, bytes: Uint8Array): number {
  const length = bytes.length;
  if (length <= SHORT_TEXT) {
    for (let index = 0; index < length; index++) buffer[offset + index] = bytes[index]!;
  } else {
    buffer.set(bytes, offset);
  }
  return offset + length;
}

/** `:<digits>\r\n` for a safe integer, without making a string of it. */
function writeInteger(buffer: Buffer, offset: number, value: number): number {
  buffer[offset++] = 0x3a; // :
  if (value < 0) {
    buffer[offset++] = 0x2d; // -
    value = -value;
  }
  const end = offset + decimalLength(value);
  for (let index = end - 1, rest = value; index >= offset; index--, rest = Math.floor(rest / 10)) {
    buffer[index] = 0x30 + (rest % 10);
  }
  return writeCrlf(buffer, end);
}

function writeHeader(buffer: Buffer, offset: number, type: number, length: number): number {
  buffer[offset++] = type;
  const end = offset + decimalLength(length);
  for (let index = end - 1, rest = length; index >= offset; index--, rest = Math.floor(rest / 10)) {
    buffer[index] = 0x30 + (rest % 10);
  }
  return writeCrlf(buffer, end);
}

function headerSize(length: number): number {
  return 3 + decimalLength(length);
}

function bulkSize(length: number): number {
  return 5 + decimalLength(length) + length;
}

function decimalLength(value: number): number {
  let length = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) length++;
  return length;
}

function writeAscii(buffer: Buffer, offset: number, text: string): number {
  for (let index = 0; index < text.length; index++) buffer[offset++] = text.charCodeAt(index);
  return offset;
}

function writeCrlf(buffer: Buffer, offset: number): number {
  buffer[offset] = CR;
  buffer[offset + 1] = LF;
  return offset + 2;
}

function isArray(value: object): value is readonly RespValue[] {
  return Array.isArray(value);
}

function notEncodable(value: unknown): TypeError {
  const description = value === null ? 'null' : typeof value === 'object' ? `object ${Object.prototype.toString.call(value)}` : typeof value;
  return new TypeError(`encodeReply: cannot encode ${description} as RESP`);
}
