import { SocketAddress } from '../address';

const FAMILY_IPV4 = 4;
const FAMILY_IPV6 = 6;
const FAMILY_UNIX = 1;

/** The size of the encoded address at `offset` (layout in native/sockets.h). */
export function encodedLength(bytes: Buffer, offset: number): number {
  switch (bytes[offset]) {
    case FAMILY_IPV4:
      return 7;
    case FAMILY_IPV6:
      return 19;
    case FAMILY_UNIX:
      return 2 + bytes[offset + 1];
    default:
      return 1;
  }
}

/** An IPv4 address and port as one number (48 bits), or null for any other family. */
export function packedIPv4(bytes: Buffer, offset: number): number | null {
  if (bytes[offset] !== FAMILY_IPV4) return null;
  return bytes.readUInt32BE(offset + 3) * 65536 + bytes.readUInt16BE(offset + 1);
}

export function unpackIPv4(packed: number): SocketAddress {
  const port = packed % 65536;
  const ip = Math.floor(packed / 65536);
  return new SocketAddress('tcp', `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`, port);
}

export function decodeAddress(bytes: Buffer, offset: number): SocketAddress {
  const family = bytes[offset];
  if (family === FAMILY_IPV4) {
    const host = `${bytes[offset + 3]}.${bytes[offset + 4]}.${bytes[offset + 5]}.${bytes[offset + 6]}`;
    return new SocketAddress('tcp', host, bytes.readUInt16BE(offset + 1));
  }
  if (family === FAMILY_IPV6) {
    return new SocketAddress('tcp', formatIPv6(bytes, offset + 3), bytes.readUInt16BE(offset + 1));
  }
  if (family === FAMILY_UNIX) {
    const length = bytes[offset + 1];
    const start = offset + 2;
    if (length === 0) return new SocketAddress('unix', '', 0, '');
    const abstract = bytes[start] === 0;
    const name = bytes.toString('utf8', abstract ? start + 1 : start, start + length);
    return new SocketAddress('unix', '', 0, abstract ? `@${name}` : name);
  }
  return new SocketAddress('tcp', '', 0);
}

/** RFC 5952 text form: lower-case hex, the longest run of zero groups as '::', IPv4-mapped dotted. */
function formatIPv6(bytes: Buffer, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(offset + i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
