import { FramingError, RespProtocolError, type RespProtocolErrorCode } from '../errors';
import type { StreamDecoder } from './decoder-operator';
import { view, viewAt } from './buffer-view';
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

/**
 * The request side of RESP, exactly as redis-server's processMultibulkBuffer/processInlineBuffer
 * (7.x) read it: multibulk arrays of bulk strings, and inline commands for anything not starting
 * with '*'. As there: `*0` and `*-1` are skipped, as are blank inline lines; the two bytes after each
 * CR and after each bulk payload are skipped unchecked. Errors carry redis-server's exact text.
 * One deliberate difference: the 64 KiB line limits are applied however the input is chunked
 * (redis-server checks them only while a line's end has not arrived, so a long line that arrives
 * whole in one read gets through there).
 */
export class RespCommandParser implements StreamDecoder<Buffer[]> {
  private readonly maxBulkLength: number;
  private readonly maxArrayLength: number;
  private readonly maxInlineLength: number;
  private readonly pending = new PendingBytes();
  /** Arguments the multibulk command being read still needs; 0 between commands. */
  private remaining = 0;
  private args: Buffer[] = [];
  /** Length of the bulk string being read, or -1 while its `$` line has yet to be read. */
  private bulkLength = -1;
  /** Whether the pending line is an inline command (rather than a `*` or `$` line). */
  private pendingInline = false;
  /** Stream offsets: of the current chunk, and of the line or payload held in `pending`. */
  private chunkOffset = 0;
  private pendingOffset = 0;

  constructor(limits: Required<RespCommandLimits>) {
    this.maxBulkLength = limits.maxBulkLength;
    this.maxArrayLength = limits.maxArrayLength;
    this.maxInlineLength = limits.maxInlineLength;
  }

  write(chunk: Buffer, emit: (command: Buffer[]) => void): void {
    if (chunk.length === 0) return;
    let position = 0;
    if (this.pending.length > 0) position = this.finishPending(chunk, emit);
    if (position >= 0) this.parse(chunk, position, emit);
    this.chunkOffset += chunk.length;
  }

  end(): void {
    if (this.pending.length > 0 || this.remaining > 0) {
      throw new FramingError('TRUNCATED', 'input ended inside a command', {
        offset: this.pending.length > 0 ? this.pendingOffset : this.chunkOffset,
      });
    }
  }

  /** Parses from `position` to the end of `chunk`, holding whatever is left unfinished. */
  private parse(chunk: Buffer, position: number, emit: (command: Buffer[]) => void): void {
    const end = chunk.length;
    // Read once per chunk rather than once per argument: the `buffer` getter costs about as much as a view.
    const memory = chunk.buffer;
    const base = chunk.byteOffset;
    while (position < end) {
      if (this.remaining === 0) {
        if (chunk[position] === ASTERISK) {
          const next = this.parseWholeCommand(chunk, memory, base, position, emit);
          if (next > 0) {
            position = next;
            continue;
          }
        } else {
          position = this.parseInline(chunk, position, emit);
          if (position < 0) return;
          continue;
        }
        const cr = this.findHeaderEnd(chunk, position);
        if (cr < 0) return;
        this.readMultibulkLength(chunk, position, cr, this.chunkOffset + position);
        position = cr + 2;
        continue;
      }
      if (this.bulkLength < 0) {
        const cr = this.findHeaderEnd(chunk, position);
        if (cr < 0) return;
        this.readBulkLength(chunk, position, cr, this.chunkOffset + position);
        position = cr + 2;
      }
      const payloadEnd = position + this.bulkLength;
      if (payloadEnd + 2 > end) {
        this.hold(chunk, position, false);
        return;
      }
      this.addArgument(view(chunk, position, payloadEnd), emit);
      position = payloadEnd + 2;
    }
  }

