import { Buffer } from 'node:buffer';

import { FramingError, RespProtocolError, type RespProtocolErrorCode } from '../errors';
import type { FrameSink, StreamDecoder } from './decoder-operator';
import { bufferOf, copyBytes, view, viewAt } from './buffer-view';
import { HeldLine } from './held-line';
import { PendingBytes } from './pending-bytes';
import { splitInlineArgs } from './split-inline-args';

export interface RespCommandLimits {
  /** redis-server's proto-max-bulk-len. Default 512 MiB. */
  readonly maxBulkLength?: number;
  /** The most arguments in one command. Default 1024 * 1024 (redis-server 7 allows up to 2^31 - 1). */
  readonly maxArrayLength?: number;
  /** The most bytes of an inline command, or of a `*` / `$` line before its CR. Default 64 KiB (PROTO_INLINE_MAX_SIZE). */
  readonly maxInlineLength?: number;
}

/** The limits with their defaults filled in; throws RangeError for a limit that is not a non-negative integer. */
export function commandLimits({
  maxBulkLength = 512 * 1024 * 1024,
  maxArrayLength = 1024 * 1024,
  maxInlineLength = 64 * 1024,
}: RespCommandLimits): Required<RespCommandLimits> {
  const limits = { maxBulkLength, maxArrayLength, maxInlineLength };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`respCommands: ${name} must be a non-negative integer`);
  }
  return limits;
}

const LF = 10;
const CR = 13;
const ASTERISK = 42;
const DOLLAR = 36;

/** Commands of up to this many arguments get an array of their exact size from their `*` line; longer ones grow. */
const PREALLOCATED_ARGS = 1024;
const NO_ARGS: Buffer[] = [];
const NO_PAYLOAD = Buffer.alloc(0);

/** What a parser holds between chunks (see RespCommandParser's fields). */
const enum Held {
  NOTHING,
  /** A `*` or `$` line, in `line`. */
  HEADER_LINE,
  /** An inline command line, in pending. */
  INLINE_LINE,
  /** A bulk payload being copied into `payload`. */
  PAYLOAD_COPY,
  /** A bulk payload too long to allocate before it has arrived, with its two bytes after, in pending. */
  PAYLOAD_PIECES,
  /** The two bytes after a payload (already an argument): `skip` of them are still to come. */
  SKIP,
}

/**
 * Cut payloads up to this long are copied as they arrive into a Buffer of their size; longer ones
 * are held as they came and joined when whole, so that a length line alone never allocates much.
 */
const MAX_PREALLOCATED_PAYLOAD = 64 * 1024;

/**
 * The request side of RESP, exactly as redis-server's processMultibulkBuffer/processInlineBuffer
 * (7.x) read it: multibulk arrays of bulk strings, and inline commands for anything not starting
 * with '*'. As there: `*0` and `*-1` are skipped, as are blank inline lines; the two bytes after each
 * CR and after each bulk payload are skipped unchecked. Errors carry redis-server's exact text.
 * One deliberate difference: the 64 KiB line limits are applied however the input is chunked
 * (redis-server checks them only while a line's end has not arrived, so a long line that arrives
 * whole in one read gets through there).
 *
 * Commands and arguments that lie whole in a chunk are read by a tight path (parseWholeCommand,
 * readArguments); the general path reads anything else (a line or payload cut by a chunk boundary,
 * unusual or wrong input) with all of redis-server's rules, and hands back to the tight path at
 * the next argument.
 */
export class RespCommandParser implements StreamDecoder<Buffer[]> {
  private readonly maxBulkLength: number;
  private readonly maxArrayLength: number;
  private readonly maxInlineLength: number;
  private held = Held.NOTHING;
  /** An inline line, or a long payload, from earlier chunks. */
  private readonly pending = new PendingBytes();
  /** A `*` or `$` line cut by a chunk boundary, read once whole and dropped. */
  private readonly line = new HeldLine();
  /** A cut payload's copy, its first payloadFilled bytes filled. */
  private payload: Buffer = NO_PAYLOAD;
  private payloadFilled = 0;
  /** Bytes after a payload still to be skipped. */
  private skip = 0;
  /** Arguments the multibulk command being read still needs; 0 between commands. */
  private remaining = 0;
  /** The command being read: `filled` arguments so far (preallocated to its count when that is small). */
  private args: Buffer[] = NO_ARGS;
  private filled = 0;
  /** Length of the bulk string being read, or -1 while its `$` line has yet to be read. */
  private bulkLength = -1;
  /** Stream offsets: of the current chunk, and of the line or payload held. */
  private chunkOffset = 0;
  private pendingOffset = 0;

