import { Buffer } from 'node:buffer';

import { map, type OperatorFunction } from 'rxjs';
import { FramingError } from './errors';
import { decoderOperator, type FrameSink, type StreamDecoder } from './internal/decoder-operator';
import { PendingBytes } from './internal/pending-bytes';
import { bufferOf, view, viewAt } from './internal/buffer-view';

export interface DelimitedOptions {
  /** The most bytes a frame may have, not counting its delimiter. Default 64 KiB. */
  readonly maxLength?: number;
  /**
   * Emit strings decoded with this encoding instead of Buffers. With utf8 (and an ASCII delimiter)
   * or latin1, a chunk is decoded once and its frames are slices of that text, which V8 may keep
   * alive while any of them lives, as a Buffer frame keeps its chunk.
   */
  readonly encoding?: BufferEncoding;
}

export const DEFAULT_MAX_DELIMITED_LENGTH = 64 * 1024;

/**
 * Splits a byte stream into the frames between occurrences of `delimiter` (not included).
 * A frame that lies in one chunk is emitted as a zero-copy subarray of it.
 * Errors with FramingError FRAME_TOO_LONG as soon as a frame provably exceeds maxLength, and
 * TRUNCATED if the input completes after an unterminated frame.
 */
export function delimited(delimiter: string | Uint8Array, options?: DelimitedOptions & { encoding?: undefined }): OperatorFunction<Buffer, Buffer>;
export function delimited(delimiter: string | Uint8Array, options: DelimitedOptions & { encoding: BufferEncoding }): OperatorFunction<Buffer, string>;
export function delimited(delimiter: string | Uint8Array, options?: DelimitedOptions): OperatorFunction<Buffer, Buffer | string>;
export function delimited(delimiter: string | Uint8Array, options: DelimitedOptions = {}): OperatorFunction<Buffer, Buffer | string> {
  const delimiterBytes = Buffer.from(delimiter);
  if (delimiterBytes.length === 0) throw new RangeError('delimited: the delimiter must not be empty');
  const maxLength = options.maxLength ?? DEFAULT_MAX_DELIMITED_LENGTH;
  if (!(maxLength >= 0)) throw new RangeError('delimited: maxLength must be >= 0');
  const { encoding } = options;
  const frames = decoderOperator(() => new DelimitedDecoder(delimiterBytes, maxLength));
  if (encoding === undefined) return frames;
  const codec = textCodec(delimiterBytes, encoding);
  if (codec !== undefined) {
    return decoderOperator(() => new TextDelimitedDecoder(delimiterBytes, maxLength, codec));
  }
  return (source) => frames(source).pipe(map((frame) => frame.toString(encoding)));
}

/**
 * An encoding for which decoding a whole chunk once and cutting the text at the delimiter gives
 * exactly each frame's own decoding: latin1 (one character per byte), and UTF-8 with an ASCII
 * delimiter (an ASCII byte always decodes to itself and ends any character before it, valid or
 * not, and no other bytes decode to ASCII). For any other, frames are decoded one by one.
 */
interface TextCodec {
  readonly decode: (chunk: Buffer, start: number, end: number) => string;
  /** latin1: every byte ends a character. UTF-8: only an ASCII byte surely does. */
  readonly everyByteEndsCharacter: boolean;
  readonly delimiterText: string;
}

function textCodec(delimiter: Buffer, encoding: BufferEncoding): TextCodec | undefined {
  const delimiterText = delimiter.toString('latin1');
  switch (encoding.toLowerCase()) {
    case 'latin1':
    case 'binary':
      return { decode: (chunk, start, end) => chunk.toString('latin1', start, end), everyByteEndsCharacter: true, delimiterText };
    case 'utf8':
    case 'utf-8':
      if (delimiter.some((byte) => byte >= 0x80)) return undefined;
      return { decode: (chunk, start, end) => chunk.toString('utf8', start, end), everyByteEndsCharacter: false, delimiterText };
    default:
      return undefined;
  }
}

/** What both decoders share: the delimiter, the limits, and finding a delimiter that began in held bytes. */
abstract class DelimiterSearch {
  /** Stream offset of the first byte of the current chunk. */
  protected chunkOffset = 0;
  /**
   * The most bytes an unterminated frame may hold before it is certainly too long: its last
   * delimiter.length - 1 bytes may still turn out to be the start of the delimiter.
   */
  protected readonly maxPending: number;
  /** The delimiter's byte when it has only one (searched for as a number), or -1. */
  private readonly single: number;

  constructor(
    protected readonly delimiter: Buffer,
    protected readonly maxLength: number,
  ) {
    this.maxPending = maxLength + delimiter.length - 1;
    this.single = delimiter.length === 1 ? delimiter[0]! : -1;
  }

  /** How many bytes the unfinished frame holds. */
  protected abstract get heldLength(): number;

  /** The held byte `back` places before the last one (0: the last). */
  protected abstract heldByteFromEnd(back: number): number;

