import { Buffer } from 'node:buffer';

import type { OperatorFunction } from 'rxjs';

import { HttpRequestError, type HttpRequestErrorCode } from './http-error';
import { view } from './internal/buffer-view';
import { type FrameSink, type StreamDecoder, decoderOperator } from './internal/decoder-operator';
import { PendingBytes } from './internal/pending-bytes';

export interface HttpRequestsOptions {
  /** Longest request line, without its line end (default 8 KiB); longer is URI_TOO_LONG (414). */
  readonly maxRequestLineLength?: number;
  /**
   * Most bytes of header field lines, line ends included (default 64 KiB); more is
   * HEADERS_TOO_LARGE (431). A chunked body's trailer section has the same limit.
   */
  readonly maxHeadersLength?: number;
  /** Longest body (default 1 MiB); longer is PAYLOAD_TOO_LARGE (413). */
  readonly maxBodyLength?: number;
}

/** One HTTP/1.x request, framed. */
export interface HttpRequest {
  /** As sent: 'GET', 'POST', ... (methods are case-sensitive). */
  readonly method: string;
  /** The request-target as sent: '/path?query', or a full URL, '*', 'host:port'. */
  readonly target: string;
  readonly version: '1.0' | '1.1';
  /** By lower-case name; repeated fields joined with ', ' (cookie with '; '). No prototype. */
  readonly headers: Readonly<Record<string, string>>;
  /** The whole body (de-chunked); empty when there is none. Chunked trailers are dropped. */
  readonly body: Buffer;
  /** Whether the connection may carry another request after this one (HTTP/1.1 unless `Connection: close`). */
  readonly keepAlive: boolean;
}

class ParsedRequest implements HttpRequest {
  constructor(
    readonly method: string,
    readonly target: string,
    readonly version: '1.0' | '1.1',
    readonly headers: Readonly<Record<string, string>>,
    readonly body: Buffer,
    readonly keepAlive: boolean,
  ) {}
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const SEMICOLON = 0x3b;
const EMPTY = Buffer.alloc(0);
/** A chunk-size line: hex digits and extensions, which nobody needs to be long. */
const MAX_CHUNK_LINE_LENGTH = 1024;

function byteTable(accept: (byte: number) => boolean): Uint8Array {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) table[byte] = accept(byte) ? 1 : 0;
  return table;
}

/** tchar (RFC 9110 §5.6.2): what methods and field names are made of. */
const TOKEN = byteTable((b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b)));
/** Visible ASCII: what a request-target is made of. */
const TARGET = byteTable((b) => b >= 0x21 && b <= 0x7e);
/** Field values: visible characters, obs-text, spaces and tabs — no control characters. */
const FIELD_VALUE = byteTable((b) => b === HTAB || (b >= 0x20 && b !== 0x7f));
/** Each byte's value as a hex digit, or -1. */
const HEX_VALUE = Int8Array.from({ length: 256 }, (_, b) => {
  const digit = parseInt(String.fromCharCode(b), 16);
  return Number.isNaN(digit) ? -1 : digit;
});

/**
 * A headers object with nothing inherited: not even `constructor` or `__proto__` can collide with
 * a field name. Faster to make than Object.create(null), whose objects start as dictionaries.
 */
const Headers = function Headers(this: Record<string, string>) {} as unknown as new () => Record<string, string>;
Headers.prototype = Object.create(null);

/** Field names and methods common enough to keep as interned strings, rather than decode each time. */
const COMMON_NAMES = [
  'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'connection', 'content-length',
  'content-type', 'transfer-encoding', 'cookie', 'referer', 'origin', 'authorization', 'cache-control',
  'pragma', 'upgrade', 'expect', 'te', 'range', 'if-none-match', 'if-modified-since', 'x-forwarded-for',
  'x-forwarded-proto', 'x-request-id', 'sec-fetch-mode', 'sec-fetch-site', 'sec-fetch-dest', 'priority',
];
const COMMON_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];