  constructor(limits: Required<RespCommandLimits>) {
    this.maxBulkLength = limits.maxBulkLength;
    this.maxArrayLength = limits.maxArrayLength;
    this.maxInlineLength = limits.maxInlineLength;
  }

  write(chunk: Buffer, output: FrameSink<Buffer[]>): void {
    if (chunk.length === 0) return;
    let position = 0;
    if (this.held !== Held.NOTHING) position = this.finishHeld(chunk, output);
    if (position >= 0) this.parse(chunk, position, output);
    this.chunkOffset += chunk.length;
  }

  end(): void {
    if (this.held !== Held.NOTHING || this.remaining > 0) {
      throw new FramingError('TRUNCATED', 'input ended inside a command', {
        offset: this.held !== Held.NOTHING ? this.pendingOffset : this.chunkOffset,
      });
    }
  }

  /** The bytes held for an unfinished line or payload (for tests of the bounds on it). */
  heldBytes(): number {
    return this.pending.length + this.line.length + this.payload.length;
  }

  /** Parses from `position` to the end of `chunk`, holding whatever is left unfinished. */
  private parse(chunk: Buffer, position: number, output: FrameSink<Buffer[]>): void {
    const end = chunk.length;
    // Read once per chunk rather than once per argument: the buffer costs about as much as a view.
    const memory = bufferOf(chunk);
    const base = chunk.byteOffset;
    while (position < end) {
      if (this.remaining === 0) {
        if (chunk[position] !== ASTERISK) {
          position = this.parseInline(chunk, position, output);
          if (position < 0) return;
          continue;
        }
        const next = this.parseWholeCommand(chunk, memory, base, position, output);
        if (next > 0) {
          position = next;
          continue;
        }
        const cr = this.findHeaderEnd(chunk, position);
        if (cr < 0) return;
        this.readMultibulkLength(chunk, position, cr, this.chunkOffset + position);
        position = cr + 2;
        continue;
      }
      if (this.bulkLength < 0) {
        // The rest of a command that an earlier chunk began, or that the tight path left at an unusual argument.
        const next = this.readArguments(chunk, memory, base, position, this.args, this.filled, this.remaining, output);
        if (next !== position) {
          position = next;
          continue;
        }
        const cr = this.findHeaderEnd(chunk, position);
        if (cr < 0) return;
        this.readBulkLength(chunk, position, cr, this.chunkOffset + position);
        position = cr + 2;
      }
      const length = this.bulkLength;
      const payloadEnd = position + length;
      if (payloadEnd + 2 > end) {
        this.holdPayload(chunk, memory, base, position);
        return;
      }
      this.bulkLength = -1;
      this.addArgument(viewAt(memory, base + position, length), output);
      position = payloadEnd + 2;
    }
  }

  /**
   * The common case, kept tight: a multibulk command with a plain decimal count within the limits,
   * read by readArguments. Returns where it ends, or where its first argument that readArguments
   * could not read begins (with the arguments before it kept, for the general path to go on from);
   * or -1 to leave the command to the general path from its start (its `*` line is incomplete,
   * unusual or wrong), which reads it with all of redis-server's rules.
   */
  private parseWholeCommand(chunk: Buffer, memory: ArrayBufferLike, base: number, start: number, output: FrameSink<Buffer[]>): number {
    // Every byte read is checked to be in the chunk first: a read past its end would make V8 treat
    // every byte read at that place as possibly undefined, and the arithmetic on it as floating point.
    const end = chunk.length;
    if (start + 3 >= end) return -1;
    let count = chunk[start + 1]! - 48;
    if (!(count >= 1 && count <= 9)) return -1;
    let cr = start + 2;
    for (; cr < end; cr++) {
      const digit = chunk[cr]! - 48;
      if (digit >>> 0 > 9 || count > this.maxArrayLength) break;
      count = count * 10 + digit;
    }
    if (cr + 1 >= end || chunk[cr] !== CR || count > this.maxArrayLength || cr - start > this.maxInlineLength) return -1;
    const args: Buffer[] = count <= PREALLOCATED_ARGS ? new Array<Buffer>(count) : [];
    return this.readArguments(chunk, memory, base, cr + 2, args, 0, count, output);
  }