  end(): void {
    const held = this.heldLength;
    if (held > 0) {
      throw new FramingError('TRUNCATED', `input ended inside a frame (${held} bytes without a delimiter)`, {
        offset: this.chunkOffset - held,
      });
    }
  }

  /** The first delimiter in `chunk` at or after `from` (Buffer#indexOf: memchr or a native search), or -1. */
  protected indexIn(chunk: Buffer, from: number): number {
    return this.single >= 0 ? chunk.indexOf(this.single, from) : chunk.indexOf(this.delimiter, from);
  }

  /**
   * How many of the delimiter's first bytes end the held bytes, with the rest of it starting
   * `chunk`; 0 if the delimiter does not straddle them. The largest such count is the earliest delimiter.
   */
  protected straddlingDelimiter(chunk: Buffer): number {
    const { delimiter } = this;
    for (let held = Math.min(delimiter.length - 1, this.heldLength); held > 0 && chunk.length >= delimiter.length - held; held--) {
      let matches = true;
      for (let back = 0; back < held && matches; back++) matches = this.heldByteFromEnd(back) === delimiter[held - 1 - back];
      for (let index = held; index < delimiter.length && matches; index++) matches = chunk[index - held] === delimiter[index];
      if (matches) return held;
    }
    return 0;
  }

  protected tooLong(offset: number): never {
    throw new FramingError('FRAME_TOO_LONG', `frame longer than maxLength ${this.maxLength} bytes`, {
      offset,
      limit: this.maxLength,
    });
  }
}

/** Frames as Buffers: zero-copy views of the chunk, or one copy for a frame that spans chunks. */
class DelimitedDecoder extends DelimiterSearch implements StreamDecoder<Buffer> {
  private readonly pending = new PendingBytes();

  protected get heldLength(): number {
    return this.pending.length;
  }

  protected heldByteFromEnd(back: number): number {
    return this.pending.byteAt(this.pending.length - 1 - back);
  }

  write(chunk: Buffer, output: FrameSink<Buffer>): void {
    let start = 0;
    if (this.pending.length > 0) {
      start = this.finishPendingFrame(chunk, output);
    }
    if (start >= 0) {
      this.emitFrames(chunk, start, output);
    }
    this.chunkOffset += chunk.length;
  }

  /** The common case: frames wholly inside `chunk`. */
  private emitFrames(chunk: Buffer, start: number, output: FrameSink<Buffer>): void {
    const { maxLength } = this;
    const step = this.delimiter.length;
    const memory = bufferOf(chunk);
    const base = chunk.byteOffset;
    for (let found = this.indexIn(chunk, start); found >= 0; found = this.indexIn(chunk, start)) {
      if (found - start > maxLength) this.tooLong(this.chunkOffset + start);
      output.next(viewAt(memory, base + start, found - start));
      start = found + step;
    }
    if (start < chunk.length) {
      if (chunk.length - start > this.maxPending) this.tooLong(this.chunkOffset + start);
      this.pending.append(viewAt(memory, base + start, chunk.length - start));
    }
  }

  /**
   * Completes the frame begun in earlier chunks, if `chunk` ends it; returns where the next frame
   * starts in `chunk`, or -1 when all of `chunk` went into the pending frame.
   */
  private finishPendingFrame(chunk: Buffer, output: FrameSink<Buffer>): number {
    const { pending } = this;
    const step = this.delimiter.length;
    const frameOffset = this.chunkOffset - pending.length;
    const held = step > 1 ? this.straddlingDelimiter(chunk) : 0;
    if (held > 0) {
      this.emitPending(pending.length - held, frameOffset, chunk, output);
      return step - held;
    }
    const found = this.indexIn(chunk, 0);
    if (found < 0) {
      if (pending.length + chunk.length > this.maxPending) this.tooLong(frameOffset);
      pending.append(chunk);
      return -1;
    }
    this.emitPending(pending.length + found, frameOffset, chunk, output);
    return found + step;
  }

  private emitPending(frameLength: number, frameOffset: number, chunk: Buffer, output: FrameSink<Buffer>): void {
    if (frameLength > this.maxLength) this.tooLong(frameOffset);
    output.next(this.pending.take(frameLength, chunk));
  }
}

/**
 * Frames as strings, decoding each chunk once (one native call) and cutting the text with
 * String#indexOf and #slice, instead of one native decode per frame. When the chunk's text has one
 * character per byte (ASCII, or latin1), text positions are byte positions; otherwise the
 * delimiters are also found in the bytes, in step, for the frames' byte lengths.
 */
class TextDelimitedDecoder extends DelimiterSearch implements StreamDecoder<string> {
  /**
   * The unfinished frame's first bytes, decoded. They end with a byte that ends a character, so
   * what follows cannot change their decoding.
   */
  private pendingText = '';
  /** The unfinished frame's bytes after those, not decoded yet: they may end inside a character. */
  private readonly pendingBytes = new PendingBytes();
  /** How many bytes the unfinished frame has: pendingText's and pendingBytes'. */
  private pendingLength = 0;
  /** Where finishPendingFrame left the text of the current chunk. */
  private textStart = 0;

