import type { OperatorFunction } from 'rxjs';
import { FramingError } from './errors';
import { decoderOperator, type FrameSink, type StreamDecoder } from './internal/decoder-operator';
import { PendingBytes } from './internal/pending-bytes';
import { view } from './internal/buffer-view';

/**
 * Splits a byte stream into frames of exactly `size` bytes (zero-copy when a frame lies in one chunk).
 * Errors with FramingError TRUNCATED if the input completes after a partial frame.
 */
export function fixed(size: number): OperatorFunction<Buffer, Buffer> {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError('fixed: size must be a positive integer');
  return decoderOperator(() => new FixedDecoder(size));
}

class FixedDecoder implements StreamDecoder<Buffer> {
  private readonly pending = new PendingBytes();
  private chunkOffset = 0;

  constructor(private readonly size: number) {}

  write(chunk: Buffer, output: FrameSink<Buffer>): void {
    const { size, pending } = this;
    let start = 0;
    if (pending.length > 0) {
      const missing = size - pending.length;
      if (chunk.length < missing) {
        pending.append(chunk);
        this.chunkOffset += chunk.length;
        return;
      }
      output.next(pending.take(size, chunk));
      start = missing;
    }
    for (; chunk.length - start >= size; start += size) output.next(view(chunk, start, start + size));
    pending.append(chunk.subarray(start));
    this.chunkOffset += chunk.length;
  }

  end(): void {
    if (this.pending.length > 0) {
      throw new FramingError('TRUNCATED', `input ended inside a frame (${this.pending.length} of ${this.size} bytes)`, {
        offset: this.chunkOffset - this.pending.length,
      });
    }
  }
}