  /**
   * Reads arguments of the command in `args` (`filled` read, `remaining` to read) from `position`
   * for as long as each is a `$` line with a plain decimal length within the limits, followed by
   * its payload and the two bytes after it, all in `chunk`: as views of the chunk. Emits the
   * command once complete; otherwise keeps it, for the general path to read the next argument
   * (or, when the chunk ends inside that argument's payload after its whole `$` line, holds the
   * payload itself). Returns where it stopped.
   */
  private readArguments(
    chunk: Buffer,
    memory: ArrayBufferLike,
    base: number,
    position: number,
    args: Buffer[],
    filled: number,
    remaining: number,
    output: FrameSink<Buffer[]>,
  ): number {
    const end = chunk.length;
    const { maxBulkLength, maxInlineLength } = this;
    // Where the payload that the chunk cuts begins, when its `$` line was read whole here.
    let cutPayload = -1;
    let cutLength = 0;
    for (; remaining > 0; remaining--) {
      // As in parseWholeCommand, no byte is read past the end of the chunk.
      if (position + 3 >= end || chunk[position] !== DOLLAR) break;
      let length = chunk[position + 1]! - 48;
      if (length >>> 0 > 9) break;
      let cr = position + 2;
      if (length !== 0) {
        for (; cr < end; cr++) {
          const digit = chunk[cr]! - 48;
          if (digit >>> 0 > 9 || length > maxBulkLength) break;
          length = length * 10 + digit;
        }
      }
      if (cr >= end || chunk[cr] !== CR || length > maxBulkLength || cr - position > maxInlineLength) break;
      const payloadStart = cr + 2;
      const next = payloadStart + length + 2;
      if (next > end) {
        if (payloadStart <= end) {
          cutPayload = payloadStart;
          cutLength = length;
        }
        break;
      }
      args[filled++] = viewAt(memory, base + payloadStart, length);
      position = next;
    }
    if (remaining === 0) {
      this.args = NO_ARGS;
      this.filled = 0;
      this.remaining = 0;
      output.next(args);
    } else {
      this.args = args;
      this.filled = filled;
      this.remaining = remaining;
      if (cutPayload >= 0) {
        // Held from here: the general path would read the `$` line again to reach the same place.
        this.bulkLength = cutLength;
        this.holdPayload(chunk, memory, base, cutPayload);
        return end;
      }
    }
    return position;
  }

  /**
   * Finds the CR ending the `*` or `$` line at `start`, with the byte after it (skipped, unchecked)
   * also present. Returns -1 and holds the line when the chunk ends first.
   */
  private findHeaderEnd(chunk: Buffer, start: number): number {
    const end = chunk.length;
    // The CR may be at most maxInlineLength bytes after the line's first byte.
    const limitEnd = start + this.maxInlineLength + 1;
    const scanEnd = Math.min(end, limitEnd);
    for (let index = start; index < scanEnd; index++) {
      if (chunk[index] === CR) {
        if (index + 1 < end) return index;
        this.holdHeaderLine(chunk, start);
        return -1;
      }
    }
    if (end >= limitEnd) this.headerTooBig(this.chunkOffset + start);
    this.holdHeaderLine(chunk, start);
    return -1;
  }

  private parseInline(chunk: Buffer, start: number, output: FrameSink<Buffer[]>): number {
    const newline = chunk.indexOf(LF, start);
    if (newline < 0 || newline - start > this.maxInlineLength) {
      if (newline >= 0 || chunk.length - start > this.maxInlineLength) this.inlineTooBig(this.chunkOffset + start);
      this.held = Held.INLINE_LINE;
      this.pendingOffset = this.chunkOffset + start;
      this.pending.append(start === 0 ? chunk : view(chunk, start, chunk.length));
      return -1;
    }
    this.emitInline(chunk, start, newline, this.chunkOffset + start, output);
    return newline + 1;
  }

  private emitInline(line: Buffer, start: number, newline: number, offset: number, output: FrameSink<Buffer[]>): void {
    const end = newline > start && line[newline - 1] === CR ? newline - 1 : newline;
    const args = splitInlineArgs(line, start, end);
    if (args === null) this.fail('UNBALANCED_QUOTES', 'Protocol error: unbalanced quotes in request', offset);
    if (args.length > 0) output.next(args);
  }