  constructor(
    delimiter: Buffer,
    maxLength: number,
    private readonly codec: TextCodec,
  ) {
    super(delimiter, maxLength);
  }

  protected get heldLength(): number {
    return this.pendingLength;
  }

  /**
   * From pendingBytes, then from the end of pendingText, whose last characters are its last bytes
   * as long as they are ASCII: straddlingDelimiter stops at the first that is not the delimiter's.
   */
  protected heldByteFromEnd(back: number): number {
    const { pendingBytes, pendingText } = this;
    if (back < pendingBytes.length) return pendingBytes.byteAt(pendingBytes.length - 1 - back);
    return pendingText.charCodeAt(pendingText.length - 1 - (back - pendingBytes.length));
  }

  write(chunk: Buffer, output: FrameSink<string>): void {
    const { length } = chunk;
    if (length === 0) return;
    const text = this.codec.decode(chunk, 0, length);
    // One character per byte: a position in the text is the same position in the bytes.
    const sameIndex = text.length === length;
    let start = 0;
    let textStart = 0;
    if (this.pendingLength > 0) {
      start = this.finishPendingFrame(chunk, text, sameIndex, output);
      textStart = this.textStart;
    }
    if (start >= 0) this.emitFrames(chunk, text, sameIndex, start, textStart, output);
    this.chunkOffset += length;
  }

  private emitFrames(chunk: Buffer, text: string, sameIndex: boolean, start: number, textStart: number, output: FrameSink<string>): void {
    const { delimiterText } = this.codec;
    const { maxLength } = this;
    const step = delimiterText.length;
    for (let textFound = text.indexOf(delimiterText, textStart); textFound >= 0; textFound = text.indexOf(delimiterText, textStart)) {
      const found = sameIndex ? textFound : this.indexIn(chunk, start);
      if (found - start > maxLength) this.tooLong(this.chunkOffset + start);
      output.next(text.slice(textStart, textFound));
      start = found + step;
      textStart = textFound + step;
    }
    if (start < chunk.length) this.hold(chunk, start, text, textStart);
  }

  /** Completes the held frame if `chunk` ends it, as DelimitedDecoder's does; also sets textStart. */
  private finishPendingFrame(chunk: Buffer, text: string, sameIndex: boolean, output: FrameSink<string>): number {
    const step = this.delimiter.length;
    const held = step > 1 ? this.straddlingDelimiter(chunk) : 0;
    if (held > 0) {
      // The delimiter's first `held` bytes end the held ones: drop them. Those in pendingText are ASCII, one character each.
      this.checkLength(this.pendingLength - held);
      const { pendingBytes, pendingText } = this;
      const keptBytes = pendingBytes.length - held;
      const frame = keptBytes >= 0 ? pendingText + this.decodeWhole(pendingBytes.take(keptBytes)) : pendingText.slice(0, pendingText.length + keptBytes);
      this.clearPending();
      output.next(frame);
      // The rest of the delimiter starts the chunk, ASCII too.
      this.textStart = step - held;
      return step - held;
    }
    const textFound = text.indexOf(this.codec.delimiterText);
    if (textFound < 0) {
      this.hold(chunk, 0, text, 0);
      return -1;
    }
    const found = sameIndex ? textFound : this.indexIn(chunk, 0);
    this.checkLength(this.pendingLength + found);
    const { pendingBytes } = this;
    // Held bytes may end inside a character that this chunk completes: then decode them together.
    const rest = pendingBytes.length === 0 ? text.slice(0, textFound) : this.decodeWhole(pendingBytes.take(pendingBytes.length + found, chunk));
    const frame = this.pendingText + rest;
    this.clearPending();
    output.next(frame);
    this.textStart = textFound + step;
    return found + step;
  }

  /** Adds `chunk` from `start` (whose text starts at `textStart`) to the unfinished frame. */
  private hold(chunk: Buffer, start: number, text: string, textStart: number): void {
    const length = chunk.length - start;
    if (this.pendingLength + length > this.maxPending) this.tooLong(this.chunkOffset + start - this.pendingLength);
    this.pendingLength += length;
    if (this.pendingBytes.length === 0 && (this.codec.everyByteEndsCharacter || chunk[chunk.length - 1]! < 0x80)) {
      this.pendingText += text.slice(textStart);
    } else {
      this.pendingBytes.append(view(chunk, start, chunk.length));
    }
  }

  private checkLength(frameLength: number): void {
    if (frameLength > this.maxLength) this.tooLong(this.chunkOffset - this.pendingLength);
  }

  private clearPending(): void {
    this.pendingText = '';
    this.pendingBytes.clear();
    this.pendingLength = 0;
  }

  private decodeWhole(bytes: Buffer): string {
    return this.codec.decode(bytes, 0, bytes.length);
  }
}
