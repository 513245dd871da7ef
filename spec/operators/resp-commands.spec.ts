import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { Command } from 'ioredis';
import { from, lastValueFrom } from 'rxjs';
import { encodeReply, RespProtocolError, respCommandBatches, respCommands, type RespCommandsOptions } from '../../operators';
import { RespCommandParser, commandLimits } from '../../operators/internal/resp-command-parser';
import { encodeRequest, isPlain, requestArbitrary } from './resp-command-model';
import { assertHoldsAtMost, chunk, chunkingArbitrary, decode, typedErrorCode, unpooled, type Decoded } from './support';


function hex(commands: readonly (readonly Uint8Array[])[]): string[][] {
  return commands.map((args) => args.map((argument) => Buffer.from(argument).toString('hex')));
}

function assertCommands(result: Decoded<Buffer[]>, expected: readonly (readonly Uint8Array[])[]): void {
  if (result.error !== undefined) throw result.error;
  assert.ok(result.completed);
  assert.deepEqual(hex(result.values), hex(expected));
}

/** What redis-server answers for the first problem in `input`, per our decoder: `-ERR <text>` or nothing. */
function protocolErrorOf(input: string, options?: RespCommandsOptions): string | undefined {
  const { error } = decode(respCommands(options), [Buffer.from(input, 'latin1')]);
  return error instanceof RespProtocolError ? error.message : undefined;
}