  /**
   * Completes the line or payload held from earlier chunks, if `chunk` completes it; returns where
   * parsing goes on in `chunk`, or -1 when all of `chunk` was taken in.
   */
  private finishHeld(chunk: Buffer, output: FrameSink<Buffer[]>): number {
    switch (this.held) {
      case Held.SKIP: {
        const skipped = Math.min(this.skip, chunk.length);
        this.skip -= skipped;
        if (this.skip > 0) return -1;
        this.held = Held.NOTHING;
        if (this.remaining === 0) this.emitCommand(output);
        return skipped;
      }
      case Held.PAYLOAD_COPY: {
        const { payload } = this;
        const missing = payload.length - this.payloadFilled;
        if (chunk.length < missing) {
          payload.set(chunk, this.payloadFilled);
          this.payloadFilled += chunk.length;
          return -1;
        }
        copyBytes(payload, this.payloadFilled, chunk, 0, missing);
        this.payload = NO_PAYLOAD;
        this.payloadFilled = 0;
        this.held = Held.NOTHING;
        return this.payloadArrived(payload, chunk, missing, output);
      }
      case Held.PAYLOAD_PIECES: {
        const { pending } = this;
        const missing = this.bulkLength + 2 - pending.length;
        if (chunk.length < missing) {
          pending.append(chunk);
          return -1;
        }
        const payload = pending.take(this.bulkLength, chunk);
        this.held = Held.NOTHING;
        this.bulkLength = -1;
        this.addArgument(payload, output);
        return missing;
      }
      case Held.INLINE_LINE: {
        const { pending } = this;
        const room = this.maxInlineLength + 1 - pending.length;
        const newline = chunk.indexOf(LF);
        if (newline < 0 || newline >= room) {
          if (chunk.length >= room) this.inlineTooBig(this.pendingOffset);
          pending.append(chunk);
          return -1;
        }
        const line = pending.take(pending.length + newline, chunk);
        this.held = Held.NOTHING;
        this.emitInline(line, 0, line.length, this.pendingOffset, output);
        return newline + 1;
      }
      default:
        return this.finishHeaderLine(chunk);
    }
  }

  /** Completes a `*` or `$` line held in `line`, if `chunk` has its end. */
  private finishHeaderLine(chunk: Buffer): number {
    const { line } = this;
    const held = line.length;
    const offset = this.pendingOffset;
    let lineLength: number;
    let next: number;
    if (line.lastByte() === CR) {
      lineLength = held - 1;
      next = 1;
    } else {
      // How many more bytes may come before the CR without the line being too big.
      const room = this.maxInlineLength + 1 - held;
      const scanEnd = Math.min(chunk.length, room);
      let cr = 0;
      while (cr < scanEnd && chunk[cr] !== CR) cr++;
      if (cr === scanEnd) {
        if (chunk.length >= room) this.headerTooBig(offset);
        line.append(chunk, 0, chunk.length);
        return -1;
      }
      if (cr + 1 === chunk.length) {
        line.append(chunk, 0, chunk.length);
        return -1;
      }
      line.append(chunk, 0, cr);
      lineLength = held + cr;
      next = cr + 2;
    }
    this.held = Held.NOTHING;
    line.clear();
    if (this.remaining === 0) this.readMultibulkLength(line.bytes, 0, lineLength, offset);
    else this.readBulkLength(line.bytes, 0, lineLength, offset);
    return next;
  }

  private readMultibulkLength(line: Buffer, start: number, cr: number, offset: number): void {
    const count = parseRedisInteger(line, start + 1, cr);
    if (Number.isNaN(count) || count > this.maxArrayLength) {
      this.fail('INVALID_MULTIBULK_LENGTH', 'Protocol error: invalid multibulk length', offset, this.maxArrayLength);
    }
    if (count > 0) {
      this.remaining = count;
      this.args = count <= PREALLOCATED_ARGS ? new Array<Buffer>(count) : [];
      this.filled = 0;
    }
  }

  private readBulkLength(line: Buffer, start: number, cr: number, offset: number): void {
    // An empty line (its CR held over from the previous chunk) begins with that CR.
    const first = start < cr ? line[start]! : CR;
    if (first !== DOLLAR) {
      // redis-server 7 replaces CR and LF in error texts with spaces.
      const got = first === CR || first === LF ? ' ' : String.fromCharCode(first);
      this.fail('EXPECTED_DOLLAR', `Protocol error: expected '$', got '${got}'`, offset);
    }
    const length = parseRedisInteger(line, start + 1, cr);
    if (!(length >= 0 && length <= this.maxBulkLength)) {
      this.fail('INVALID_BULK_LENGTH', 'Protocol error: invalid bulk length', offset, this.maxBulkLength);
    }
    this.bulkLength = length;
  }

