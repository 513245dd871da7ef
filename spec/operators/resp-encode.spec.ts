import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { encodeReplies, encodeReply, encodeResp, resp, RespProtocolError, type RespValue } from '../../operators';
import { replyArbitrary } from './resp-model';

function wire(value: RespValue, protocol: 2 | 3 = 2): string {
  return encodeReply(value, protocol).toString('latin1');
}

describe('operators: encodeReply and resp builders', () => {
  it('writes each type as redis-server does, in RESP2 and RESP3', () => {
    const cases: [RespValue, string, string][] = [
      [resp.simple('OK'), '+OK\r\n', '+OK\r\n'],
      [resp.error('WRONGTYPE Operation against a key'), '-WRONGTYPE Operation against a key\r\n', '-WRONGTYPE Operation against a key\r\n'],
      [new Error('boom'), '-ERR boom\r\n', '-ERR boom\r\n'],
      [42, ':42\r\n', ':42\r\n'],
      [-7n, ':-7\r\n', ':-7\r\n'],
      [2 ** 60, ':1152921504606846976\r\n', ':1152921504606846976\r\n'],
      [2n ** 64n, '$20\r\n18446744073709551616\r\n', '(18446744073709551616\r\n'],
      ['héllo', '$6\r\nh\xc3\xa9llo\r\n', '$6\r\nh\xc3\xa9llo\r\n'],
      // Short text is written byte by byte while it is ASCII, and by Buffer#write from its first non-ASCII character.
      [`${'x'.repeat(31)}é`, `$33\r\n${'x'.repeat(31)}\xc3\xa9\r\n`, `$33\r\n${'x'.repeat(31)}\xc3\xa9\r\n`],
      [resp.simple('é'), '+\xc3\xa9\r\n', '+\xc3\xa9\r\n'],
      [-42, ':-42\r\n', ':-42\r\n'],
      [-0, ':0\r\n', ':0\r\n'],
      [Buffer.from([0, 13, 10]), '$3\r\n\x00\r\n\r\n', '$3\r\n\x00\r\n\r\n'],
      ['', '$0\r\n\r\n', '$0\r\n\r\n'],
      [null, '$-1\r\n', '_\r\n'],
      [resp.nullArray(), '*-1\r\n', '_\r\n'],
      [[1, 'a', [null]], '*3\r\n:1\r\n$1\r\na\r\n*1\r\n$-1\r\n', '*3\r\n:1\r\n$1\r\na\r\n*1\r\n_\r\n'],
      [[], '*0\r\n', '*0\r\n'],
      [resp.map({ a: 1 }), '*2\r\n$1\r\na\r\n:1\r\n', '%1\r\n$1\r\na\r\n:1\r\n'],
      [resp.set(['x']), '*1\r\n$1\r\nx\r\n', '~1\r\n$1\r\nx\r\n'],
      [1.5, '$3\r\n1.5\r\n', ',1.5\r\n'],
      [resp.double(3), '$1\r\n3\r\n', ',3\r\n'],
      [Infinity, '$3\r\ninf\r\n', ',inf\r\n'],
      [-Infinity, '$4\r\n-inf\r\n', ',-inf\r\n'],
      [Number.NaN, '$3\r\nnan\r\n', ',nan\r\n'],
      [true, ':1\r\n', '#t\r\n'],
      [false, ':0\r\n', '#f\r\n'],
      [resp.push(['message', 'ch', 'hi']), '*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n', '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n'],
      [resp.bigNumber('-123'), '$4\r\n-123\r\n', '(-123\r\n'],
      [resp.verbatim('*hi*', 'mkd'), '$4\r\n*hi*\r\n', '=8\r\nmkd:*hi*\r\n'],
    ];
    for (const [value, resp2, resp3] of cases) {
      assert.equal(wire(value, 2), resp2, `RESP2 of ${String(value)}`);
      assert.equal(wire(value, 3), resp3, `RESP3 of ${String(value)}`);
    }
  });

  it("answers a RespProtocolError exactly as redis-server does: '-ERR ' + its message", () => {
    const error = new RespProtocolError('INVALID_BULK_LENGTH', 'Protocol error: invalid bulk length', { offset: 0 });
    assert.equal(wire(error), '-ERR Protocol error: invalid bulk length\r\n');
  });

  it('replaces CR and LF in simple strings and errors, so they cannot break the stream', () => {
    assert.equal(wire(resp.simple('a\r\nb')), '+a  b\r\n');
    assert.equal(wire(new Error('line\nbreak')), '-ERR line break\r\n');
  });

  it('refuses values that are not replies', () => {
    for (const value of [undefined, { some: 'object' }, Symbol('s'), () => 1] as unknown[]) {
      assert.throws(() => encodeReply(value as RespValue), TypeError);
    }
    assert.throws(() => resp.integer(1.5), RangeError);
    assert.throws(() => resp.integer(2n ** 63n), RangeError);
    assert.throws(() => resp.verbatim('x', 'toolong'), RangeError);
    assert.throws(() => resp.bigNumber('12a'), RangeError);
  });

  it('encodeReplies is the concatenation of encodeReply (exact sizes are checked by decoding them back)', () => {
    fc.assert(
      fc.property(fc.array(replyArbitrary(), { maxLength: 5 }), fc.constantFrom(2 as const, 3 as const), (values, protocol) => {
        const batch = encodeReplies(values, protocol);
        assert.deepEqual(batch, Buffer.concat(values.map((value) => encodeReply(value, protocol))));
      }),
      { numRuns: 300 },
    );
  });

  it('encodeResp encodes each value of a stream', async () => {
    const encoded = await lastValueFrom(from<RespValue[]>([resp.simple('OK'), true]).pipe(encodeResp({ protocol: 3 }), toArray()));
    assert.deepEqual(encoded.map((buffer) => buffer.toString()), ['+OK\r\n', '#t\r\n']);
  });
});
