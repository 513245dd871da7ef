import { Buffer } from 'node:buffer';

import type { OperatorFunction } from 'rxjs';
import { FramingError, RespProtocolError, RespReplyError, type RespProtocolErrorCode } from './errors';
import { decoderOperator, type FrameSink, type StreamDecoder } from './internal/decoder-operator';
import { HeldLine } from './internal/held-line';
import { PendingBytes } from './internal/pending-bytes';
import type { RespReply } from './resp';
import { bufferOf, copyBytes, view, viewAt } from './internal/buffer-view';

export interface RespRepliesOptions {
  /**
   * Decode bulk strings (and verbatim strings' text) to strings with this encoding, not Buffers.
   * With utf8 or latin1, the values in a chunk are slices of its text decoded once, which V8 may
   * keep alive while any of them lives, as a Buffer value keeps its chunk.
   */
  readonly encoding?: BufferEncoding;
  /** The most bytes of a bulk string, blob error or verbatim string. Default 512 MiB. */
  readonly maxBulkLength?: number;
  /** The most elements of an aggregate (a map's pairs count once each). Default 8 Mi, under V8's Map/Set size limit. */
  readonly maxArrayLength?: number;
  /** The most bytes of a line (simple string, error, number...) before its CRLF. Default 1 MiB. */
  readonly maxLineLength?: number;
  /** The most aggregates nested in one another. Default 128. */
  readonly maxDepth?: number;
}

/**
 * What a client reads: emits each RESP2 or RESP3 reply, decoded as described by RespReply.
 * Bulk strings are zero-copy subarrays of the input chunk when they lie in one. Push messages are
 * emitted in order with the replies, as RespPush values. Attributes (`|`) are read and dropped.
 * Errors with RespProtocolError for malformed or over-limit input, or FramingError TRUNCATED if the
 * input completes inside a reply.
 */
export function respReplies(options: RespRepliesOptions = {}): OperatorFunction<Buffer, RespReply> {
  const {
    encoding,
    maxBulkLength = 512 * 1024 * 1024,
    maxArrayLength = 8 * 1024 * 1024,
    maxLineLength = 1024 * 1024,
    maxDepth = 128,
  } = options;
  const limits = { maxBulkLength, maxArrayLength, maxLineLength, maxDepth };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`respReplies: ${name} must be a non-negative integer`);
  }
  return decoderOperator(() => new RespReplyParser(limits, encoding));
}

const LF = 10;
const CR = 13;
const SIMPLE_STRING = 0x2b; // +
const INTEGER = 0x3a; // :
const BULK_STRING = 0x24; // $
const BLOB_ERROR = 0x21; // !
const VERBATIM_STRING = 0x3d; // =
const ARRAY = 0x2a; // *
const SET = 0x7e; // ~
const MAP = 0x25; // %
const PUSH = 0x3e; // >
const ATTRIBUTE = 0x7c; // |

/** Type bytes that start a reply (1) and those that do not (0): anything else is rejected as soon as it is seen. */
const IS_REPLY_TYPE = new Uint8Array(256);
for (const character of '+-:$*_,#(!=%~>|') IS_REPLY_TYPE[character.charCodeAt(0)] = 1;

const EMPTY_MEMORY = new ArrayBuffer(0);
const NO_BYTES = Buffer.alloc(0);

/**
 * Cut payloads up to this long are copied as they arrive into a Buffer of their size; longer ones
 * are held as they came and joined when whole, so that a length line alone never allocates much.
 */
const MAX_COPIED_PAYLOAD = 64 * 1024;

/** What readLine returns for a header line, whose value is still to come. */
const NO_VALUE: unique symbol = Symbol('no value');

/** The first CR in `chunk`: scanned in JS when short, where Buffer#indexOf's native call costs more than the scan. */
function indexOfCr(chunk: Buffer): number {
  if (chunk.length > 128) return chunk.indexOf(CR);
  for (let index = 0; index < chunk.length; index++) if (chunk[index] === CR) return index;
  return -1;
}