  /**
   * The payload of bulkLength bytes from `start` goes past the end of `chunk` (or the two bytes
   * after it do): a view of it if it is all here, otherwise the start of its copy.
   */
  private holdPayload(chunk: Buffer, memory: ArrayBufferLike, base: number, start: number): void {
    const length = this.bulkLength;
    const available = chunk.length - start;
    this.pendingOffset = this.chunkOffset + start;
    if (length <= available) {
      this.bulkLength = -1;
      this.skip = length + 2 - available;
      this.held = Held.SKIP;
      this.addArgument(viewAt(memory, base + start, length), undefined);
    } else if (length <= MAX_PREALLOCATED_PAYLOAD) {
      const payload = Buffer.allocUnsafe(length);
      copyBytes(payload, 0, chunk, start, available);
      this.payload = payload;
      this.payloadFilled = available;
      this.held = Held.PAYLOAD_COPY;
    } else {
      this.pending.append(start === 0 ? chunk : view(chunk, start, chunk.length));
      this.held = Held.PAYLOAD_PIECES;
    }
  }

  /** A copied payload is complete, its last byte at `end - 1` of `chunk`: the two bytes after it are skipped. */
  private payloadArrived(payload: Buffer, chunk: Buffer, end: number, output: FrameSink<Buffer[]>): number {
    this.bulkLength = -1;
    if (end + 2 > chunk.length) {
      this.skip = end + 2 - chunk.length;
      this.held = Held.SKIP;
      this.addArgument(payload, undefined);
      return -1;
    }
    this.addArgument(payload, output);
    return end + 2;
  }

  /** Adds an argument to the command; emits the command if that completes it, unless `output` is undefined (bytes of it are still to come). */
  private addArgument(argument: Buffer, output: FrameSink<Buffer[]> | undefined): void {
    this.args[this.filled++] = argument;
    if (--this.remaining === 0 && output !== undefined) this.emitCommand(output);
  }

  private emitCommand(output: FrameSink<Buffer[]>): void {
    const command = this.args;
    this.args = NO_ARGS;
    this.filled = 0;
    output.next(command);
  }

  /** Keeps the unfinished `*` or `$` line from `start` to the end of `chunk`. */
  private holdHeaderLine(chunk: Buffer, start: number): void {
    this.held = Held.HEADER_LINE;
    this.pendingOffset = this.chunkOffset + start;
    this.line.append(chunk, start, chunk.length);
  }

  private headerTooBig(offset: number): never {
    if (this.remaining === 0) {
      this.fail('TOO_BIG_MBULK_COUNT_STRING', 'Protocol error: too big mbulk count string', offset, this.maxInlineLength);
    }
    this.fail('TOO_BIG_BULK_COUNT_STRING', 'Protocol error: too big bulk count string', offset, this.maxInlineLength);
  }

  private inlineTooBig(offset: number): never {
    this.fail('TOO_BIG_INLINE_REQUEST', 'Protocol error: too big inline request', offset, this.maxInlineLength);
  }

  private fail(code: RespProtocolErrorCode, message: string, offset: number, limit?: number): never {
    throw new RespProtocolError(code, message, limit === undefined ? { offset } : { offset, limit });
  }
}

const INT64_DIGITS = '9223372036854775807';

/**
 * redis-server's string2ll: an optional '-', then "0" or a digit 1-9 and more digits, no more than
 * 20 characters, within int64. NaN where it would fail. Values past 2^53 lose precision, which no
 * limit here can notice.
 */
export function parseRedisInteger(line: Buffer, start: number, end: number): number {
  const length = end - start;
  if (length === 0 || length >= 21) return Number.NaN;
  if (length === 1 && line[start] === 48) return 0;
  const negative = line[start] === 45;
  const digitsStart = negative ? start + 1 : start;
  if (digitsStart === end) return Number.NaN;
  let digit = line[digitsStart]! - 48;
  if (digit < 1 || digit > 9) return Number.NaN;
  let value = digit;
  for (let index = digitsStart + 1; index < end; index++) {
    digit = line[index]! - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  const digits = end - digitsStart;
  if (digits > 19) return Number.NaN;
  if (digits === 19) {
    // Exact int64 bounds, compared as text: -9223372036854775808 is valid, 9223372036854775808 is not.
    const text = line.toString('latin1', digitsStart, end);
    const bound = negative ? '9223372036854775808' : INT64_DIGITS;
    if (text > bound) return Number.NaN;
  }
  return negative ? -value : value;
}