  /**
   * The common case, kept tight: a multibulk command that lies wholly in `chunk` with plain decimal
   * lengths within the limits, its arguments as views of the chunk. Returns where it ends, or -1 to
   * leave the command to the general path below (it is incomplete, unusual or wrong), which then
   * reads it again from its start with all of redis-server's rules.
   */
  private parseWholeCommand(chunk: Buffer, memory: ArrayBufferLike, base: number, start: number, emit: (command: Buffer[]) => void): number {
    const end = chunk.length;
    let position = start + 1;
    let count = chunk[position]! - 48;
    if (!(count >= 1 && count <= 9)) return -1;
    for (let byte = chunk[++position]; byte !== CR; byte = chunk[++position]) {
      const digit = byte! - 48;
      if (!(digit >= 0 && digit <= 9) || count > this.maxArrayLength) return -1;
      count = count * 10 + digit;
    }
    if (count > this.maxArrayLength || position + 1 >= end) return -1;
    position += 2;
    const args: Buffer[] = [];
    for (let index = 0; index < count; index++) {
      if (chunk[position] !== DOLLAR) return -1;
      let length = chunk[++position]! - 48;
      if (length === 0) {
        position++;
      } else {
        if (!(length >= 1 && length <= 9)) return -1;
        for (let byte = chunk[++position]; byte !== CR; byte = chunk[++position]) {
          const digit = byte! - 48;
          if (!(digit >= 0 && digit <= 9) || length > this.maxBulkLength) return -1;
          length = length * 10 + digit;
        }
      }
      if (chunk[position] !== CR || length > this.maxBulkLength) return -1;
      const payloadStart = position + 2;
      position = payloadStart + length + 2;
      if (position > end) return -1;
      args.push(viewAt(memory, base + payloadStart, length));
    }
    emit(args);
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
        this.hold(chunk, start, false);
        return -1;
      }
    }
    if (end >= limitEnd) this.headerTooBig(this.chunkOffset + start);
    this.hold(chunk, start, false);
    return -1;
  }

  private parseInline(chunk: Buffer, start: number, emit: (command: Buffer[]) => void): number {
    const newline = chunk.indexOf(LF, start);
    if (newline < 0 || newline - start > this.maxInlineLength) {
      if (newline >= 0 || chunk.length - start > this.maxInlineLength) this.inlineTooBig(this.chunkOffset + start);
      this.hold(chunk, start, true);
      return -1;
    }
    this.emitInline(chunk, start, newline, this.chunkOffset + start, emit);
    return newline + 1;
  }

  private emitInline(line: Buffer, start: number, newline: number, offset: number, emit: (command: Buffer[]) => void): void {
    const end = newline > start && line[newline - 1] === CR ? newline - 1 : newline;
    const args = splitInlineArgs(line, start, end);
    if (args === null) this.fail('UNBALANCED_QUOTES', 'Protocol error: unbalanced quotes in request', offset);
    if (args.length > 0) emit(args);
  }

  /**
   * Completes the line or payload held from earlier chunks, if `chunk` completes it; returns where
   * parsing goes on in `chunk`, or -1 when all of `chunk` was held too.
   */
  private finishPending(chunk: Buffer, emit: (command: Buffer[]) => void): number {
    const { pending } = this;
    if (this.bulkLength >= 0) {
      const missing = this.bulkLength + 2 - pending.length;
      if (chunk.length < missing) {
        pending.append(chunk);
        return -1;
      }
      this.addArgument(pending.take(this.bulkLength, chunk), emit);
      return missing;
    }
    const offset = this.pendingOffset;
    // How many more bytes may come before the line's terminator without the line being too big.
    const room = this.maxInlineLength + 1 - pending.length;
    if (this.pendingInline) {
      const newline = chunk.indexOf(LF);
      if (newline < 0 || newline >= room) {
        if (chunk.length >= room) this.inlineTooBig(offset);
        pending.append(chunk);
        return -1;
      }
      const line = pending.take(pending.length + newline, chunk);
      this.emitInline(line, 0, line.length, offset, emit);
      return newline + 1;
    }
    let lineLength: number;
    let next: number;
    if (pending.lastByte() === CR) {
      lineLength = pending.length - 1;
      next = 1;
    } else {
      const cr = chunk.indexOf(CR);
      if (cr < 0 || cr >= room) {
        if (chunk.length >= room) this.headerTooBig(offset);
        pending.append(chunk);
        return -1;
      }
      if (cr + 1 === chunk.length) {
        pending.append(chunk);
        return -1;
      }
      lineLength = pending.length + cr;
      next = cr + 2;
    }
    const line = pending.take(lineLength, chunk);
    if (this.remaining === 0) this.readMultibulkLength(line, 0, line.length, offset);
    else this.readBulkLength(line, 0, line.length, offset);
    return next;
  }

  private readMultibulkLength(line: Buffer, start: number, cr: number, offset: number): void {
    const count = parseRedisInteger(line, start + 1, cr);
    if (Number.isNaN(count) || count > this.maxArrayLength) {
      this.fail('INVALID_MULTIBULK_LENGTH', 'Protocol error: invalid multibulk length', offset, this.maxArrayLength);
    }
    if (count > 0) this.remaining = count;
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

  private addArgument(argument: Buffer, emit: (command: Buffer[]) => void): void {
    this.args.push(argument);
    this.bulkLength = -1;
    if (--this.remaining === 0) {
      const command = this.args;
      this.args = [];
      emit(command);
    }
  }

  /** Keeps the unfinished line or payload from `start` to the end of `chunk`. */
  private hold(chunk: Buffer, start: number, inline: boolean): void {
    this.pendingInline = inline;
    this.pendingOffset = this.chunkOffset + start;
    this.pending.append(chunk.subarray(start));
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