/** An aggregate being filled. The parser keeps one per nesting level and reuses it. */
interface Aggregate {
  type: number;
  items: RespReply[];
  /** Elements it has (twice the count for maps and attributes). */
  count: number;
  /** Elements received so far. */
  filled: number;
}

/** Arrays up to this many elements are allocated whole from their header; longer ones grow as elements arrive. */
const PREALLOCATED_ITEMS = 1024;

const NO_ITEMS: RespReply[] = [];

/** The array to fill with an aggregate's `count` elements. */
function newItems(count: number): RespReply[] {
  return count <= PREALLOCATED_ITEMS ? new Array<RespReply>(count) : [];
}

/**
 * The encodings for which decoding a chunk once and slicing its text gives each value's own
 * decoding, when the text has one character per byte: latin1 always; UTF-8 then has only ASCII
 * and lone invalid bytes, each decoding to one character whatever surrounds it.
 */
function slicedEncoding(encoding: BufferEncoding | undefined): 'utf8' | 'latin1' | undefined {
  switch (encoding?.toLowerCase()) {
    case 'utf8':
    case 'utf-8':
      return 'utf8';
    case 'latin1':
    case 'binary':
      return 'latin1';
    default:
      return undefined;
  }
}

export interface Limits {
  readonly maxBulkLength: number;
  readonly maxArrayLength: number;
  readonly maxLineLength: number;
  readonly maxDepth: number;
}

/** Exported for tests; the public surface is respReplies. */
export class RespReplyParser implements StreamDecoder<RespReply> {
  /** A payload from earlier chunks, as it came: one longer than MAX_COPIED_PAYLOAD, or a string's decoded in holdText. */
  private readonly pending = new PendingBytes();
  /**
   * Any other payload from earlier chunks: its copy being filled, or a view of it when only its
   * CRLF was cut. payloadReceived counts the bytes of it and its CRLF received, 0 when none is held.
   */
  private payload: Buffer = NO_BYTES;
  private payloadReceived = 0;
  /** A line from earlier chunks, read once whole and dropped. */
  private readonly line = new HeldLine();
  /** Aggregates being filled, innermost last: the first `depth` of these slots, which are reused. */
  private readonly stack: Aggregate[] = [];
  private depth = 0;
  /** The last short ASCII simple string, returned again for the same bytes ('OK', 'QUEUED'...). */
  private lastSimple = '';
  /** Payload length of the bulk string / blob error / verbatim string being read, or -1. */
  private bulkLength = -1;
  private bulkType = 0;
  private chunkOffset = 0;
  private pendingOffset = 0;
  /** Where the value that readBulkString read ends; see there. */
  private valueEnd = -1;
  private readonly slicedEncoding: 'utf8' | 'latin1' | undefined;
  /**
   * The current chunk from textStart on, decoded once when its first string value is met, if it has
   * one character per byte (then a value is a slice of it); undefined if not decoded yet, '' if
   * it has not. Forgotten after each chunk, whose memory the caller may reuse.
   */
  private text: string | undefined;
  private textStart = 0;
  /** The held bytes of a bulk string, decoded, when holdText could keep them (see there). */
  private pendingText: string | undefined;
  /** The chunk whose chunk.buffer and chunk.byteOffset these are: read once per chunk, when it first needs a view. */
  private memoryChunk: Buffer | undefined;
  private memory: ArrayBufferLike = EMPTY_MEMORY;
  private memoryOffset = 0;

  constructor(
    private readonly limits: Limits,
    private readonly encoding: BufferEncoding | undefined,
  ) {
    this.slicedEncoding = slicedEncoding(encoding);
  }

  write(chunk: Buffer, output: FrameSink<RespReply>): void {
    if (chunk.length === 0) return;
    let position = 0;
    this.text = undefined;
    if (this.pending.length > 0 || this.line.length > 0 || this.payloadReceived > 0) position = this.finishPending(chunk, output);
    if (position >= 0) this.parse(chunk, position, output);
    this.text = undefined;
    this.memoryChunk = undefined;
    this.memory = EMPTY_MEMORY;
    this.chunkOffset += chunk.length;
  }