function byLength(words: string[]): string[][] {
  const table: string[][] = [];
  for (const word of words) (table[word.length] ??= []).push(word);
  return table;
}
const NAMES_BY_LENGTH = byLength(COMMON_NAMES);
const METHODS_BY_LENGTH = byLength(COMMON_METHODS);

/** The word of `table` that buffer[start, end) spells, ignoring ASCII case when `foldCase`. */
function lookUp(table: string[][], buffer: Buffer, start: number, end: number, foldCase: boolean): string | undefined {
  const candidates = table[end - start];
  if (candidates === undefined) return undefined;
  const fold = foldCase ? 0x20 : 0;
  next: for (const word of candidates) {
    for (let i = 0; i < word.length; i++) if ((buffer[start + i] | fold) !== word.charCodeAt(i)) continue next;
    return word;
  }
  return undefined;
}

/** buffer[start, end) as latin1: String.fromCharCode for the shortest, which is quicker than toString. */
function latin1(buffer: Buffer, start: number, end: number): string {
  switch (end - start) {
    case 0:
      return '';
    case 1:
      return String.fromCharCode(buffer[start]);
    case 2:
      return String.fromCharCode(buffer[start], buffer[start + 1]);
    case 3:
      return String.fromCharCode(buffer[start], buffer[start + 1], buffer[start + 2]);
    default:
      return buffer.toString('latin1', start, end);
  }
}

// Where the decoder is within a request.
const HEAD = 0;
const FIXED_BODY = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;

class HttpRequestDecoder implements StreamDecoder<HttpRequest> {
  private readonly maxRequestLineLength: number;
  private readonly maxHeadersLength: number;
  private readonly maxBodyLength: number;
  private state = HEAD;
  /** Bytes of an unfinished head, body or line, as views of the chunks they came in. */
  private readonly pending = new PendingBytes();
  /** Stream offset of the current chunk's first byte, and of the current request's. */
  private consumed = 0;
  private requestStart = 0;
  // While the head is incomplete: how far its line-end scan got, and the request line's length.
  private afterLineEnd = 0; // 0: inside a line; 1: just after LF; 2: after LF CR
  private requestLineLength = -1;
  private requestLineChecked = false;
  // The request whose body is being read.
  private method = '';
  private target = '';
  private version: '1.0' | '1.1' = '1.1';
  private headers: Record<string, string> = new Headers();
  private keepAlive = true;
  private contentLength = -1;
  private chunked = false;
  private remaining = 0; // body bytes (fixed) or chunk-data bytes (chunked) still to come
  private chunks: Buffer[] = [];
  private bodyLength = 0;
  private trailerLength = 0;
  // The line takeLine() found: [lineStart, lineEnd) of lineBuffer, without its line end.
  private lineBuffer: Buffer = EMPTY;
  private lineStart = 0;
  private lineEnd = 0;

  constructor(options: HttpRequestsOptions) {
    this.maxRequestLineLength = options.maxRequestLineLength ?? 8 * 1024;
    this.maxHeadersLength = options.maxHeadersLength ?? 64 * 1024;
    this.maxBodyLength = options.maxBodyLength ?? 1024 * 1024;
  }

