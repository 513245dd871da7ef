import { Buffer } from 'node:buffer';

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

/** The address encoded at `offset`; an IP address gets `scheme` ('udp' for a datagram's sender). */
export function decodeAddress(bytes: Buffer, offset: number, scheme: 'tcp' | 'udp' = 'tcp'): SocketAddress {
  const family = bytes[offset];
  if (family === FAMILY_IPV4) {
    const host = `${bytes[offset + 3]}.${bytes[offset + 4]}.${bytes[offset + 5]}.${bytes[offset + 6]}`;
    return new SocketAddress(scheme, host, bytes.readUInt16BE(offset + 1));
  }
  if (family === FAMILY_IPV6) {
    return new SocketAddress(scheme, formatIPv6(bytes, offset + 3), bytes.readUInt16BE(offset + 1));
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

/** The encoded form of a numeric IP address and port (what native code turns into a sockaddr). */
export function encodeIpAddress(host: string, port: number): Buffer {
  const v4 = parseIPv4(host);
  if (v4 !== null) {
    const out = Buffer.alloc(7);
    out[0] = FAMILY_IPV4;
    out.writeUInt16BE(port, 1);
    out.set(v4, 3);
    return out;
  }
  const out = Buffer.alloc(19);
  out[0] = FAMILY_IPV6;
  out.writeUInt16BE(port, 1);
  out.set(parseIPv6(host), 3);
  return out;
}

function parseIPv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.map(Number);
}

function parseIPv6(text: string): Uint8Array {
  const bytes = new Uint8Array(16);
  const address = text.replace(/%.*$/, ''); // a zone id names an interface, not an address
  const halves = address.split('::');
  if (halves.length > 2) throw new RangeError(`not an IP address: ${text}`);
  const groupsOf = (part: string): number[] => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const piece of part.split(':')) {
      const v4 = piece.includes('.') ? parseIPv4(piece) : null;
      if (v4 !== null) groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      else if (/^[0-9a-f]{1,4}$/i.test(piece)) groups.push(parseInt(piece, 16));
      else throw new RangeError(`not an IP address: ${text}`);
    }
    return groups;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) throw new RangeError(`not an IP address: ${text}`);
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  groups.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  return bytes;
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
