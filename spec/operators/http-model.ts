import * as fc from 'fast-check';
import type { HttpRequest } from '../../operators';

/** A request as a model: what is sent, and what the decoder must give back. */
export interface ModelRequest {
  method: string;
  target: string;
  version: '1.0' | '1.1';
  /** Field lines in order: [name as sent, value]. */
  fields: [string, string][];
  body: Buffer;
  /** How the body is framed on the wire: by Content-Length, or chunked into these sizes. */
  framing: { kind: 'length' } | { kind: 'chunked'; sizes: number[] } | { kind: 'none' };
  connection?: 'close' | 'keep-alive';
}

const tokenChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&\'*+-.^_`|~'.split(''));
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 });
const targetArbitrary = fc
  .array(fc.constantFrom(...'/abcxyz09-._~%?=&+:@!$,;'.split('')), { minLength: 0, maxLength: 40 })
  .map((chars) => `/${chars.join('')}`);
const valueArbitrary = fc
  .string({ unit: fc.constantFrom(...'abc XYZ019-_/;=,"\t:()'.split('')), maxLength: 30 })
  .map((value) => value.trim());
const reservedNames = new Set(['content-length', 'transfer-encoding', 'connection']);
const fieldArbitrary = fc.tuple(token.filter((name) => !reservedNames.has(name.toLowerCase())), valueArbitrary);

export const requestArbitrary: fc.Arbitrary<ModelRequest> = fc
  .record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS'), token),
    target: targetArbitrary,
    version: fc.constantFrom<'1.0' | '1.1'>('1.0', '1.1'),
    fields: fc.array(fieldArbitrary, { maxLength: 6 }),
    body: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    framingKind: fc.constantFrom('length', 'chunked', 'none'),
    chunkSizes: fc.array(fc.integer({ min: 1, max: 120 }), { minLength: 1, maxLength: 6 }),
    connection: fc.constantFrom(undefined, 'close', 'keep-alive'),
  })
  .map(({ framingKind, chunkSizes, body, ...rest }) => ({
    ...rest,
    body: framingKind === 'none' ? Buffer.alloc(0) : body,
    framing: framingKind === 'chunked' ? { kind: 'chunked' as const, sizes: chunkSizes } : { kind: framingKind as 'length' | 'none' },
  }));

export function serialize(request: ModelRequest): Buffer {
  const lines = [`${request.method} ${request.target} HTTP/${request.version}`];
  for (const [name, value] of request.fields) lines.push(`${name}: ${value}`);
  if (request.connection) lines.push(`Connection: ${request.connection}`);
  const parts: Buffer[] = [];
  if (request.framing.kind === 'length') {
    lines.push(`Content-Length: ${request.body.length}`);
  } else if (request.framing.kind === 'chunked') {
    lines.push('Transfer-Encoding: chunked');
    const { sizes } = request.framing;
    for (let offset = 0, i = 0; offset < request.body.length; i++) {
      const size = Math.min(sizes[i % sizes.length], request.body.length - offset);
      parts.push(Buffer.from(`${size.toString(16)}${i % 2 ? ';ext=1' : ''}\r\n`), request.body.subarray(offset, offset + size), Buffer.from('\r\n'));
      offset += size;
    }
    parts.push(Buffer.from('0\r\nx-trailer: dropped\r\n\r\n'));
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), request.framing.kind === 'length' ? request.body : Buffer.alloc(0), ...parts]);
}

/** What the decoder must make of a model request. */
export function expected(request: ModelRequest): Omit<HttpRequest, 'body'> & { body: string } {
  const headers = new Map<string, string>(); // a Map: field names such as __proto__ are just names
  const add = (name: string, value: string): void => {
    const key = name.toLowerCase();
    const previous = headers.get(key);
    headers.set(key, previous === undefined ? value : `${previous}${key === 'cookie' ? '; ' : ', '}${value}`);
  };
  for (const [name, value] of request.fields) add(name, value);
  if (request.connection) add('Connection', request.connection);
  if (request.framing.kind === 'length') add('Content-Length', String(request.body.length));
  if (request.framing.kind === 'chunked') add('Transfer-Encoding', 'chunked');
  const keepAlive = request.connection === 'close' ? false : request.version === '1.1' || request.connection === 'keep-alive';
  return { method: request.method, target: request.target, version: request.version, headers: Object.fromEntries(headers), body: request.body.toString('hex'), keepAlive };
}

export function plain(request: HttpRequest): Omit<HttpRequest, 'body'> & { body: string } {
  return { method: request.method, target: request.target, version: request.version, headers: { ...request.headers }, body: request.body.toString('hex'), keepAlive: request.keepAlive };
}
