import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { Decoder, RESP_TYPES } from 'ioredis/built/resp/decoder';
import RedisParser from 'redis-parser';
import { encodeReplies, RespProtocolError, respReplies, resp, type RespReply, type RespValue } from '../../operators';
import { RespReplyParser } from '../../operators/resp-replies';
import { canonical, expectedReply, replyArbitrary } from './resp-model';
import { assertHoldsAtMost, chunk, chunkingArbitrary, decode, typedErrorCode, unpooled } from './support';

const replyListArbitrary = (options?: Parameters<typeof replyArbitrary>[0]): fc.Arbitrary<RespValue[]> =>
  fc.array(replyArbitrary(options), { minLength: 1, maxLength: 4 });

/** redis-parser, the RESP2 parser behind node-redis 3 and ioredis 4, fed the same chunks. */
function parseWithRedisParser(chunks: readonly Buffer[]): unknown[] {
  const replies: unknown[] = [];
  const parser = new RedisParser({
    returnBuffers: true,
    returnReply: (reply: unknown) => replies.push(reply),
    returnError: (error: Error) => replies.push(error),
    returnFatalError: (error: Error) => {
      throw error;
    },
  });
  for (const piece of chunks) parser.execute(piece);
  return replies;
}

/** ioredis 6's RESP3 decoder (node-redis's), mapped to Buffers, Maps and Sets, fed the same chunks. */
function parseWithIoredisDecoder(chunks: readonly Buffer[]): unknown[] {
  const replies: unknown[] = [];
  const decoder = new Decoder({
    onReply: (reply: unknown) => replies.push(reply),
    onErrorReply: (error: Error) => replies.push(error),
    onPush: (push: unknown[]) => replies.push(resp.push(push as RespValue[])),
    getTypeMapping: () => ({
      [RESP_TYPES.BLOB_STRING]: Buffer,
      [RESP_TYPES.VERBATIM_STRING]: Buffer,
      [RESP_TYPES.MAP]: Map,
      [RESP_TYPES.SET]: Set,
    }),
  });
  for (const piece of chunks) decoder.write(piece);
  return replies;
}

function decodeReplies(chunks: readonly Buffer[]): RespReply[] {
  const result = decode(respReplies(), chunks);
  if (result.error !== undefined) throw result.error;
  assert.ok(result.completed);
  return result.values;
}