  end(): void {
    const held = this.pending.length > 0 || this.line.length > 0 || this.payloadReceived > 0;
    if (held || this.bulkLength >= 0 || this.depth > 0) {
      throw new FramingError('TRUNCATED', 'input ended inside a reply', { offset: held ? this.pendingOffset : this.chunkOffset });
    }
  }

  /** The bytes held for an unfinished line or payload (for tests of the bounds on it). */
  heldBytes(): number {
    return this.pending.length + this.line.length + this.payload.length;
  }

  private parse(chunk: Buffer, position: number, output: FrameSink<RespReply>): void {
    const end = chunk.length;
    const { maxLineLength } = this.limits;
    while (position < end) {
      if (this.bulkLength >= 0) {
        const payloadEnd = position + this.bulkLength;
        if (payloadEnd + 2 > end) {
          this.holdPayload(chunk, position);
          return;
        }
        if (chunk[payloadEnd] !== CR || chunk[payloadEnd + 1] !== LF) this.missingCrlf(this.chunkOffset + payloadEnd);
        this.bulkLength = -1;
        const value = this.payloadValue(chunk, position, payloadEnd, this.chunkOffset + position);
        position = payloadEnd + 2;
        this.deliver(value, output);
        continue;
      }
      // The common replies, each read in one pass; -1 leaves the reply to the general path below,
      // which reads it again from its start (it is incomplete, over a limit, unusual or wrong).
      const type = chunk[position]!;
      let next = -1;
      if (type === BULK_STRING) next = this.readWholeBulkString(chunk, position, output);
      else if (type === ARRAY) next = this.readArray(chunk, position, output);
      else if (type === SIMPLE_STRING) next = this.readSimpleString(chunk, position, output);
      else if (type === INTEGER) next = this.readSmallInteger(chunk, position, output);
      if (next > 0) {
        position = next;
        continue;
      }
      if (IS_REPLY_TYPE[type] === 0) this.unknownType(type, this.chunkOffset + position);
      const scanEnd = Math.min(end, position + maxLineLength + 1);
      let cr = position + 1;
      while (cr < scanEnd && chunk[cr] !== CR) cr++;
      if (cr + 1 >= end) {
        if (cr === scanEnd && end - position > maxLineLength) this.lineTooLong(this.chunkOffset + position);
        this.pendingOffset = this.chunkOffset + position;
        this.line.append(chunk, position, end);
        return;
      }
      if (cr === scanEnd) this.lineTooLong(this.chunkOffset + position);
      if (chunk[cr + 1] !== LF) this.missingCrlf(this.chunkOffset + cr);
      const value = this.readLine(chunk, position, cr, this.chunkOffset + position);
      position = cr + 2;
      if (value !== NO_VALUE) this.deliver(value, output);
    }
  }

  /** A bulk string read whole by readBulkString (see there), delivered. Returns where parsing goes on, or -1. */
  private readWholeBulkString(chunk: Buffer, start: number, output: FrameSink<RespReply>): number {
    const value = this.readBulkString(chunk, start);
    if (value !== NO_VALUE) this.deliver(value, output);
    return this.valueEnd;
  }

