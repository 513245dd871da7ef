import type { OperatorFunction } from 'rxjs';
import { FramingError } from './errors';
import { decoderOperator, type FrameSink, type StreamDecoder } from './internal/decoder-operator';
import { PendingBytes } from './internal/pending-bytes';
import { view } from './internal/buffer-view';

export interface LengthPrefixOptions {
  /** Size of the length field. Default 4. */
  readonly bytes?: 1 | 2 | 4 | 8;
  /** Byte order of the length field. Default 'be' (network order). */
  readonly endian?: 'be' | 'le';
  /** The most payload bytes a frame may have. Default 16 MiB (or less, if the field cannot express it). */
  readonly maxLength?: number;
  /** Whether the length counts the length field itself. Default false. */
  readonly lengthIncludesHeader?: boolean;
}

export const DEFAULT_MAX_PREFIXED_LENGTH = 16 * 1024 * 1024;

export interface LengthPrefix {
  readonly bytes: 1 | 2 | 4 | 8;
  readonly littleEndian: boolean;
  readonly maxLength: number;
  /** What the length field adds to the payload length: the header size, or 0. */
  readonly headerBias: number;
}

/** Validates options; shared with encodeLengthPrefixed so both ends agree on the format. */
export function lengthPrefix(options: LengthPrefixOptions, caller: string): LengthPrefix {
  const { bytes = 4, endian = 'be', lengthIncludesHeader = false } = options;
  if (bytes !== 1 && bytes !== 2 && bytes !== 4 && bytes !== 8) throw new RangeError(`${caller}: bytes must be 1, 2, 4 or 8`);
  if (endian !== 'be' && endian !== 'le') throw new RangeError(`${caller}: endian must be 'be' or 'le'`);
  const headerBias = lengthIncludesHeader ? bytes : 0;
  const largestPayload = Math.min(2 ** (8 * bytes) - 1 - headerBias, Number.MAX_SAFE_INTEGER);
  const maxLength = options.maxLength ?? Math.min(DEFAULT_MAX_PREFIXED_LENGTH, largestPayload);
  if (!(maxLength >= 0 && maxLength <= largestPayload)) {
    throw new RangeError(`${caller}: maxLength must be between 0 and ${largestPayload} for a ${bytes}-byte length`);
  }
  return { bytes, littleEndian: endian === 'le', maxLength, headerBias };
}

/**
 * Splits a byte stream into the payloads of length-prefixed frames (zero-copy when a payload lies in
 * one chunk). Errors with FramingError FRAME_TOO_LONG as soon as a header announces more than
 * maxLength (before buffering the payload), INVALID_LENGTH for a length shorter than its own header,
 * and TRUNCATED if the input completes inside a frame.
 */
export function lengthPrefixed(options: LengthPrefixOptions = {}): OperatorFunction<Buffer, Buffer> {
  const prefix = lengthPrefix(options, 'lengthPrefixed');
  return decoderOperator(() => new LengthPrefixedDecoder(prefix));
}

class LengthPrefixedDecoder implements StreamDecoder<Buffer> {
  private readonly pending = new PendingBytes();
  /** Payload length of the frame being received, or -1 while its header is incomplete. */
  private payloadLength = -1;
  private chunkOffset = 0;

  constructor(private readonly prefix: LengthPrefix) {}

  write(chunk: Buffer, output: FrameSink<Buffer>): void {
    let start = 0;
    if (this.pending.length > 0 || this.payloadLength >= 0) start = this.finishPendingFrame(chunk, output);
    if (start >= 0) this.emitFrames(chunk, start, output);
    this.chunkOffset += chunk.length;
  }

  end(): void {
    if (this.pending.length > 0 || this.payloadLength >= 0) {
      throw new FramingError('TRUNCATED', 'input ended inside a frame', { offset: this.chunkOffset - this.pending.length });
    }
  }

  private emitFrames(chunk: Buffer, start: number, output: FrameSink<Buffer>): void {
    const headerSize = this.prefix.bytes;
    while (chunk.length - start >= headerSize) {
      const length = this.readPayloadLength(chunk, start, this.chunkOffset + start);
      const payloadStart = start + headerSize;
      if (chunk.length - payloadStart < length) {
        this.payloadLength = length;
        this.pending.append(chunk.subarray(payloadStart));
        return;
      }
      output.next(view(chunk, payloadStart, payloadStart + length));
      start = payloadStart + length;
    }
    this.pending.append(chunk.subarray(start));
  }

  /** Completes the header and/or payload begun in earlier chunks; returns where the next frame starts, or -1. */
  private finishPendingFrame(chunk: Buffer, output: FrameSink<Buffer>): number {
    const { pending } = this;
    let start = 0;
    if (this.payloadLength < 0) {
      const headerSize = this.prefix.bytes;
      const missing = headerSize - pending.length;
      if (chunk.length < missing) {
        pending.append(chunk);
        return -1;
      }
      const headerOffset = this.chunkOffset - pending.length;
      this.payloadLength = this.readPayloadLength(pending.take(headerSize, chunk), 0, headerOffset);
      start = missing;
    }
    const missing = this.payloadLength - pending.length;
    if (chunk.length - start < missing) {
      pending.append(chunk.subarray(start));
      return -1;
    }
    const payload = pending.length === 0 ? view(chunk, start, start + missing) : pending.take(this.payloadLength, chunk.subarray(start));
    this.payloadLength = -1;
    output.next(payload);
    return start + missing;
  }

  private readPayloadLength(buffer: Buffer, at: number, offset: number): number {
    const { bytes, littleEndian, maxLength, headerBias } = this.prefix;
    let length: number;
    switch (bytes) {
      case 1:
        length = buffer[at]!;
        break;
      case 2:
        length = littleEndian ? buffer.readUInt16LE(at) : buffer.readUInt16BE(at);
        break;
      case 4:
        length = littleEndian ? buffer.readUInt32LE(at) : buffer.readUInt32BE(at);
        break;
      case 8: {
        // Two halves rather than a BigInt: anything past 2^53 is over any maxLength anyway.
        const low = littleEndian ? buffer.readUInt32LE(at) : buffer.readUInt32BE(at + 4);
        const high = littleEndian ? buffer.readUInt32LE(at + 4) : buffer.readUInt32BE(at);
        length = high * 2 ** 32 + low;
        break;
      }
    }
    const payloadLength = length - headerBias;
    if (payloadLength < 0) {
      throw new FramingError('INVALID_LENGTH', `length ${length} is shorter than its own ${bytes}-byte header`, { offset });
    }
    if (payloadLength > maxLength) {
      throw new FramingError('FRAME_TOO_LONG', `frame of ${payloadLength} bytes is longer than maxLength ${maxLength}`, {
        offset,
        limit: maxLength,
      });
    }
    return payloadLength;
  }
}