  write(chunk: Buffer, output: FrameSink<HttpRequest>): void {
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.state) {
        case HEAD:
          pos = this.readHead(chunk, pos, output);
          break;
        case FIXED_BODY:
          pos = this.readFixedBody(chunk, pos, output);
          break;
        case CHUNK_DATA:
          pos = this.readChunkData(chunk, pos);
          break;
        default:
          pos = this.readChunkedLine(chunk, pos, output);
      }
    }
    this.consumed += chunk.length;
  }

  end(): void {
    if (this.state !== HEAD || this.pending.length > 0) {
      throw this.fail('TRUNCATED', 'the input ended inside a request', this.requestStart);
    }
  }

  private headersTooLarge(): HttpRequestError {
    return this.fail('HEADERS_TOO_LARGE', `header fields longer than ${this.maxHeadersLength} bytes`, this.requestStart, this.maxHeadersLength);
  }

  private fail(code: HttpRequestErrorCode, message: string, offset = this.requestStart, limit?: number): HttpRequestError {
    return new HttpRequestError(code, message, offset, limit);
  }

  private readHead(chunk: Buffer, pos: number, output: FrameSink<HttpRequest>): number {
    const length = chunk.length;
    const pending = this.pending;
    if (pending.length === 0) {
      // Empty lines before a request line are ignored (RFC 9112 §2.2): a CRLF after a body, say.
      while (pos < length && (chunk[pos] === LF || chunk[pos] === CR)) pos++;
      if (pos === length) return length;
      this.requestStart = this.consumed + pos;
    }
    // Find the empty line that ends the head: LF LF or LF CR LF, perhaps across chunks.
    const start = pos;
    let state = this.afterLineEnd;
    let end = -1;
    let i = pos;
    while (i < length) {
      if (state === 0) {
        const lineFeed = chunk.indexOf(LF, i);
        if (lineFeed < 0) break;
        i = lineFeed + 1;
        state = 1;
        if (this.requestLineLength < 0) this.requestLineLength = pending.length + i - start;
      } else if (chunk[i] === LF) {
        end = i + 1;
        break;
      } else if (chunk[i] === CR && state === 1) {
        state = 2;
        i++;
      } else {
        state = 0;
      }
    }

    const headLength = pending.length + (end < 0 ? length : end) - start;
    if (this.requestLineLength < 0 ? headLength > this.maxRequestLineLength + 1 : this.requestLineLength > this.maxRequestLineLength + 2) {
      throw this.fail('URI_TOO_LONG', `request line longer than ${this.maxRequestLineLength} bytes`, this.requestStart, this.maxRequestLineLength);
    }
    // A request line is judged as soon as it is whole, before what follows it: noise without a
    // blank line gets its 400 at its first line feed, and the same answer however it was cut.
    const headersTooLarge = this.requestLineLength >= 0 && headLength - this.requestLineLength > this.maxHeadersLength + 2;
    // Judged before the rest of the chunk is held: a limit must hold however the input was cut.
    if ((end < 0 || headersTooLarge) && this.requestLineLength >= 0 && !this.requestLineChecked) {
      this.checkRequestLine(pending.peek(this.requestLineLength, view(chunk, start, length)), 0, this.requestLineLength);
      this.requestLineChecked = true;
    }
    if (headersTooLarge) throw this.headersTooLarge();
    if (end < 0) {
      pending.append(start === 0 ? chunk : view(chunk, start, length));
      this.afterLineEnd = state;
      return length;
    }

    const requestLineLength = this.requestLineLength;
    this.afterLineEnd = 0;
    this.requestLineLength = -1;
    this.requestLineChecked = false;
    if (pending.length === 0) {
      this.parseHead(chunk, start, start + requestLineLength, end);
    } else {
      const head = pending.take(headLength, view(chunk, start, length));
      this.parseHead(head, 0, requestLineLength, headLength);
    }

    if (this.chunked) {
      this.state = CHUNK_SIZE;
      this.chunks = [];
      this.bodyLength = 0;
      return end;
    }
    const contentLength = this.contentLength;
    if (contentLength <= 0) {
      this.emitRequest(EMPTY, output);
      return end;
    }
    if (length - end >= contentLength) {
      this.emitRequest(view(chunk, end, end + contentLength), output);
      return end + contentLength;
    }
    this.state = FIXED_BODY;
    this.remaining = contentLength;
    return end;
  }

  /** Parses a complete head: the request line is [start, lineEnd), the field lines run to `end`. */
  private parseHead(head: Buffer, start: number, lineEnd: number, end: number): void {
    this.checkRequestLine(head, start, lineEnd);
    const version = this.version;
    const headers = new Headers();
    let contentLength = -1;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    let pos = lineEnd;
    for (;;) {
      const lineFeed = head.indexOf(LF, pos);
      let fieldEnd = lineFeed;
      if (fieldEnd > pos && head[fieldEnd - 1] === CR) fieldEnd--;
      if (fieldEnd === pos) break; // the empty line
      const colon = head.indexOf(COLON, pos);
      // Obsolete line folding (a line starting with whitespace) is refused, as RFC 9112 allows.
      if (colon <= pos || colon >= fieldEnd || !all(head, pos, colon, TOKEN)) {
        throw this.fail('BAD_REQUEST', 'malformed header field', this.requestStart);
      }
      let valueStart = colon + 1;
      while (valueStart < fieldEnd && (head[valueStart] === SP || head[valueStart] === HTAB)) valueStart++;
      let valueEnd = fieldEnd;
      while (valueEnd > valueStart && (head[valueEnd - 1] === SP || head[valueEnd - 1] === HTAB)) valueEnd--;
      if (!all(head, valueStart, valueEnd, FIELD_VALUE)) throw this.fail('BAD_REQUEST', 'control character in a header field');
      const name = lookUp(NAMES_BY_LENGTH, head, pos, colon, true) ?? head.toString('latin1', pos, colon).toLowerCase();
      const value = latin1(head, valueStart, valueEnd);
      const previous = headers[name];
      headers[name] = previous === undefined ? value : `${previous}${name === 'cookie' ? '; ' : ', '}${value}`;
      if (name === 'content-length') {
        const parsed = parseContentLength(value);
        if (parsed < 0 || (contentLength >= 0 && parsed !== contentLength)) throw this.fail('BAD_REQUEST', `invalid Content-Length: ${value}`);
        contentLength = parsed;
      } else if (name === 'transfer-encoding') {
        transferEncoding = headers[name];
      } else if (name === 'connection') {
        connection = headers[name];
      }
      pos = lineFeed + 1;
    }
    if (pos - lineEnd > this.maxHeadersLength) {
      throw this.headersTooLarge();
    }

    let chunked = false;
    if (transferEncoding !== undefined) {
      // Both would let two parsers disagree on where the request ends (request smuggling).
      if (contentLength >= 0) throw this.fail('BAD_REQUEST', 'both Content-Length and Transfer-Encoding');
      const codings = transferEncoding.toLowerCase().split(',').map((coding) => coding.trim()).filter((coding) => coding !== '');
      if (codings[codings.length - 1] !== 'chunked') throw this.fail('BAD_REQUEST', `the body's length is unknown: Transfer-Encoding: ${transferEncoding}`);
      if (codings.length > 1) throw this.fail('NOT_IMPLEMENTED', `unsupported transfer coding: ${transferEncoding}`);
      chunked = true;
    }
    if (contentLength > this.maxBodyLength) {
      throw this.fail('PAYLOAD_TOO_LARGE', `body of ${contentLength} bytes is over ${this.maxBodyLength}`, this.requestStart, this.maxBodyLength);
    }
    let keepAlive = version === '1.1';
    if (connection !== undefined) {
      for (const option of connection.toLowerCase().split(',')) {
        const token = option.trim();
        if (token === 'close') keepAlive = false;
        else if (token === 'keep-alive' && version === '1.0') keepAlive = true;
      }
    }

    this.headers = headers;
    this.keepAlive = keepAlive;
    this.contentLength = contentLength;
    this.chunked = chunked;
  }

  /** Checks the request line [start, lineEnd) (its line end included) and takes its method, target and version. */
  private checkRequestLine(head: Buffer, start: number, lineEnd: number): void {
    let stop = lineEnd - 1;
    if (stop > start && head[stop - 1] === CR) stop--;
    if (stop - start > this.maxRequestLineLength) {
      throw this.fail('URI_TOO_LONG', `request line longer than ${this.maxRequestLineLength} bytes`, this.requestStart, this.maxRequestLineLength);
    }
    const methodEnd = head.indexOf(SP, start);
    if (methodEnd <= start || methodEnd >= stop || !all(head, start, methodEnd, TOKEN)) {
      throw this.fail('BAD_REQUEST', 'malformed request line: expected a method');
    }
    const targetEnd = head.indexOf(SP, methodEnd + 1);
    if (targetEnd <= methodEnd + 1 || targetEnd >= stop || !all(head, methodEnd + 1, targetEnd, TARGET)) {
      throw this.fail('BAD_REQUEST', 'malformed request line: expected a request-target');
    }
    const v = targetEnd + 1;
    if (
      stop - v !== 8 ||
      head[v] !== 0x48 || head[v + 1] !== 0x54 || head[v + 2] !== 0x54 || head[v + 3] !== 0x50 || head[v + 4] !== 0x2f ||
      !isDigit(head[v + 5]) || head[v + 6] !== 0x2e || !isDigit(head[v + 7])
    ) {
      throw this.fail('BAD_REQUEST', 'malformed request line: expected HTTP/1.1');
    }
    if (head[v + 5] !== 0x31) throw this.fail('VERSION_NOT_SUPPORTED', `HTTP/${head.toString('latin1', v + 5, v + 8)} is not supported`);
    // A higher minor version is served as the highest this implements (RFC 9110 §6.2).
    const version = head[v + 7] === 0x30 ? '1.0' : '1.1';
    this.method = lookUp(METHODS_BY_LENGTH, head, start, methodEnd, false) ?? head.toString('latin1', start, methodEnd);
    this.target = latin1(head, methodEnd + 1, targetEnd);
    this.version = version;
  }

  private emitRequest(body: Buffer, output: FrameSink<HttpRequest>): void {
    this.state = HEAD;
    output.next(new ParsedRequest(this.method, this.target, this.version, this.headers, body, this.keepAlive));
  }

  private readFixedBody(chunk: Buffer, pos: number, output: FrameSink<HttpRequest>): number {
    const available = chunk.length - pos;
    if (available < this.remaining) {
      this.pending.append(pos === 0 ? chunk : view(chunk, pos, chunk.length));
      this.remaining -= available;
      return chunk.length;
    }
    const end = pos + this.remaining;
    this.emitRequest(this.pending.take(this.contentLength, view(chunk, pos, end)), output);
    return end;
  }

  private readChunkData(chunk: Buffer, pos: number): number {
    const end = Math.min(chunk.length, pos + this.remaining);
    this.chunks.push(view(chunk, pos, end));
    this.remaining -= end - pos;
    if (this.remaining === 0) this.state = CHUNK_DATA_END;
    return end;
  }

  /** A chunk-size line, the line end after chunk data, or a trailer line. */
  private readChunkedLine(chunk: Buffer, pos: number, output: FrameSink<HttpRequest>): number {
    const lineFeed = chunk.indexOf(LF, pos);
    if (lineFeed < 0) {
      // Checked before the bytes are held, so an endless line is never held past the limit.
      this.checkLineLength(this.pending.length + chunk.length - pos);
      this.pending.append(pos === 0 ? chunk : view(chunk, pos, chunk.length));
      return chunk.length;
    }
    this.takeLine(chunk, pos, lineFeed);
    const lineLength = this.lineEnd - this.lineStart;
    this.checkLineLength(lineLength);
    if (this.state === TRAILERS) this.trailerLength += lineLength + 2;
    const next = lineFeed + 1;
    if (this.state === CHUNK_SIZE) {
      this.readChunkSize();
    } else if (this.state === CHUNK_DATA_END) {
      if (this.lineEnd !== this.lineStart) throw this.fail('BAD_REQUEST', 'chunk data longer than its size');
      this.state = CHUNK_SIZE;
    } else if (this.lineEnd === this.lineStart) {
      const chunks = this.chunks;
      this.chunks = [];
      this.emitRequest(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.bodyLength), output);
    } else {
      const line = this.lineBuffer;
      const colon = line.indexOf(COLON, this.lineStart);
      if (colon <= this.lineStart || colon >= this.lineEnd || !all(line, this.lineStart, colon, TOKEN)) {
        throw this.fail('BAD_REQUEST', 'malformed trailer field');
      }
    }
    return next;
  }

  private checkLineLength(length: number): void {
    if (this.state === TRAILERS) {
      if (this.trailerLength + length > this.maxHeadersLength) {
        throw this.fail('HEADERS_TOO_LARGE', `trailer fields longer than ${this.maxHeadersLength} bytes`, this.requestStart, this.maxHeadersLength);
      }
    } else if (length > MAX_CHUNK_LINE_LENGTH) {
      throw this.fail('BAD_REQUEST', this.state === CHUNK_SIZE ? 'chunk-size line too long' : 'chunk data longer than its size');
    }
  }

  /** Sets lineBuffer/lineStart/lineEnd to the line ending at chunk[lineFeed], without CR LF. */
  private takeLine(chunk: Buffer, pos: number, lineFeed: number): void {
    const pending = this.pending;
    if (pending.length === 0) {
      this.lineBuffer = chunk;
      this.lineStart = pos;
      this.lineEnd = lineFeed;
    } else {
      const length = pending.length + lineFeed - pos;
      this.lineBuffer = pending.take(length, view(chunk, pos, lineFeed));
      this.lineStart = 0;
      this.lineEnd = length;
    }
    if (this.lineEnd > this.lineStart && this.lineBuffer[this.lineEnd - 1] === CR) this.lineEnd--;
  }

  private readChunkSize(): void {
    const line = this.lineBuffer;
    const end = this.lineEnd;
    let pos = this.lineStart;
    let size = 0;
    while (pos < end && HEX_VALUE[line[pos]] >= 0) {
      size = size * 16 + HEX_VALUE[line[pos]];
      if (this.bodyLength + size > this.maxBodyLength) {
        throw this.fail('PAYLOAD_TOO_LARGE', `chunked body over ${this.maxBodyLength} bytes`, this.requestStart, this.maxBodyLength);
      }
      pos++;
    }
    if (pos === this.lineStart) throw this.fail('BAD_REQUEST', 'malformed chunk size');
    while (pos < end && (line[pos] === SP || line[pos] === HTAB)) pos++;
    if (pos < end && line[pos] !== SEMICOLON) throw this.fail('BAD_REQUEST', 'malformed chunk size');
    // Chunk extensions (after ';') are allowed and ignored.
    if (size === 0) {
      this.state = TRAILERS;
      this.trailerLength = 0;
    } else {
      this.bodyLength += size;
      this.remaining = size;
      this.state = CHUNK_DATA;
    }
  }
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

/** Whether every byte of buffer[start, end) is in `table`. */
function all(buffer: Buffer, start: number, end: number, table: Uint8Array): boolean {
  for (let i = start; i < end; i++) if (table[buffer[i]] === 0) return false;
  return true;
}

/** A Content-Length value: 1*DIGIT, at most 15 of them (exact as a double); -1 when invalid. */
function parseContentLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    length = length * 10 + digit;
  }
  return length;
}

/**
 * Frames HTTP/1.x requests (RFC 9112): request line, header fields, and a body by Content-Length
 * or chunked transfer coding, any number per chunk (pipelining) or spread over many. Limits and
 * malformed input end the stream with an HttpRequestError whose `status` (400, 413, 414, 431,
 * 501, 505) is the answer to send before closing. A body that arrives in one chunk is a view of
 * it, not a copy.
 */
export function httpRequests(options: HttpRequestsOptions = {}): OperatorFunction<Buffer, HttpRequest> {
  return decoderOperator(() => new HttpRequestDecoder(options));
}