describe('operators: respCommands', () => {
  it('decodes any mix of multibulk and inline commands, with skipped lines, under any chunking', () => {
    fc.assert(
      fc.property(fc.array(requestArbitrary, { maxLength: 8 }), chunkingArbitrary, (requests, chunking) => {
        const input = Buffer.concat(requests.map(encodeRequest));
        const expected = requests.flatMap((request) => (request.kind === 'skipped' ? [] : [request.args]));
        assertCommands(decode(respCommands(), chunk(input, chunking)), expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('emits the same commands in per-chunk batches with respCommandBatches', () => {
    fc.assert(
      fc.property(fc.array(requestArbitrary, { maxLength: 8 }), chunkingArbitrary, (requests, chunking) => {
        const chunks = chunk(Buffer.concat(requests.map(encodeRequest)), chunking);
        const batches = decode(respCommandBatches(), chunks);
        assert.ok(batches.values.every((batch) => batch.length > 0));
        assert.ok(batches.values.length <= chunks.length);
        assert.deepEqual(hex(batches.values.flat()), hex(decode(respCommands(), chunks).values));
      }),
      { numRuns: 300 },
    );
  });

  it('gives multibulk arguments and plain inline arguments as zero-copy views of a whole chunk', () => {
    fc.assert(
      fc.property(fc.array(requestArbitrary, { maxLength: 6 }), (requests) => {
        const input = unpooled(Buffer.concat(requests.map(encodeRequest)));
        const commands = decode(respCommands(), [input]).values;
        const decoded = requests.filter((request) => request.kind !== 'skipped');
        decoded.forEach((request, index) => {
          commands[index]!.forEach((argument, position) => {
            const zeroCopy = request.kind === 'multibulk' || (request.kind === 'inline' && request.quoting[position] === 'plain' && isPlain(request.args[position]!));
            if (zeroCopy) assert.equal(argument.buffer, input.buffer);
          });
        });
      }),
      { numRuns: 200 },
    );
  });

  it("decodes commands as ioredis's Command.toWritable() encodes them", () => {
    const argument = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes)));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('set', 'get', 'hset', 'xadd', 'eval'), fc.array(argument, { maxLength: 5 })), { minLength: 1, maxLength: 5 }), chunkingArbitrary, (commands, chunking) => {
        const encoded = commands.map(([name, args]) => new Command(name, args));
        const input = Buffer.concat(encoded.map((command) => Buffer.from(command.toWritable(undefined as never))));
        // ioredis may rewrite arguments (HSET flattens objects), so expect what it says it sent.
        const expected = encoded.map((command) => [Buffer.from(command.name), ...command.args.map((value) => (Buffer.isBuffer(value) ? value : Buffer.from(String(value))))]);
        assertCommands(decode(respCommands(), chunk(input, chunking)), expected);
      }),
      { numRuns: 500 },
    );
  });

  // RESP- and inline-shaped noise.
  const noise = fc
    .array(fc.constantFrom('*', '$', '\r\n', '\r', '\n', '0', '1', '2', '3', '9', '-', '-1', ' ', '\t', '"', "'", '\\', 'x', '4', 'a', '\0', 'PING'), { maxLength: 40 })
    .map((parts) => Buffer.from(parts.join(''), 'latin1'));
  const smallLimits = { maxBulkLength: 5, maxArrayLength: 3, maxInlineLength: 12 };

  it('on any bytes, emits the same commands and fails the same way (typed errors only) under any chunking', () => {
    fc.assert(
      fc.property(noise, chunkingArbitrary, (bytes, chunking) => {
        const whole = decode(respCommands(smallLimits), [bytes]);
        const chunked = decode(respCommands(smallLimits), chunk(bytes, chunking));
        assert.deepEqual(hex(chunked.values), hex(whole.values));
        assert.equal(typedErrorCode(chunked.error), typedErrorCode(whole.error));
        if (whole.error instanceof RespProtocolError) {
          assert.equal((chunked.error as RespProtocolError).message, whole.error.message);
          assert.equal((chunked.error as RespProtocolError).offset, whole.error.offset);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('never holds more than one line (maxInlineLength + 1) or bulk string (maxBulkLength + 2)', () => {
    const bound = Math.max(smallLimits.maxInlineLength + 1, smallLimits.maxBulkLength + 2);
    fc.assert(
      fc.property(noise, (bytes) => assertHoldsAtMost(new RespCommandParser(commandLimits(smallLimits)), bytes, bound)),
      { numRuns: 500 },
    );
  });

  it('reads long arguments cut anywhere, and holds no more of one than has arrived past 64 KiB', () => {
    for (const length of [64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 200_000]) {
      const argument = Buffer.alloc(length, 0x61);
      argument[0] = 0x62;
      argument[length - 1] = 0x63;
      const input = encodeReply(['SET', 'k', argument, 'x']);
      for (const sizes of [[4096, 1, 7], [length + 14], [length + 15], [length + 16], [1000, 64 * 1024 + 3]]) {
        assertCommands(decode(respCommands(), chunk(input, { kind: 'sizes', sizes })), [[Buffer.from('SET'), Buffer.from('k'), argument, Buffer.from('x')]]);
      }
    }
    const parser = new RespCommandParser(commandLimits({}));
    parser.write(Buffer.from('*1\r\n$100000000\r\nab'), { next: () => undefined });
    assert.equal(parser.heldBytes(), 2);
    parser.write(Buffer.from('cd'), { next: () => undefined });
    assert.equal(parser.heldBytes(), 4);
  });

  describe("redis-server's protocol errors (texts and limits checked against redis-server 7.0.15)", () => {
    const cases: [string, string | undefined][] = [
      ['*1048577\r\n', 'Protocol error: invalid multibulk length'],
      ['*1048576\r\n', undefined],
      ['*01\r\n', 'Protocol error: invalid multibulk length'],
      ['*+1\r\n', 'Protocol error: invalid multibulk length'],
      ['*\r\n', 'Protocol error: invalid multibulk length'],
      ['*-9223372036854775809\r\n', 'Protocol error: invalid multibulk length'],
      ['*-9223372036854775808\r\n*-1\r\n*0\r\n', undefined],
      ['*9223372036854775808\r\n', 'Protocol error: invalid multibulk length'],
      ['*3\r\n$3\r\nSET\r\n$-1\r\n', 'Protocol error: invalid bulk length'],
      ['*1\r\n$+4\r\nPING\r\n', 'Protocol error: invalid bulk length'],
      ['*1\r\n$04\r\nPING\r\n', 'Protocol error: invalid bulk length'],
      ['*1\r\n$-0\r\n', 'Protocol error: invalid bulk length'],
      ['*1\r\n$536870913\r\n', 'Protocol error: invalid bulk length'],
      ['*1\r\n$536870912\r\n', undefined],
      ['x'.repeat(65536), undefined],
      ['x'.repeat(65537), 'Protocol error: too big inline request'],
      ['*' + '1'.repeat(65535), undefined],
      ['*' + '1'.repeat(65536), 'Protocol error: too big mbulk count string'],
      ['*1\r\n$' + '1'.repeat(65535), undefined],
      ['*1\r\n$' + '1'.repeat(65536), 'Protocol error: too big bulk count string'],
      ['*1\r\nX' + '1'.repeat(65536), 'Protocol error: too big bulk count string'],
      ['*1\r\nX\r\n', "Protocol error: expected '$', got 'X'"],
      ['*1\r\n\n\r\n', "Protocol error: expected '$', got ' '"],
      ['*1\r\n:1\r\n', "Protocol error: expected '$', got ':'"],
      ['ECHO "a"b\r\n', 'Protocol error: unbalanced quotes in request'],
      ['ECHO "ab\r\n', 'Protocol error: unbalanced quotes in request'],
      ["ECHO 'ab\r\n", 'Protocol error: unbalanced quotes in request'],
      ["ECHO 'a'b\r\n", 'Protocol error: unbalanced quotes in request'],
    ];
    for (const [input, expected] of cases) {
      const label = input.length > 40 ? `${JSON.stringify(input.slice(0, 12))}... (${input.length} bytes)` : JSON.stringify(input);
      it(`${label} → ${expected ?? 'no error yet'}`, () => {
        assert.equal(protocolErrorOf(input), expected);
        // The same outcome when the bytes trickle in.
        const bytewise = decode(respCommands(), chunk(Buffer.from(input, 'latin1'), input.length > 1000 ? { kind: 'sizes', sizes: [4096, 1, 7] } : { kind: 'bytes' }));
        assert.equal(bytewise.error instanceof RespProtocolError ? bytewise.error.message : undefined, expected);
      });
    }

    it('honours smaller limits with the same texts', () => {
      assert.equal(protocolErrorOf('*4\r\n', { maxArrayLength: 3 }), 'Protocol error: invalid multibulk length');
      assert.equal(protocolErrorOf('*1\r\n$6\r\n', { maxBulkLength: 5 }), 'Protocol error: invalid bulk length');
      assert.equal(protocolErrorOf('PING PONG\r\n', { maxInlineLength: 8 }), 'Protocol error: too big inline request');
      // The limit counts every byte before the LF, CR included.
      assert.equal(protocolErrorOf('PING PON\n', { maxInlineLength: 8 }), undefined);
      assert.equal(protocolErrorOf('PING PON\r\n', { maxInlineLength: 8 }), 'Protocol error: too big inline request');
    });

    it('emits the commands before the error, then errors naming where', () => {
      const result = decode(respCommands(), [Buffer.from('PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n')]);
      assert.deepEqual(result.values.map((args) => args.map(String)), [['PING'], ['PING']]);
      assert.ok(result.error instanceof RespProtocolError);
      assert.equal(result.error.code, 'INVALID_BULK_LENGTH');
      assert.equal(result.error.offset, 24);
      assert.equal(encodeReply(result.error).toString(), '-ERR Protocol error: invalid bulk length\r\n');
    });

    it('errors with TRUNCATED when the input ends inside a command', () => {
      assert.equal(typedErrorCode(decode(respCommands(), [Buffer.from('*2\r\n$4\r\nECHO\r\n')]).error), 'TRUNCATED');
    });
  });

  describe('inline commands split as sdssplitargs does (checked against redis-server 7.0.15)', () => {
    const cases: [string, string[]][] = [
      ['ECHO "\\x41\\n" \x0bB\r\n', ['ECHO', 'A\n', 'B']],
      ['ECHO "\\x4g"\r\n', ['ECHO', 'x4g']],
      ['ECHO "a\\"b"\r\n', ['ECHO', 'a"b']],
      ["ECHO 'a\\'b'\r\n", ['ECHO', "a'b"]],
      ['ECHO "\\\\"\r\n', ['ECHO', '\\']],
      ['ECHO "a"\x0b\r\n', ['ECHO', 'a']],
      ['ECHO a\x0bb\r\n', ['ECHO', 'a\x0bb']],
      ['ECHO\tx\r\n', ['ECHO', 'x']],
      ['\rPING\n', ['PING']],
      ['PING\r\r\n', ['PING']],
      ['SET k ""\r\n', ['SET', 'k', '']],
      ['SET ab"cd" x\n', ['SET', 'abcd', 'x']],
      ['"\\t\\r\\b\\a\\z"\n', ['\t\r\b\x07z']],
    ];
    for (const [line, args] of cases) {
      it(`${JSON.stringify(line)} → ${JSON.stringify(args)}`, () => {
        assertCommands(decode(respCommands(), [Buffer.from(line, 'latin1')]), [args.map((argument) => Buffer.from(argument, 'latin1'))]);
      });
    }

    it('skips blank lines', () => {
      assertCommands(decode(respCommands(), [Buffer.from('\r\n   \n\t\r\nPING\n')]), [[Buffer.from('PING')]]);
    });
  });

  it("names the same byte when a line's CR ends one chunk and the next starts elsewhere", async () => {
    // Found by the property above: "*1\r\n" then an empty line whose CR closes the first chunk.
    const input = Buffer.from('*1\r\n\r*');
    for (let cut = 1; cut < input.length; cut++) {
      const error = await lastValueFrom(from([input.subarray(0, cut), input.subarray(cut)]).pipe(respCommands()), { defaultValue: null }).then(
        () => null,
        (e: Error) => e,
      );
      assert.equal(error?.message, "Protocol error: expected '$', got ' '", `cut at ${cut}`);
    }
  });

  it('rejects limits that are not non-negative integers', () => {
    assert.throws(() => respCommands({ maxBulkLength: -1 }), RangeError);
    assert.throws(() => respCommandBatches({ maxInlineLength: 1.5 }), RangeError);
  });
});
