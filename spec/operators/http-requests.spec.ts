import * as assert from 'node:assert/strict';

import * as fc from 'fast-check';

import { HttpRequestError, type HttpRequestsOptions, httpRequests } from '../../operators';
import { expected, plain, requestArbitrary, serialize } from './http-model';
import { chunk, chunkingArbitrary, decode, feedBytewise } from './support';

const RUNS = { numRuns: 300 };

function decodeText(text: string | Buffer, options: HttpRequestsOptions = {}) {
  return decode(httpRequests(options), [Buffer.from(text)]);
}

function errorOf(text: string | Buffer, options: HttpRequestsOptions = {}): HttpRequestError {
  const { error } = decodeText(text, options);
  assert.ok(error instanceof HttpRequestError, `expected an HttpRequestError, got ${String(error)}`);
  return error;
}

describe('operators: httpRequests', () => {
  it('frames any pipelined requests, under any chunking', () => {
    fc.assert(
      fc.property(fc.array(requestArbitrary, { minLength: 1, maxLength: 5 }), chunkingArbitrary, fc.boolean(), (requests, chunking, leadingCrlf) => {
        const wire = Buffer.concat(requests.map((request, i) => Buffer.concat([Buffer.from(leadingCrlf && i > 0 ? '\r\n' : ''), serialize(request)])));
        const { values, error, completed } = decode(httpRequests(), chunk(wire, chunking));
        assert.equal(error, undefined);
        assert.ok(completed);
        assert.deepEqual(values.map(plain), requests.map(expected));
      }),
      RUNS,
    );
  });

  it('fails the same way whatever the chunking: every limit and malformation', () => {
    const cases: [string, string, HttpRequestsOptions?][] = [
      ['GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /' + 'a'.repeat(200) + ' HTTP/1.1\r\n\r\n', 'URI_TOO_LONG', { maxRequestLineLength: 100 }],
      ['GET / HTTP/1.1\r\n' + 'X-Big: y\r\n'.repeat(30) + '\r\n', 'HEADERS_TOO_LARGE', { maxHeadersLength: 200 }],
      ['POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n' + 'x'.repeat(101), 'PAYLOAD_TOO_LARGE', { maxBodyLength: 100 }],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n' + 'x'.repeat(64) + '\r\n40\r\n', 'PAYLOAD_TOO_LARGE', { maxBodyLength: 100 }],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n' + 'x-t: y\r\n'.repeat(40) + '\r\n', 'HEADERS_TOO_LARGE', { maxHeadersLength: 200 }],
      ['GET / HTTP/2.0\r\n\r\n', 'VERSION_NOT_SUPPORTED'],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'NOT_IMPLEMENTED'],
      ['GET / HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n', 'BAD_REQUEST'],
      ['GET / HTTP/1.1\r\nHost: x', 'TRUNCATED'],
      ['POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc', 'TRUNCATED'],
    ];
    for (const [text, code, options] of cases) {
      fc.assert(
        fc.property(chunkingArbitrary, (chunking) => {
          const { error } = decode(httpRequests(options), chunk(Buffer.from(text), chunking));
          assert.ok(error instanceof HttpRequestError, `${JSON.stringify(text.slice(0, 40))}: ${String(error)}`);
          assert.equal(error.code, code, JSON.stringify(text.slice(0, 60)));
        }),
        { numRuns: 40 },
      );
    }
  });

  it('answers each failure with its status', () => {
    assert.equal(errorOf(`GET /${'a'.repeat(8 * 1024)} HTTP/1.1\r\n\r\n`).status, 414);
    assert.equal(errorOf(`GET / HTTP/1.1\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`).status, 431);
    assert.equal(errorOf('POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n').status, 413);
    assert.equal(errorOf('GET / HTTP/3.0\r\n\r\n').status, 505);
    assert.equal(errorOf('POST / HTTP/1.1\r\nTransfer-Encoding: br, chunked\r\n\r\n').status, 501);
    for (const malformed of [
      'GET /\r\n\r\n',
      'GET  / HTTP/1.1\r\n\r\n',
      'GET / HTTP/1.1 \r\n\r\n',
      'G(T / HTTP/1.1\r\n\r\n',
      'GET /\x01 HTTP/1.1\r\n\r\n',
      'GET / HTTX/1.1\r\n\r\n',
      'GET / HTTP/1.1\r\nNo colon here\r\n\r\n',
      'GET / HTTP/1.1\r\nSpace before : colon\r\n\r\n',
      'GET / HTTP/1.1\r\n folded: line\r\n\r\n',
      'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n',
      'GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n',
      'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      'POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
      'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n',
    ]) {
      const error = errorOf(malformed);
      assert.equal(error.code, 'BAD_REQUEST', JSON.stringify(malformed));
      assert.equal(error.status, 400);
    }
  });

  it('reads headers and keep-alive as HTTP/1.1 says', () => {
    const { values } = decodeText(
      'GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: a\r\naccept: b\r\nCookie: x=1\r\nCOOKIE: y=2\r\nX-Spaces: \t padded \t\r\n\r\n' +
        'GET /close HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n' +
        'GET /old HTTP/1.0\r\n\r\n' +
        'GET /old-kept HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' +
        'GET /newer HTTP/1.9\n\n', // bare LF line ends are accepted; 1.9 is served as 1.1
    );
    assert.deepEqual(values.map((r) => [r.target, r.version, r.keepAlive]), [
      ['/a?b=c', '1.1', true],
      ['/close', '1.1', false],
      ['/old', '1.0', false],
      ['/old-kept', '1.0', true],
      ['/newer', '1.1', true],
    ]);
    assert.deepEqual({ ...values[0].headers }, { host: 'example.com', accept: 'a, b', cookie: 'x=1; y=2', 'x-spaces': 'padded' });
    const inherited = decodeText('GET / HTTP/1.1\r\nConstructor: a\r\n__proto__: b\r\ntoString: c\r\n\r\n').values[0].headers;
    assert.deepEqual(Object.entries(inherited), [['constructor', 'a'], ['__proto__', 'b'], ['tostring', 'c']], 'field names collide with nothing inherited');
    assert.equal(values[0].headers.constructor, undefined);
  });

  it('hands over a body that arrived in one chunk without copying it', () => {
    const wire = Buffer.from('POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello');
    const { values } = decode(httpRequests(), [wire]);
    assert.equal(values[0].body.toString(), 'hello');
    assert.equal(values[0].body.buffer, wire.buffer);
  });

  it('holds no more than its limits while a head trickles in byte by byte', () => {
    const options = { maxRequestLineLength: 64, maxHeadersLength: 256 };
    const endless = Buffer.from(`GET / HTTP/1.1\r\n${'X-A: b\r\n'.repeat(1000)}`);
    let failedAt = -1;
    feedBytewise(httpRequests(options), endless, (fed, _values, failed) => {
      if (failed && failedAt < 0) failedAt = fed;
    });
    // Found out within a line of the limit: the request line (16) + 256 + the final CRLF's slack.
    assert.ok(failedAt > 0 && failedAt <= 16 + 256 + 2 + 1, `failed after ${failedAt} bytes`);
  });
});
