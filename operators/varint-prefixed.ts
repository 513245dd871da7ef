import type { OperatorFunction } from 'rxjs';
import { FramingError } from './errors';
import { decoderOperator, type FrameSink, type StreamDecoder } from './internal/decoder-operator';
import { PendingBytes } from './internal/pending-bytes';
import { DEFAULT_MAX_PREFIXED_LENGTH } from './length-prefixed';
import { view } from './internal/buffer-view';

export interface VarintPrefixOptions {
  /** The most payload bytes a frame may have. Default 16 MiB. */
  readonly maxLength?: number;
}

/** A 64-bit value needs at most 10 LEB128 bytes; more can only be padding meant to stall us. */
export const MAX_VARINT_BYTES = 10;

/**
 * Splits a byte stream into the payloads of frames prefixed with their length as an unsigned LEB128
 * varint (protobuf's delimited format). Zero-copy when a payload lies in one chunk. Errors with
 * FramingError FRAME_TOO_LONG as soon as the varint read so far exceeds maxLength, INVALID_LENGTH
 * for a varint longer than 10 bytes, and TRUNCATED if the input completes inside a frame.
 */
export function varintPrefixed(options: VarintPrefixOptions = {}): OperatorFunction<Buffer, Buffer> {
  const maxLength = varintMaxLength(options, 'varintPrefixed');
  return decoderOperator(() => new VarintPrefixedDecoder(maxLength));
}

export function varintMaxLength({ maxLength = DEFAULT_MAX_PREFIXED_LENGTH }: VarintPrefixOptions, caller: string): number {
  if (!(maxLength >= 0 && maxLength <= Number.MAX_SAFE_INTEGER)) throw new RangeError(`${caller}: maxLength must be a safe non-negative integer`);
  return maxLength;
}

class VarintPrefixedDecoder implements StreamDecoder<Buffer> {
  private readonly pending = new PendingBytes();
  // The varint is decoded byte by byte as it arrives, so a split header needs no buffering.
  private headerValue = 0;
  private headerBytes = 0;
  /** Payload length of the frame being received, or -1 while its header is incomplete. */
  private payloadLength = -1;
  private chunkOffset = 0;

  constructor(private readonly maxLength: number) {}

  write(chunk: Buffer, output: FrameSink<Buffer>): void {
    let position = 0;
    const end = chunk.length;
    while (position < end) {
      if (this.payloadLength < 0) {
        position = this.readHeader(chunk, position);
        if (this.payloadLength < 0) break;
      }
      const missing = this.payloadLength - this.pending.length;
      if (end - position < missing) {
        this.pending.append(chunk.subarray(position));
        break;
      }
      const payload = this.pending.length === 0
        ? view(chunk, position, position + missing)
        : this.pending.take(this.payloadLength, chunk.subarray(position));
      position += missing;
      this.payloadLength = -1;
      output.next(payload);
    }
    // A zero-length payload whose header ends this chunk completes here, not in the next chunk.
    if (this.payloadLength === 0) {
      this.payloadLength = -1;
      output.next(view(chunk, end, end));
    }
    this.chunkOffset += end;
  }

  end(): void {
    if (this.headerBytes > 0 || this.payloadLength >= 0) {
      throw new FramingError('TRUNCATED', 'input ended inside a frame', { offset: this.chunkOffset - this.pending.length - this.headerBytes });
    }
  }

  /** Consumes varint bytes from `position`; sets payloadLength when the varint ends. */
  private readHeader(chunk: Buffer, position: number): number {
    const end = chunk.length;
    while (position < end) {
      const byte = chunk[position++]!;
      this.headerValue += (byte & 0x7f) * 2 ** (7 * this.headerBytes);
      this.headerBytes++;
      const headerOffset = this.chunkOffset + position - this.headerBytes;
      if (this.headerValue > this.maxLength) {
        throw new FramingError('FRAME_TOO_LONG', `frame longer than maxLength ${this.maxLength} bytes`, {
          offset: headerOffset,
          limit: this.maxLength,
        });
      }
      if (byte < 0x80) {
        this.payloadLength = this.headerValue;
        this.headerValue = 0;
        this.headerBytes = 0;
        return position;
      }
      if (this.headerBytes === MAX_VARINT_BYTES) {
        throw new FramingError('INVALID_LENGTH', `varint length prefix longer than ${MAX_VARINT_BYTES} bytes`, { offset: headerOffset });
      }
    }
    return position;
  }
}