  /**
   * The bulk string at `start`, if its `$` line has a plain length within the limits (or is `$-1`)
   * and it lies whole in `chunk` with its CRLF: a view of the chunk or a slice of its text, valueEnd
   * where it ends. Otherwise NO_VALUE, with valueEnd where its payload begins if only the payload is
   * cut by the chunk's end (then bulkLength is set, for parse() to hold it), or -1.
   */
  private readBulkString(chunk: Buffer, start: number): RespReply | typeof NO_VALUE {
    // Every byte read is checked to be in the chunk first: a read past its end would make V8 treat
    // every byte read at that place as possibly undefined, and the arithmetic on it as floating point.
    const { maxBulkLength, maxLineLength } = this.limits;
    const end = chunk.length;
    this.valueEnd = -1;
    if (start + 3 >= end || chunk[start] !== BULK_STRING) return NO_VALUE;
    let length = chunk[start + 1]! - 48;
    if (length >>> 0 > 9) return this.readNullBulkString(chunk, start);
    let cr = start + 2;
    for (; cr < end; cr++) {
      const digit = chunk[cr]! - 48;
      if (digit >>> 0 > 9 || length > maxBulkLength) break;
      length = length * 10 + digit;
    }
    if (cr + 1 >= end || chunk[cr] !== CR || chunk[cr + 1] !== LF || length > maxBulkLength || cr - start > maxLineLength) return NO_VALUE;
    const payloadStart = cr + 2;
    const payloadEnd = payloadStart + length;
    if (payloadEnd + 2 > end) {
      this.bulkLength = length;
      this.bulkType = BULK_STRING;
      this.valueEnd = payloadStart;
      return NO_VALUE;
    }
    if (chunk[payloadEnd] !== CR || chunk[payloadEnd + 1] !== LF) return NO_VALUE;
    this.valueEnd = payloadEnd + 2;
    return this.encoding === undefined ? this.viewOf(chunk, payloadStart, length) : this.decodeText(chunk, payloadStart, payloadEnd);
  }

  /** `$-1\r\n`, RESP2's null bulk string. */
  private readNullBulkString(chunk: Buffer, start: number): null | typeof NO_VALUE {
    if (start + 4 >= chunk.length || chunk[start + 1] !== 0x2d || chunk[start + 2] !== 0x31 || chunk[start + 3] !== CR || chunk[start + 4] !== LF) return NO_VALUE;
    this.valueEnd = start + 5;
    return null;
  }

  /**
   * The same for the header of a non-empty array: `*<count>\r\n`, then as many of its elements as
   * readBulkString reads whole. The array is delivered if they are all of them; otherwise it is
   * opened with them, for the rest to come through parse().
   */
  private readArray(chunk: Buffer, start: number, output: FrameSink<RespReply>): number {
    const { maxArrayLength, maxLineLength, maxDepth } = this.limits;
    const end = chunk.length;
    if (start + 3 >= end) return -1;
    let count = chunk[start + 1]! - 48;
    if (!(count >= 1 && count <= 9)) return -1;
    let cr = start + 2;
    for (; cr < end; cr++) {
      const digit = chunk[cr]! - 48;
      if (digit >>> 0 > 9 || count > maxArrayLength) break;
      count = count * 10 + digit;
    }
    if (cr + 1 >= end || chunk[cr] !== CR || chunk[cr + 1] !== LF || count > maxArrayLength || cr - start > maxLineLength || this.depth >= maxDepth) return -1;
    const items = newItems(count);
    let filled = 0;
    let position = cr + 2;
    while (filled < count) {
      const value = this.readBulkString(chunk, position);
      if (value === NO_VALUE) break;
      items[filled++] = value;
      position = this.valueEnd;
    }
    if (filled === count) {
      this.deliver(items, output);
      return position;
    }
    this.open(ARRAY, items, count, filled);
    // An element whose payload is cut has had its `$` line read.
    return this.valueEnd > 0 ? this.valueEnd : position;
  }

  /** A simple string (`+OK`) whose CRLF is in `chunk`, within maxLineLength. */
  private readSimpleString(chunk: Buffer, start: number, output: FrameSink<RespReply>): number {
    const scanEnd = Math.min(chunk.length - 1, start + this.limits.maxLineLength + 1);
    let cr = start + 1;
    while (cr < scanEnd && chunk[cr] !== CR) cr++;
    if (cr === scanEnd || chunk[cr + 1] !== LF) return -1;
    this.deliver(this.simpleText(chunk, start + 1, cr), output);
    return cr + 2;
  }

