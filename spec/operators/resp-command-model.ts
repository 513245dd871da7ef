import * as fc from 'fast-check';
import { bytesFrom } from './support';

/** A client request as a model: RESP multibulk, an inline command, or bytes redis-server skips. */
export type Request =
  | { readonly kind: 'multibulk'; readonly args: readonly Uint8Array[]; readonly lineEnd: string }
  | { readonly kind: 'inline'; readonly args: readonly Uint8Array[]; readonly quoting: readonly Quoting[]; readonly lineEnd: string; readonly indent: string }
  | { readonly kind: 'skipped'; readonly bytes: string };
export type Quoting = 'double' | 'single' | 'plain';

// Bytes that mean something to the protocol, so arguments collide with it often.
const argumentArbitrary = fc.oneof(fc.uint8Array({ maxLength: 24 }), bytesFrom([0x0d, 0x0a, 0x24, 0x2a, 0x20, 0x09, 0x22, 0x27, 0x5c, 0x61, 0x00, 0x0b], 10));
const argsArbitrary = fc.array(argumentArbitrary, { minLength: 1, maxLength: 5 });

export const requestArbitrary: fc.Arbitrary<Request> = fc.oneof(
  // redis-server skips the two bytes after each CR unchecked, so they need not be LF.
  fc.record({ kind: fc.constant('multibulk' as const), args: argsArbitrary, lineEnd: fc.constantFrom('\r\n', '\rX') }),
  fc.record({
    kind: fc.constant('inline' as const),
    args: argsArbitrary,
    quoting: fc.array(fc.constantFrom<Quoting>('double', 'single', 'plain'), { minLength: 5, maxLength: 5 }),
    lineEnd: fc.constantFrom('\r\n', '\n'),
    indent: fc.constantFrom('', ' ', '\t \x0b'),
  }),
  fc.record({ kind: fc.constant('skipped' as const), bytes: fc.constantFrom('*0\r\n', '*-1\r\n', '*-5\r\n', '\r\n', '\n', ' \t\r\n') }),
);

export function isPlain(argument: Uint8Array): boolean {
  return argument.length > 0 && argument.every((byte) => (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a));
}

/** An inline argument in the requested quoting, falling back to double quotes where that cannot express it. */
function inlineArgument(argument: Uint8Array, quoting: Quoting): Buffer {
  if (quoting === 'plain' && isPlain(argument)) return Buffer.from(argument);
  const text = Buffer.from(argument);
  if (quoting === 'single' && !text.includes(0x0a) && text[text.length - 1] !== 0x5c) {
    return Buffer.concat([Buffer.from("'"), Buffer.from(text.toString('latin1').replace(/'/g, "\\'"), 'latin1'), Buffer.from("'")]);
  }
  return Buffer.from(`"${[...argument].map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join('')}"`);
}

export function encodeRequest(request: Request): Buffer {
  switch (request.kind) {
    case 'skipped':
      return Buffer.from(request.bytes, 'latin1');
    case 'multibulk':
      return Buffer.concat([
        Buffer.from(`*${request.args.length}${request.lineEnd}`),
        ...request.args.flatMap((argument) => [Buffer.from(`$${argument.length}${request.lineEnd}`), argument, Buffer.from(request.lineEnd)]),
      ]);
    case 'inline': {
      const parts = request.args.map((argument, index) => inlineArgument(argument, request.quoting[index]!));
      return Buffer.concat([Buffer.from(request.indent), ...parts.flatMap((part, index) => (index === 0 ? [part] : [Buffer.from(' '), part])), Buffer.from(request.lineEnd)]);
    }
  }
}
