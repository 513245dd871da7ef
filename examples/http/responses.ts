// HTTP/1.1 responses of the http example, built whole (head and body in one Buffer or string) so
// that one write carries each. Used on the loop and in the compute workers.
import { Buffer } from 'node:buffer';

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

/** What of the request shapes its response. */
export interface Answering {
  readonly version: '1.0' | '1.1';
  readonly keepAlive: boolean;
  /** HEAD: the head alone. */
  readonly headOnly?: boolean;
}

let dateSecond = -1;
let dateText = '';

/** The Date header's value, formatted at most once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

function connectionHeader({ version, keepAlive }: Answering): string {
  if (!keepAlive) return 'Connection: close\r\n';
  return version === '1.0' ? 'Connection: keep-alive\r\n' : '';
}

/** A text/plain response, head and body in one string. */
export function textResponse(status: number, body: string, answering: Answering, extraHeaders = ''): string {
  const head =
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Date: ${httpDate()}\r\n${connectionHeader(answering)}${extraHeaders}\r\n`;
  return answering.headOnly ? head : head + body;
}

const HELLO = 'Hello World!\n';
let helloSecond = -1;
let hello: Buffer = Buffer.alloc(0);

/** `Hello World!\n`; the common case — HTTP/1.1, keep-alive, GET — is one Buffer remade once a second. */
export function helloResponse(answering: Answering): Buffer | string {
  if (answering.version !== '1.1' || !answering.keepAlive || answering.headOnly) return textResponse(200, HELLO, answering);
  const second = Math.floor(Date.now() / 1000);
  if (second !== helloSecond) {
    hello = Buffer.from(textResponse(200, HELLO, answering));
    helloSecond = second;
  }
  return hello;
}