  /** An integer (`:123`, `:-7`) of at most 15 digits, so exact as a double, whose CRLF is in `chunk`. */
  private readSmallInteger(chunk: Buffer, start: number, output: FrameSink<RespReply>): number {
    if (start + 3 >= chunk.length) return -1;
    const negative = chunk[start + 1] === 0x2d;
    const digitsStart = negative ? start + 2 : start + 1;
    const digitsEnd = Math.min(chunk.length - 1, digitsStart + 15);
    let value = 0;
    let position = digitsStart;
    for (; position < digitsEnd; position++) {
      const digit = chunk[position]! - 48;
      if (!(digit >= 0 && digit <= 9)) break;
      value = value * 10 + digit;
    }
    if (position === digitsStart || position === digitsEnd || chunk[position] !== CR || chunk[position + 1] !== LF || position - start > this.limits.maxLineLength) return -1;
    this.deliver(negative ? -value : value, output);
    return position + 2;
  }

  /** `length` bytes of the current chunk from `start`, as a zero-copy Buffer. */
  private viewOf(chunk: Buffer, start: number, length: number): Buffer {
    if (this.memoryChunk !== chunk) {
      this.memoryChunk = chunk;
      this.memory = bufferOf(chunk);
      this.memoryOffset = chunk.byteOffset;
    }
    return viewAt(this.memory, this.memoryOffset + start, length);
  }

  /**
   * Bytes [start, end) of the current chunk as a string in the encoding: a slice of the chunk's
   * text when it has one character per byte (decoded once, from `start` on), otherwise decoded alone.
   */
  private decodeText(chunk: Buffer, start: number, end: number): string {
    return this.sliceText(chunk, start, end) ?? chunk.toString(this.encoding, start, end);
  }

  /** Bytes [start, end) of the current chunk as a slice of its text, if it has one character per byte; otherwise undefined. */
  private sliceText(chunk: Buffer, start: number, end: number): string | undefined {
    if (this.slicedEncoding === undefined) return undefined;
    let { text } = this;
    if (text === undefined) {
      text = chunk.toString(this.encoding, start);
      if (text.length !== chunk.length - start) text = '';
      this.text = text;
      this.textStart = start;
    }
    return text.length > 0 ? text.slice(start - this.textStart, end - this.textStart) : undefined;
  }

  /**
   * Keeps the text of a bulk string's first bytes, held from `start` to the end of `chunk`, when
   * the chunk's text gives it and its last byte ends a character (ASCII, or any byte in latin1):
   * the rest then decodes on its own, and the two need not be joined as bytes first.
   */
  private holdText(chunk: Buffer, start: number): void {
    if (this.bulkType !== BULK_STRING || this.slicedEncoding === undefined) return;
    if (this.slicedEncoding === 'utf8' && chunk[chunk.length - 1]! >= 0x80) return;
    this.pendingText = this.sliceText(chunk, start, chunk.length);
  }