describe('operators: respReplies', () => {
  it('decodes what encodeReplies encodes, RESP2 and RESP3, under any chunking', () => {
    fc.assert(
      fc.property(replyListArbitrary(), fc.constantFrom(2 as const, 3 as const), chunkingArbitrary, (values, protocol, chunking) => {
        const decoded = decodeReplies(chunk(encodeReplies(values, protocol), chunking));
        assert.deepStrictEqual(decoded.map((reply) => canonical(reply)), values.map((value) => expectedReply(value, protocol)));
      }),
      { numRuns: 1000 },
    );
  });

  it('agrees with redis-parser on RESP2 replies', () => {
    fc.assert(
      fc.property(replyListArbitrary({ safeIntegers: true }), chunkingArbitrary, (values, chunking) => {
        // redis-parser mishandles empty chunks (which sockets never deliver), so none are sent.
        const chunks = chunk(encodeReplies(values, 2), chunking).filter((piece) => piece.length > 0);
        const theirs = parseWithRedisParser(chunks).map((reply) => canonical(reply, { textAsBytes: true }));
        const ours = decodeReplies(chunks).map((reply) => canonical(reply, { textAsBytes: true }));
        assert.deepStrictEqual(ours, theirs);
      }),
      { numRuns: 500 },
    );
  });

  // That decoder sums fraction digits approximately (0.375 comes out 0.37500000000000006), so doubles are integral here.
  it("agrees with ioredis's RESP3 decoder", () => {
    fc.assert(
      fc.property(replyListArbitrary({ safeIntegers: true, integralDoubles: true, nestedPush: false }), chunkingArbitrary, (values, chunking) => {
        const chunks = chunk(encodeReplies(values, 3), chunking).filter((piece) => piece.length > 0);
        // That decoder keeps only a verbatim string's text, not its format, and decodes map keys as UTF-8 text.
        const withoutFormats = (reply: unknown): unknown => {
          if (Array.isArray(reply)) return reply.map(withoutFormats);
          if (reply instanceof Map) return new Map([...reply].map(([key, item]) => [key instanceof Buffer ? key.toString() : withoutFormats(key), withoutFormats(item)]));
          if (reply instanceof Set) return new Set([...reply].map(withoutFormats));
          if (reply !== null && typeof reply === 'object' && 'type' in reply) {
            const tagged = reply as { type: unknown; value?: unknown; items?: unknown[] };
            if (tagged.type === 'verbatim') return tagged.value;
            if (tagged.type === 'push') return resp.push(tagged.items!.map(withoutFormats) as RespValue[]);
          }
          return reply;
        };
        // Text as bytes: simple strings and map keys are strings on both sides, bulk strings Buffers.
        const theirs = parseWithIoredisDecoder(chunks).map((reply) => canonical(reply, { textAsBytes: true }));
        const ours = decodeReplies(chunks).map((reply) => canonical(withoutFormats(reply), { textAsBytes: true }));
        assert.deepStrictEqual(ours, theirs);
      }),
      { numRuns: 500 },
    );
  });

  // RESP-shaped noise: every type byte, lengths, CR and LF in all orders.
  const noise = fc
    .array(fc.constantFrom('+', '-', ':', '$', '*', '_', ',', '#', '(', '!', '=', '%', '~', '>', '|', '\r\n', '\r', '\n', '0', '1', '2', '3', '-1', 't', 'x', ':', '.', 'e'), { maxLength: 40 })
    .map((parts) => Buffer.from(parts.join('')));
  const smallLimits = { maxBulkLength: 6, maxArrayLength: 3, maxLineLength: 8, maxDepth: 3 };

  it('on any bytes, emits the same replies and fails the same way (typed errors only) under any chunking', () => {
    fc.assert(
      fc.property(noise, chunkingArbitrary, (bytes, chunking) => {
        const whole = decode(respReplies(smallLimits), [bytes]);
        const chunked = decode(respReplies(smallLimits), chunk(bytes, chunking));
        assert.deepStrictEqual(chunked.values.map((reply) => canonical(reply)), whole.values.map((reply) => canonical(reply)));
        assert.equal(typedErrorCode(chunked.error), typedErrorCode(whole.error));
        if (whole.error instanceof RespProtocolError) assert.equal((chunked.error as RespProtocolError).offset, whole.error.offset);
      }),
      { numRuns: 1000 },
    );
  });

  it('never holds more than one line (maxLineLength + CR) or bulk string (maxBulkLength + CRLF)', () => {
    const bound = Math.max(smallLimits.maxLineLength + 1, smallLimits.maxBulkLength + 2);
    fc.assert(
      fc.property(noise, (bytes) => assertHoldsAtMost(new RespReplyParser(smallLimits, undefined), bytes, bound)),
      { numRuns: 500 },
    );
  });

  it('decodes each RESP3 type from its wire form', () => {
    const wire = [
      '+OK\r\n', '-ERR bad\r\n', ':-42\r\n', ':9007199254740993\r\n', '$3\r\nabc\r\n', '$-1\r\n', '*-1\r\n', '*0\r\n',
      '_\r\n', '#t\r\n', '#f\r\n', ',3.25\r\n', ',-inf\r\n', ',nan\r\n', ',1e3\r\n', '(12345678901234567890\r\n',
      '!5\r\nOOPS!\r\n', '=8\r\nmkd:*hi*\r\n', '%1\r\n+k\r\n:1\r\n', '~2\r\n:1\r\n:1\r\n', '>2\r\n+message\r\n$1\r\nx\r\n',
      '|1\r\n+ttl\r\n:10\r\n*1\r\n|1\r\n+a\r\n+b\r\n:7\r\n',
    ].join('');
    const decoded = decodeReplies([Buffer.from(wire)]).map((reply) => canonical(reply));
    assert.deepStrictEqual(decoded, [
      'OK', { error: 'ERR bad' }, -42, { bigint: '9007199254740993' }, { bytes: '616263' }, null, null, [],
      null, true, false, 3.25, -Infinity, { nan: true }, 1000, { bigint: '12345678901234567890' },
      { error: 'OOPS!' }, { verbatim: ['mkd', { bytes: Buffer.from('*hi*').toString('hex') }] }, { map: [['k', 1]] }, { set: [1] },
      { push: ['message', { bytes: '78' }] },
      [7],
    ]);
  });

  it('emits zero-copy bulk strings when they lie in one chunk, and strings with an encoding', () => {
    const input = unpooled('*2\r\n$3\r\nabc\r\n$2\r\nde\r\n');
    const [array] = decodeReplies([input]) as Buffer[][];
    for (const item of array!) assert.equal(item.buffer, input.buffer);
    const { values } = decode(respReplies({ encoding: 'utf8' }), [Buffer.from('$4\r\nżó\r\n=6\r\ntxt:ż\r\n')]);
    assert.deepStrictEqual(values, ['żó', { type: 'verbatim', format: 'txt', value: 'ż' }]);
  });

  it('with an encoding, decodes a character whose bytes a chunk boundary cuts, in a bulk string and in a line', () => {
    const wire = Buffer.from('*2\r\n$3\r\naé\r\n+é\r\n');
    const cut = wire.indexOf(0xa9);
    for (const at of [cut, wire.lastIndexOf(0xa9)]) {
      const { values } = decode(respReplies({ encoding: 'utf8' }), [wire.subarray(0, at), wire.subarray(at)]);
      assert.deepStrictEqual(values, [['aé', 'é']]);
    }
  });

  const failures: [string, string][] = [
    ['?x\r\n', 'UNKNOWN_TYPE'],
    [':1x\r\n', 'INVALID_INTEGER'],
    [',1.2.3\r\n', 'INVALID_DOUBLE'],
    ['#x\r\n', 'INVALID_BOOLEAN'],
    ['_x\r\n', 'INVALID_NULL'],
    ['(1a\r\n', 'INVALID_BIG_NUMBER'],
    ['$abc\r\n', 'INVALID_LENGTH'],
    ['%-1\r\n', 'INVALID_LENGTH'],
    ['$7\r\nabcdefg\r\n', 'INVALID_LENGTH'],
    ['*4\r\n', 'INVALID_LENGTH'],
    ['=2\r\nab\r\n', 'INVALID_VERBATIM'],
    ['=4\r\nabcd\r\n', 'INVALID_VERBATIM'],
    ['+OK\rX', 'INVALID_LINE_END'],
    ['$1\r\naXY', 'INVALID_LINE_END'],
    ['+123456789', 'LINE_TOO_LONG'],
    ['*1\r\n*1\r\n*1\r\n*1\r\n', 'NESTING_TOO_DEEP'],
    ['*2\r\n:1\r\n', 'TRUNCATED'],
  ];
  for (const [wire, code] of failures) {
    it(`fails with ${code} on ${JSON.stringify(wire)}, whole and bytewise`, () => {
      for (const chunking of [{ kind: 'whole' }, { kind: 'bytes' }] as const) {
        assert.equal(typedErrorCode(decode(respReplies(smallLimits), chunk(Buffer.from(wire), chunking)).error), code);
      }
    });
  }

  it('with an encoding, emits what it emits without one with each Buffer decoded by Buffer#toString, under any chunking', () => {
    // Payloads of ASCII, valid UTF-8, lone leads and continuations, bytes never valid, CRLF.
    const payload = fc
      .array(fc.constantFrom(...['61', 'c3a9', 'e282ac', 'f09f9880', 'c3', 'e282', '80', 'ff', '0d0a'].map((hex) => Buffer.from(hex, 'hex'))), { maxLength: 6 })
      .map((parts) => Buffer.concat(parts));
    const crlf = Buffer.from('\r\n');
    const blob = (type: string, prefix: string) => payload.map((bytes) => Buffer.concat([Buffer.from(`${type}${bytes.length + prefix.length}\r\n${prefix}`), bytes, crlf]));
    const { reply } = fc.letrec<{ reply: Buffer }>((tie) => ({
      reply: fc.oneof(
        { depthSize: 'small' },
        blob('$', ''),
        blob('=', 'txt:'),
        blob('!', ''),
        fc.constantFrom('+OK\r\n', '+caf\xc3\xa9 ok\r\n', ':-12\r\n', '$-1\r\n', '_\r\n', '$0\r\n\r\n').map((wire) => Buffer.from(wire, 'latin1')),
        fc.tuple(fc.constantFrom('*', '~', '>', '%'), fc.array(tie('reply'), { maxLength: 4 })).map(([type, items]) => {
          const count = type === '%' ? Math.floor(items.length / 2) : items.length;
          return Buffer.concat([Buffer.from(`${type}${count}\r\n`), ...items.slice(0, type === '%' ? count * 2 : count)]);
        }),
      ),
    }));
    // Mostly UTF-8, whose characters can be cut between chunks.
    const encodingArbitrary = fc.oneof(fc.constantFrom<BufferEncoding>('utf8', 'utf-8'), fc.constantFrom<BufferEncoding>('latin1', 'binary', 'ascii', 'hex', 'utf16le'));
    const decoded = (value: RespReply, encoding: BufferEncoding): unknown => {
      if (Buffer.isBuffer(value)) return value.toString(encoding);
      if (Array.isArray(value)) return value.map((item) => decoded(item, encoding));
      if (value instanceof Map) return new Map([...value].map(([key, item]) => [decoded(key, encoding), decoded(item, encoding)]));
      if (value instanceof Set) return new Set([...value].map((item) => decoded(item, encoding)));
      if (value !== null && typeof value === 'object' && 'type' in value) {
        if (value.type === 'push') return { type: 'push', items: value.items.map((item) => decoded(item, encoding)) };
        if (value.type === 'verbatim') return { ...value, value: decoded(value.value as RespReply, encoding) };
      }
      return value;
    };
    fc.assert(
      fc.property(fc.array(reply, { maxLength: 4 }), fc.boolean(), encodingArbitrary, chunkingArbitrary, (replies, truncate, encoding, chunking) => {
        const wire = Buffer.concat(replies);
        const bytes = truncate ? wire.subarray(0, wire.length >> 1) : wire;
        const asBuffers = decode(respReplies(), chunk(bytes, chunking));
        const asText = decode(respReplies({ encoding }), chunk(bytes, chunking));
        assert.deepStrictEqual(asText.values, asBuffers.values.map((value) => decoded(value, encoding)));
        assert.equal(typedErrorCode(asText.error), typedErrorCode(asBuffers.error));
        assert.equal(asText.completed, asBuffers.completed);
      }),
      { numRuns: 4000 },
    );
  });

  it('rejects limits that are not non-negative integers', () => {
    assert.throws(() => respReplies({ maxDepth: -1 }), RangeError);
  });
});
