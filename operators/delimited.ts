import type { OperatorFunction } from 'rxjs';
import { FramingError } from './errors';
import { decoderOperator, type StreamDecoder } from './internal/decoder-operator';
import { PendingBytes } from './internal/pending-bytes';
import { view } from './internal/buffer-view';

export interface DelimitedOptions {
  /** The most bytes a frame may have, not counting its delimiter. Default 64 KiB. */
  readonly maxLength?: number;
  /** Emit strings decoded with this encoding instead of Buffers. */
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
  if (encoding === undefined) {
    return decoderOperator(() => new DelimitedDecoder(delimiterBytes, maxLength, view));
  }
  return decoderOperator(() => new DelimitedDecoder(delimiterBytes, maxLength, (buffer, start, end) => buffer.toString(encoding, start, end)));
}

type FrameOf<T> = (buffer: Buffer, start: number, end: number) => T;

class DelimitedDecoder<T> implements StreamDecoder<T> {
  private readonly pending = new PendingBytes();
  /** Stream offset of the first byte of the current chunk. */
  private chunkOffset = 0;
  /**
   * The most bytes an unterminated frame may hold before it is certainly too long: its last
   * delimiter.length - 1 bytes may still turn out to be the start of the delimiter.
   */
  private readonly maxPending: number;

  constructor(
    private readonly delimiter: Buffer,
    private readonly maxLength: number,
    private readonly frameOf: FrameOf<T>,
  ) {
    this.maxPending = maxLength + delimiter.length - 1;
  }

  write(chunk: Buffer, emit: (frame: T) => void): void {
    let start = 0;
    if (this.pending.length > 0) {
      start = this.finishPendingFrame(chunk, emit);
    }
    if (start >= 0) {
      start = this.emitFrames(chunk, start, emit);
    }
    this.chunkOffset += chunk.length;
  }

  end(): void {
    if (this.pending.length > 0) {
      throw new FramingError('TRUNCATED', `input ended inside a frame (${this.pending.length} bytes without a delimiter)`, {
        offset: this.chunkOffset - this.pending.length,
      });
    }
  }

  /** The common case: frames wholly inside `chunk`, found with Buffer#indexOf (memchr / a native search). */
  private emitFrames(chunk: Buffer, start: number, emit: (frame: T) => void): number {
    const { delimiter, maxLength } = this;
    const single = delimiter.length === 1 ? delimiter[0]! : -1;
    for (;;) {
      const found = single >= 0 ? chunk.indexOf(single, start) : chunk.indexOf(delimiter, start);
      if (found < 0) break;
      if (found - start > maxLength) this.tooLong(this.chunkOffset + start);
      emit(this.frameOf(chunk, start, found));
      start = found + delimiter.length;
    }
    if (start < chunk.length) {
      if (chunk.length - start > this.maxPending) this.tooLong(this.chunkOffset + start);
      this.pending.append(chunk.subarray(start));
    }
    return start;
  }

  /**
   * Completes the frame begun in earlier chunks, if `chunk` ends it; returns where the next frame
   * starts in `chunk`, or -1 when all of `chunk` went into the pending frame.
   */
  private finishPendingFrame(chunk: Buffer, emit: (frame: T) => void): number {
    const { pending, delimiter } = this;
    const frameOffset = this.chunkOffset - pending.length;
    // A delimiter may begin in the pending bytes and end in this chunk.
    const overlap = Math.min(delimiter.length - 1, pending.length);
    if (overlap > 0) {
      const window = Buffer.concat([pending.tail(overlap), chunk.subarray(0, delimiter.length - 1)]);
      const found = window.indexOf(delimiter);
      if (found >= 0 && found < overlap) {
        const frameLength = pending.length - overlap + found;
        this.emitPending(frameLength, frameOffset, chunk, emit);
        return found + delimiter.length - overlap;
      }
    }
    const found = delimiter.length === 1 ? chunk.indexOf(delimiter[0]!) : chunk.indexOf(delimiter);
    if (found < 0) {
      if (pending.length + chunk.length > this.maxPending) this.tooLong(frameOffset);
      pending.append(chunk);
      return -1;
    }
    this.emitPending(pending.length + found, frameOffset, chunk, emit);
    return found + delimiter.length;
  }

  private emitPending(frameLength: number, frameOffset: number, chunk: Buffer, emit: (frame: T) => void): void {
    if (frameLength > this.maxLength) this.tooLong(frameOffset);
    const frame = this.pending.take(frameLength, chunk);
    emit(this.frameOf(frame, 0, frame.length));
  }

  private tooLong(offset: number): never {
    throw new FramingError('FRAME_TOO_LONG', `frame longer than maxLength ${this.maxLength} bytes`, {
      offset,
      limit: this.maxLength,
    });
  }
}
