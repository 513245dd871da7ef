import { Buffer } from 'node:buffer';

import { map, type OperatorFunction } from 'rxjs';
import { FramingError } from './errors';
import { lengthPrefix, type LengthPrefixOptions } from './length-prefixed';

/**
 * Prefixes each payload with its length, in the format `lengthPrefixed` with the same options
 * decodes; one exactly-sized Buffer each. Strings are written as UTF-8. Errors with FramingError
 * FRAME_TOO_LONG for a payload over maxLength.
 */
export function encodeLengthPrefixed(options: LengthPrefixOptions = {}): OperatorFunction<string | Uint8Array, Buffer> {
  const { bytes, littleEndian, maxLength, headerBias } = lengthPrefix(options, 'encodeLengthPrefixed');
  return map((payload) => {
    const payloadLength = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (payloadLength > maxLength) {
      throw new FramingError('FRAME_TOO_LONG', `frame of ${payloadLength} bytes is longer than maxLength ${maxLength}`, {
        limit: maxLength,
      });
    }
    const frame = Buffer.allocUnsafe(bytes + payloadLength);
    const length = payloadLength + headerBias;
    switch (bytes) {
      case 1:
        frame[0] = length;
        break;
      case 2:
        if (littleEndian) frame.writeUInt16LE(length, 0);
        else frame.writeUInt16BE(length, 0);
        break;
      case 4:
        if (littleEndian) frame.writeUInt32LE(length, 0);
        else frame.writeUInt32BE(length, 0);
        break;
      case 8:
        if (littleEndian) frame.writeBigUInt64LE(BigInt(length), 0);
        else frame.writeBigUInt64BE(BigInt(length), 0);
        break;
    }
    if (typeof payload === 'string') frame.write(payload, bytes);
    else frame.set(payload, bytes);
    return frame;
  });
}