  /**
   * A simple string's text. A short ASCII one ('OK', 'QUEUED', 'PONG') is built in JS, cheaper than
   * a native decode, or is the previous one again when its bytes are the same.
   */
  private simpleText(line: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > 8) return line.toString('utf8', start, end);
    const last = this.lastSimple;
    if (last.length === length) {
      let same = 0;
      while (same < length && line[start + same] === last.charCodeAt(same)) same++;
      if (same === length) return last;
    }
    let text = '';
    for (let index = start; index < end; index++) {
      const byte = line[index]!;
      if (byte >= 0x80) return line.toString('utf8', start, end);
      text += String.fromCharCode(byte);
    }
    this.lastSimple = text;
    return text;
  }

  /** Completes the line or payload held from earlier chunks; returns where parsing goes on, or -1. */
  private finishPending(chunk: Buffer, output: FrameSink<RespReply>): number {
    if (this.payloadReceived > 0) return this.finishPayload(chunk, output);
    const { pending } = this;
    const offset = this.pendingOffset;
    if (this.bulkLength >= 0) {
      const length = this.bulkLength;
      const missing = length + 2 - pending.length;
      if (chunk.length < missing) {
        pending.append(chunk);
        this.pendingText = undefined;
        return -1;
      }
      if (pending.byteAt(length, chunk) !== CR || pending.byteAt(length + 1, chunk) !== LF) this.missingCrlf(offset + length);
      const { pendingText } = this;
      this.bulkLength = -1;
      if (pendingText !== undefined) {
        // The held bytes, already decoded, end a character: the rest decodes on its own.
        const held = pending.length;
        pending.clear();
        this.pendingText = undefined;
        this.deliver(length <= held ? pendingText.slice(0, length) : pendingText + this.decodeText(chunk, 0, length - held), output);
        return missing;
      }
      const payload = pending.take(length, chunk);
      this.deliver(this.payloadValue(payload, 0, length, offset), output);
      return missing;
    }
    const { line } = this;
    const held = line.length;
    let lineLength: number;
    let next: number;
    if (line.lastByte() === CR) {
      if (chunk[0] !== LF) this.missingCrlf(offset + held - 1);
      lineLength = held - 1;
      next = 1;
    } else {
      // How many more bytes may come before the CR without the line being too long.
      const room = this.limits.maxLineLength + 1 - held;
      const cr = indexOfCr(chunk);
      if (cr < 0 || cr >= room) {
        if (chunk.length >= room) this.lineTooLong(offset);
        line.append(chunk, 0, chunk.length);
        return -1;
      }
      if (cr + 1 === chunk.length) {
        line.append(chunk, 0, chunk.length);
        return -1;
      }
      if (chunk[cr + 1] !== LF) this.missingCrlf(offset + held + cr);
      line.append(chunk, 0, cr);
      lineLength = held + cr;
      next = cr + 2;
    }
    line.clear();
    // Nothing a line gives keeps its bytes (they become a number, a string or a length), so they can be reused.
    const value = this.readLine(line.bytes, 0, lineLength, offset);
    if (value !== NO_VALUE) this.deliver(value, output);
    return next;
  }

  /**
   * Interprets the line from its type byte at `start` to its CR at `cr`: returns the value it
   * completes, or NO_VALUE for a header (of a bulk string or an aggregate) whose value is still to come.
   */
  private readLine(line: Buffer, start: number, cr: number, offset: number): RespReply | typeof NO_VALUE {
    const type = line[start]!;
    const textStart = start + 1;
    switch (type) {
      case SIMPLE_STRING:
        return this.simpleText(line, textStart, cr);
      case 0x2d: // - error
        return new RespReplyError(line.toString('utf8', textStart, cr));
      case INTEGER:
        return this.parseInteger(line, textStart, cr, offset);
      case 0x5f: // _ null
        if (cr !== textStart) this.fail('INVALID_NULL', 'RESP null with content', offset);
        return null;
      case 0x23: // # boolean
        if (cr === textStart + 1 && line[textStart] === 0x74) return true;
        if (cr === textStart + 1 && line[textStart] === 0x66) return false;
        return this.fail('INVALID_BOOLEAN', `invalid RESP boolean '${line.toString('latin1', textStart, cr)}'`, offset);
      case 0x2c: // , double
        return this.parseDouble(line.toString('latin1', textStart, cr), offset);
      case 0x28: { // ( big number
        const text = line.toString('latin1', textStart, cr);
        if (!/^[+-]?\d+$/.test(text)) this.fail('INVALID_BIG_NUMBER', `invalid RESP big number '${text}'`, offset);
        return BigInt(text);
      }
      case BULK_STRING:
      case BLOB_ERROR:
      case VERBATIM_STRING: {
        const length = this.parseLength(line, textStart, cr, offset, this.limits.maxBulkLength, type === BULK_STRING);
        if (length < 0) return null;
        if (type === VERBATIM_STRING && length < 4) this.fail('INVALID_VERBATIM', 'RESP verbatim string shorter than its format', offset);
        this.bulkLength = length;
        this.bulkType = type;
        return NO_VALUE;
      }
      default: { // * ~ % > | aggregates
        const count = this.parseLength(line, textStart, cr, offset, this.limits.maxArrayLength, type === ARRAY);
        if (count < 0) return null;
        if (count === 0) return type === ATTRIBUTE ? NO_VALUE : this.aggregateValue(type, []);
        if (this.depth >= this.limits.maxDepth) {
          this.fail('NESTING_TOO_DEEP', `RESP aggregates nested deeper than maxDepth ${this.limits.maxDepth}`, offset, this.limits.maxDepth);
        }
        const elements = type === MAP || type === ATTRIBUTE ? count * 2 : count;
        this.open(type, newItems(elements), elements, 0);
        return NO_VALUE;
      }
    }
  }

  /** Starts filling an aggregate of `count` elements in `items`, `filled` of them there already, one level deeper. */
  private open(type: number, items: RespReply[], count: number, filled: number): void {
    let slot = this.stack[this.depth];
    if (slot === undefined) {
      slot = { type, items: NO_ITEMS, count: 0, filled: 0 };
      this.stack.push(slot);
    }
    slot.type = type;
    slot.items = items;
    slot.count = count;
    slot.filled = filled;
    this.depth++;
  }

  /** Hands a complete value to the aggregate being filled, completing aggregates as they fill up. */
  private deliver(value: RespReply, output: FrameSink<RespReply>): void {
    const { stack } = this;
    for (let depth = this.depth; depth > 0; depth--) {
      const aggregate = stack[depth - 1]!;
      aggregate.items[aggregate.filled++] = value;
      if (aggregate.filled < aggregate.count) return;
      this.depth = depth - 1;
      const { type, items } = aggregate;
      aggregate.items = NO_ITEMS;
      // An attribute annotates the reply that follows it and does not count as an element.
      if (type === ATTRIBUTE) return;
      value = type === ARRAY ? items : this.aggregateValue(type, items);
    }
    output.next(value);
  }

  private aggregateValue(type: number, items: RespReply[]): RespReply {
    switch (type) {
      case SET:
        return new Set(items);
      case MAP: {
        const map = new Map<RespReply, RespReply>();
        for (let index = 0; index < items.length; index += 2) map.set(items[index]!, items[index + 1]!);
        return map;
      }
      case PUSH:
        return { type: 'push', items };
      default:
        return items;
    }
  }

  private payloadValue(payload: Buffer, start: number, end: number, offset: number): RespReply {
    const { encoding } = this;
    switch (this.bulkType) {
      case BLOB_ERROR:
        return new RespReplyError(payload.toString('utf8', start, end));
      case VERBATIM_STRING: {
        if (payload[start + 3] !== 0x3a) this.fail('INVALID_VERBATIM', 'RESP verbatim string without a format', offset);
        const format = payload.toString('latin1', start, start + 3);
        const value = encoding === undefined ? view(payload, start + 4, end) : payload.toString(encoding, start + 4, end);
        return { type: 'verbatim', format, value };
      }
      default:
        if (encoding !== undefined) return payload.toString(encoding, start, end);
        return start === 0 && end === payload.length ? payload : view(payload, start, end);
    }
  }

  /** A length or count: digits, or -1 where a null is allowed. Returns -1 for a null. */
  private parseLength(line: Buffer, start: number, end: number, offset: number, limit: number, nullable: boolean): number {
    if (nullable && end - start === 2 && line[start] === 0x2d && line[start + 1] === 0x31) return -1;
    let value = 0;
    for (let index = start; index < end; index++) {
      const digit = line[index]! - 48;
      if (digit < 0 || digit > 9 || value > limit) {
        value = Number.NaN;
        break;
      }
      value = value * 10 + digit;
    }
    if (start === end || !(value <= limit)) {
      this.fail('INVALID_LENGTH', `invalid or over-limit RESP length '${line.toString('latin1', start, Math.min(end, start + 24))}' (limit ${limit})`, offset, limit);
    }
    return value;
  }

  private parseInteger(line: Buffer, start: number, end: number, offset: number): number | bigint {
    const sign = line[start];
    const digitsStart = sign === 0x2d || sign === 0x2b ? start + 1 : start;
    let value = 0;
    for (let index = digitsStart; index < end; index++) {
      const digit = line[index]! - 48;
      if (digit < 0 || digit > 9) this.fail('INVALID_INTEGER', `invalid RESP integer '${line.toString('latin1', start, end)}'`, offset);
      value = value * 10 + digit;
    }
    if (digitsStart === end) this.fail('INVALID_INTEGER', 'empty RESP integer', offset);
    // Past 2^53 the running double has lost precision: take the exact value from the text.
    if (value > Number.MAX_SAFE_INTEGER) return BigInt(line.toString('latin1', start, end));
    return sign === 0x2d ? -value : value;
  }

  private parseDouble(text: string, offset: number): number {
    switch (text.toLowerCase()) {
      case 'inf':
      case '+inf':
        return Infinity;
      case '-inf':
        return -Infinity;
      case 'nan':
      case '-nan':
        return Number.NaN;
    }
    if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) this.fail('INVALID_DOUBLE', `invalid RESP double '${text}'`, offset);
    return Number(text);
  }

  /** The payload of bulkLength bytes from `start`, or its CRLF, goes past the end of `chunk`. */
  private holdPayload(chunk: Buffer, start: number): void {
    const length = this.bulkLength;
    const available = chunk.length - start;
    this.pendingOffset = this.chunkOffset + start;
    if (length > MAX_COPIED_PAYLOAD || (this.bulkType === BULK_STRING && this.slicedEncoding !== undefined)) {
      this.pending.append(start === 0 ? chunk : this.viewOf(chunk, start, available));
      this.holdText(chunk, start);
      return;
    }
    if (available > length && chunk[start + length] !== CR) this.missingCrlf(this.pendingOffset + length);
    if (available >= length) {
      this.payload = this.viewOf(chunk, start, length);
    } else {
      this.payload = Buffer.allocUnsafe(length);
      copyBytes(this.payload, 0, chunk, start, available);
    }
    this.payloadReceived = available;
  }

  /** Goes on with the payload that holdPayload copied or kept; returns where parsing goes on, or -1. */
  private finishPayload(chunk: Buffer, output: FrameSink<RespReply>): number {
    const length = this.bulkLength;
    const received = this.payloadReceived;
    const { payload } = this;
    // Where the payload's CR falls in `chunk`: -1 if it came earlier (and was checked), only its LF is to come.
    const cr = length - received;
    const missing = cr + 2;
    const available = Math.min(chunk.length, missing);
    if (cr > 0) copyBytes(payload, received, chunk, 0, Math.min(cr, available));
    if ((cr >= 0 && cr < available && chunk[cr] !== CR) || (cr + 1 < available && chunk[cr + 1] !== LF)) {
      this.missingCrlf(this.pendingOffset + length);
    }
    if (available < missing) {
      this.payloadReceived = received + available;
      return -1;
    }
    this.payload = NO_BYTES;
    this.payloadReceived = 0;
    this.bulkLength = -1;
    this.deliver(this.payloadValue(payload, 0, length, this.pendingOffset), output);
    return missing;
  }

  private unknownType(type: number, offset: number): never {
    this.fail('UNKNOWN_TYPE', `unknown RESP type byte 0x${type.toString(16).padStart(2, '0')}`, offset);
  }

  private lineTooLong(offset: number): never {
    this.fail('LINE_TOO_LONG', `RESP line longer than maxLineLength ${this.limits.maxLineLength}`, offset, this.limits.maxLineLength);
  }

  private missingCrlf(offset: number): never {
    this.fail('INVALID_LINE_END', 'expected CRLF', offset);
  }

  private fail(code: RespProtocolErrorCode, message: string, offset: number, limit?: number): never {
    throw new RespProtocolError(code, message, limit === undefined ? { offset } : { offset, limit });
  }
}
