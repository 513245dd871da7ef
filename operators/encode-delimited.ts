import { Buffer } from 'node:buffer';

import { map, type OperatorFunction } from 'rxjs';
import { FramingError } from './errors';

/**
 * Appends `delimiter` to each frame (strings are written as UTF-8), one exactly-sized Buffer each.
 * Errors with FramingError DELIMITER_IN_FRAME for a frame that would not decode back to itself,
 * i.e. one in which the delimiter occurs before the appended one.
 */
export function encodeDelimited(delimiter: string | Uint8Array): OperatorFunction<string | Uint8Array, Buffer> {
  const delimiterBytes = Buffer.from(delimiter);
  if (delimiterBytes.length === 0) throw new RangeError('encodeDelimited: the delimiter must not be empty');
  return map((frame) => {
    const frameLength = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
    const encoded = Buffer.allocUnsafe(frameLength + delimiterBytes.length);
    if (typeof frame === 'string') encoded.write(frame, 0);
    else encoded.set(frame, 0);
    delimiterBytes.copy(encoded, frameLength);
    const first = delimiterBytes.length === 1 ? encoded.indexOf(delimiterBytes[0]!) : encoded.indexOf(delimiterBytes);
    if (first !== frameLength) {
      throw new FramingError('DELIMITER_IN_FRAME', `frame contains the delimiter at byte ${first}`);
    }
    return encoded;
  });
}
