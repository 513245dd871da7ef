import { Buffer } from 'node:buffer';

import { map, type OperatorFunction } from 'rxjs';
import { FramingError } from './errors';
import { varintMaxLength, type VarintPrefixOptions } from './varint-prefixed';

/**
 * Prefixes each payload with its length as an unsigned LEB128 varint, the format `varintPrefixed`
 * decodes; one exactly-sized Buffer each. Strings are written as UTF-8. Errors with FramingError
 * FRAME_TOO_LONG for a payload over maxLength (default 16 MiB).
 */
export function encodeVarintPrefixed(options: VarintPrefixOptions = {}): OperatorFunction<string | Uint8Array, Buffer> {
  const maxLength = varintMaxLength(options, 'encodeVarintPrefixed');
  return map((payload) => {
    const payloadLength = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (payloadLength > maxLength) {
      throw new FramingError('FRAME_TOO_LONG', `frame of ${payloadLength} bytes is longer than maxLength ${maxLength}`, {
        limit: maxLength,
      });
    }
    let headerSize = 1;
    for (let rest = payloadLength; rest >= 0x80; rest = Math.floor(rest / 0x80)) headerSize++;
    const frame = Buffer.allocUnsafe(headerSize + payloadLength);
    let rest = payloadLength;
    for (let index = 0; index < headerSize - 1; index++) {
      frame[index] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    frame[headerSize - 1] = rest;
    if (typeof payload === 'string') frame.write(payload, headerSize);
    else frame.set(payload, headerSize);
    return frame;
  });
}
