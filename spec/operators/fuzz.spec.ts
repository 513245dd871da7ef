// Hostile input against every decoder: valid encodings mutated (bytes flipped, inserted, deleted,
// duplicated; lengths such as -1, 2^31, 2^63 and endless digit strings spliced in) and arbitrary
// bytes. Whatever arrives, a decoder may only fail with its typed errors, must fail (or not) the
// same way however the input is chunked, and must never buffer more than its limits allow; valid
// input must still decode. `npm test` runs a few dozen cases per property; `npm run fuzz` runs the
// same properties for minutes (FUZZ_RUNS, FUZZ_SECONDS and FUZZ_SEED below).
import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import type { OperatorFunction } from 'rxjs';
import {
  delimited,
  encodeLengthPrefixed,
  encodeReplies,
  encodeVarintPrefixed,
  fixed,
  FramingError,
  HttpRequestError,
  httpRequests,
  lengthPrefixed,
  lines,
  RespProtocolError,
  respCommands,
  respReplies,
  varintPrefixed,
  type HttpRequest,
  type LengthPrefixOptions,
  type RespReply,
} from '../../operators';
import { expected as expectedRequest, plain, requestArbitrary as httpRequestArbitrary, serialize } from './http-model';
import { encodeRequest, requestArbitrary as commandArbitrary } from './resp-command-model';
import { canonical, expectedReply, replyArbitrary } from './resp-model';
import { bytesFrom, chunk, chunkingArbitrary, decode, mostPendingDuring, type Chunking, type Decoded } from './support';

/** Input that must decode, and a comparable form of each value it must decode to. */
interface ValidInput {
  readonly wire: Buffer;
  readonly values: readonly unknown[];
}

/**
 * One decoder under fuzzing. `C` is its configuration besides limits (a header format, a
 * delimiter); `small` asks for limits small enough that fuzz input crosses them, otherwise the
 * defaults apply, where hostile lengths meet the real limits.
 */
interface FuzzTarget<C, T> {
  readonly name: string;
  readonly config: fc.Arbitrary<C>;
  readonly valid: (config: C) => fc.Arbitrary<ValidInput>;
  readonly decoder: (config: C, small: boolean) => OperatorFunction<Buffer, T>;
  /** The most bytes the decoder may hold in its pending buffer at once. */
  readonly maxPending: (config: C, small: boolean) => number;
  readonly comparable: (value: T) => unknown;
  /** The only errors it may end with. */
  readonly errors: readonly (abstract new (...args: never[]) => Error)[];
}

/** Runs per property for `npm test`; FUZZ_SECONDS (the whole run's budget) overrides it. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 0);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
/** Synchronously encodes frames with one of the framing encoders. */
const encodeWith = (encoder: OperatorFunction<Uint8Array, Buffer>, frames: readonly Uint8Array[]): Buffer =>
  Buffer.concat(decode(encoder as OperatorFunction<Buffer, Buffer>, frames.map((frame) => Buffer.from(frame))).values);

const framingBytes = fc.oneof(fc.uint8Array({ maxLength: 300 }), bytesFrom([0x0a, 0x0d, 0x00, 0x61, 0x80, 0xff], 40));

function delimitedTarget(name: string, delimiters: fc.Arbitrary<Buffer>, make: (delimiter: Buffer, maxLength?: number) => OperatorFunction<Buffer, Buffer>): FuzzTarget<Buffer, Buffer> {
  return {
    name,
    config: delimiters,
    valid: (delimiter) =>
      fc
        .array(framingBytes, { maxLength: 12 })
        .map((candidates) => candidates.filter((frame) => Buffer.concat([frame, delimiter]).indexOf(delimiter) === frame.length))
        .map((frames) => ({ wire: Buffer.concat(frames.flatMap((frame) => [frame, delimiter])), values: frames.map(hex) })),
    decoder: (delimiter, small) => make(delimiter, small ? 16 : undefined),
    maxPending: (delimiter, small) => (small ? 16 : 64 * 1024) + delimiter.length - 1,
    comparable: hex,
    errors: [FramingError],
  };
}

const lengthPrefixTarget: FuzzTarget<LengthPrefixOptions, Buffer> = {
  name: 'lengthPrefixed',
  config: fc.record({
    bytes: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    endian: fc.constantFrom('be' as const, 'le' as const),
    lengthIncludesHeader: fc.boolean(),
  }),
  valid: (options) =>
    fc.array(fc.uint8Array({ maxLength: options.bytes === 1 ? 200 : 600 }), { maxLength: 10 }).map((frames) => ({
      wire: encodeWith(encodeLengthPrefixed(options), frames),
      values: frames.map(hex),
    })),
  decoder: (options, small) => lengthPrefixed({ ...options, ...(small ? { maxLength: 64 } : {}) }),
  maxPending: (options, small) => options.bytes! + (small ? 64 : 16 * 1024 * 1024),
  comparable: hex,
  errors: [FramingError],
};

const varintTarget: FuzzTarget<null, Buffer> = {
  name: 'varintPrefixed',
  config: fc.constant(null),
  valid: () =>
    fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 10 }).map((frames) => ({ wire: encodeWith(encodeVarintPrefixed(), frames), values: frames.map(hex) })),
  decoder: (_, small) => varintPrefixed(small ? { maxLength: 64 } : {}),
  maxPending: (_, small) => (small ? 64 : 16 * 1024 * 1024),
  comparable: hex,
  errors: [FramingError],
};

const fixedTarget: FuzzTarget<number, Buffer> = {
  name: 'fixed',
  config: fc.integer({ min: 1, max: 9 }),
  valid: (size) =>
    fc.array(fc.uint8Array({ minLength: size, maxLength: size }), { maxLength: 20 }).map((frames) => ({ wire: Buffer.concat(frames), values: frames.map(hex) })),
  decoder: (size) => fixed(size),
  maxPending: (size) => size,
  comparable: hex,
  errors: [FramingError],
};

const COMMAND_LIMITS = { maxBulkLength: 8, maxArrayLength: 4, maxInlineLength: 24 };
const respCommandsTarget: FuzzTarget<null, Buffer[]> = {
  name: 'respCommands',
  config: fc.constant(null),
  valid: () =>
    fc.array(commandArbitrary, { maxLength: 8 }).map((requests) => ({
      wire: Buffer.concat(requests.map(encodeRequest)),
      values: requests.flatMap((request) => (request.kind === 'skipped' ? [] : [request.args.map(hex)])),
    })),
  decoder: (_, small) => respCommands(small ? COMMAND_LIMITS : {}),
  // One line (the inline limit and its CR) or one bulk string and its CRLF.
  maxPending: (_, small) => (small ? Math.max(COMMAND_LIMITS.maxInlineLength + 1, COMMAND_LIMITS.maxBulkLength + 2) : 512 * 1024 * 1024 + 2),
  comparable: (args) => args.map(hex),
  errors: [RespProtocolError, FramingError],
};

const REPLY_LIMITS = { maxBulkLength: 8, maxArrayLength: 4, maxLineLength: 16, maxDepth: 3 };
const respRepliesTarget: FuzzTarget<2 | 3, RespReply> = {
  name: 'respReplies',
  config: fc.constantFrom(2 as const, 3 as const),
  valid: (protocol) =>
    fc.array(replyArbitrary(), { maxLength: 4 }).map((values) => ({
      wire: encodeReplies(values, protocol),
      values: values.map((value) => expectedReply(value, protocol)),
    })),
  decoder: (_, small) => respReplies(small ? REPLY_LIMITS : {}),
  maxPending: (_, small) => (small ? Math.max(REPLY_LIMITS.maxLineLength + 1, REPLY_LIMITS.maxBulkLength + 2) : 512 * 1024 * 1024 + 2),
  comparable: (reply) => canonical(reply),
  errors: [RespProtocolError, FramingError],
};

const HTTP_LIMITS = { maxRequestLineLength: 64, maxHeadersLength: 128, maxBodyLength: 64 };
const HTTP_DEFAULTS = { maxRequestLineLength: 8 * 1024, maxHeadersLength: 64 * 1024, maxBodyLength: 1024 * 1024 };
const httpTarget: FuzzTarget<null, HttpRequest> = {
  name: 'httpRequests',
  config: fc.constant(null),
  valid: () =>
    fc.array(httpRequestArbitrary, { maxLength: 5 }).map((requests) => ({
      wire: Buffer.concat(requests.map(serialize)),
      values: requests.map(expectedRequest),
    })),
  decoder: (_, small) => httpRequests(small ? HTTP_LIMITS : {}),
  // A head (request line and header fields, each with its line end and the final CRLF's slack),
  // a body, or one chunk-size line (1 KiB) or a trailer section.
  maxPending: (_, small) => {
    const limits = small ? HTTP_LIMITS : HTTP_DEFAULTS;
    return Math.max(limits.maxRequestLineLength + limits.maxHeadersLength + 4, limits.maxBodyLength, 1024, limits.maxHeadersLength);
  },
  comparable: plain,
  errors: [HttpRequestError],
};

// Each target is used only with its own configurations and values.
const TARGETS = [
  delimitedTarget('lines', fc.constant(Buffer.from('\n')), (_, maxLength) => lines(maxLength === undefined ? {} : { maxLength })),
  delimitedTarget('delimited', bytesFrom([0x0a, 0x0d, 0x61], 3).filter((bytes) => bytes.length > 0).map((bytes) => Buffer.from(bytes)), (delimiter, maxLength) =>
    delimited(delimiter, maxLength === undefined ? {} : { maxLength }),
  ),
  lengthPrefixTarget,
  varintTarget,
  fixedTarget,
  respCommandsTarget,
  respRepliesTarget,
  httpTarget,
] as unknown as readonly FuzzTarget<never, never>[];

// Lengths and numbers that have broken parsers: negative, at and past 2^31, 2^32, 2^53, 2^63 and
// 2^64, leading zeros and signs, hex and exponents, and digit strings longer than any line limit.
const HOSTILE_NUMBERS = [
  '-1', '-5', '-0', '0', '00', '+1', '01', '2147483647', '2147483648', '4294967295', '4294967296', '9007199254740993',
  '9223372036854775807', '9223372036854775808', '-9223372036854775809', '18446744073709551616', '1e3', '0x10', 'ffffffff',
  '7fffffffffffffff', '536870913', '99999999999', '600000000',
];
const hostileText = fc.oneof(
  fc.constantFrom(...HOSTILE_NUMBERS),
  fc.constantFrom(20, 300, 1100, 8200, 65_537, 70_000).map((digits) => '9'.repeat(digits)),
  fc.constantFrom('\r\n', '\r', '\n', '\r\n\r\n', '*', '$', ':', '%', '|', '>', ' ', '"', "'", '\\', ';', 'Content-Length: ', 'Transfer-Encoding: chunked\r\n'),
);
// The same as binary length prefixes: big- and little-endian 32- and 64-bit, and varints that
// never end or run past 64 bits.
const HOSTILE_BINARY = [
  [0xff, 0xff, 0xff, 0xff], [0x80, 0, 0, 0], [0x7f, 0xff, 0xff, 0xff], [0, 0, 0, 0x80], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x80, 0, 0, 0, 0, 0, 0, 0], [0, 0x20, 0, 0, 0, 0, 0, 1], [...Array<number>(9).fill(0xff), 0x01], Array<number>(11).fill(0x80),
  [0x80, 0x80, 0x80, 0x80, 0x08], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
].map((bytes) => Buffer.from(bytes));
const hostileBytes: fc.Arbitrary<Buffer> = fc.oneof(hostileText.map((text) => Buffer.from(text, 'latin1')), fc.constantFrom(...HOSTILE_BINARY));

type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'insert' | 'splice'; readonly at: number; readonly count: number; readonly bytes: Buffer }
  | { readonly kind: 'delete' | 'duplicate'; readonly at: number; readonly count: number };

const at = fc.nat();
const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('insert' as const), at, count: fc.constant(0), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bytes) => Buffer.from(bytes)) }),
  fc.record({ kind: fc.constantFrom('delete' as const, 'duplicate' as const), at, count: fc.integer({ min: 1, max: 64 }) }),
  // A hostile number in place of a few bytes: mostly where a length was.
  fc.record({ kind: fc.constant('splice' as const), at, count: fc.integer({ min: 0, max: 12 }), bytes: hostileBytes }),
);

function mutate(wire: Buffer, mutation: Mutation): Buffer {
  const position = wire.length === 0 ? 0 : mutation.at % (wire.length + 1);
  const before = wire.subarray(0, position);
  switch (mutation.kind) {
    case 'flip': {
      if (position === wire.length) return wire;
      const copy = Buffer.from(wire);
      copy[position] ^= 1 << mutation.bit;
      return copy;
    }
    case 'insert':
    case 'splice':
      return Buffer.concat([before, mutation.bytes, wire.subarray(position + mutation.count)]);
    case 'delete':
      return Buffer.concat([before, wire.subarray(position + mutation.count)]);
    case 'duplicate':
      return Buffer.concat([wire.subarray(0, position + mutation.count), wire.subarray(position)]);
  }
}

/** Any bytes at all, and soups of protocol tokens and hostile numbers, which get further into a parser. */
const arbitraryInput: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)),
  fc.array(fc.oneof(hostileBytes, fc.uint8Array({ maxLength: 6 }).map((bytes) => Buffer.from(bytes))), { maxLength: 30 }).map((parts) => Buffer.concat(parts)),
);

/** `chunk`, except that inputs too long to feed byte by byte quickly get a mix of tiny and large chunks. */
function chunkInput(bytes: Buffer, chunking: Chunking): Buffer[] {
  return chunk(bytes, chunking.kind === 'bytes' && bytes.length > 4096 ? { kind: 'sizes', sizes: [1, 4093, 2, 7] } : chunking);
}

function errorDescription(target: FuzzTarget<never, never>, error: unknown): { code: string; offset: number | undefined } | undefined {
  if (error === undefined) return undefined;
  if (!target.errors.some((type) => error instanceof type)) {
    throw new Error(`${target.name} failed with an untyped error: ${(error as Error)?.stack ?? String(error)}`);
  }
  const { code, offset } = error as { code: string; offset?: number };
  return { code, offset };
}

/**
 * Decodes `bytes` whole and chunked: both may only end in a typed error, must agree on the values
 * and on the error, and the chunked decoder must never hold more than its limits allow.
 */
function assertWithstands(target: FuzzTarget<never, never>, config: never, small: boolean, bytes: Buffer, chunking: Chunking): void {
  const whole = decode(target.decoder(config, small), [bytes]);
  let chunked!: Decoded<never>;
  const held = mostPendingDuring(() => (chunked = decode(target.decoder(config, small), chunkInput(bytes, chunking))));
  const wholeError = errorDescription(target, whole.error);
  assert.deepEqual(errorDescription(target, chunked.error), wholeError, 'the same error whole and chunked');
  assert.deepEqual(chunked.values.map(target.comparable), whole.values.map(target.comparable), 'the same values whole and chunked');
  assert.equal(whole.completed, wholeError === undefined);
  const bound = target.maxPending(config, small);
  assert.ok(held <= bound, `held ${held} bytes, more than ${bound}`);
}

const PROPERTIES_PER_TARGET = 3;

function parameters<T>(): fc.Parameters<T> {
  const common = SEED === undefined ? {} : { seed: SEED };
  if (SECONDS > 0) {
    const perProperty = (SECONDS * 1000) / (TARGETS.length * PROPERTIES_PER_TARGET);
    return { ...common, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: perProperty };
  }
  return { ...common, numRuns: RUNS };
}

/** fc.assert, except that a long run also says how many cases each property went through. */
function assertProperty<Ts extends unknown[]>(property: fc.IProperty<Ts>): void {
  const details: fc.RunDetails<Ts> = fc.check(property, parameters<Ts>());
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.stack : String(details.errorInstance);
    throw new Error(`${fc.defaultReportMessage(details as fc.RunDetails<unknown>)}\nCaused by: ${cause}`);
  }
  if (SECONDS > 0) console.log(`        ${details.numRuns} cases`);
}

describe('fuzz: every decoder against mutated and arbitrary input', function () {
  // Under `npm run fuzz` each property runs for its share of FUZZ_SECONDS, and shrinking a
  // failure can take longer still.
  this.timeout(SECONDS > 0 ? 0 : 60_000);

  for (const target of TARGETS) {
    describe(target.name, () => {
      it('decodes valid input to what was encoded, under any chunking', () => {
        assertProperty(
          fc.property(target.config.chain((config) => fc.tuple(fc.constant(config), target.valid(config))), chunkingArbitrary, ([config, input], chunking) => {
            const result = decode(target.decoder(config, false), chunkInput(input.wire, chunking));
            if (result.error !== undefined) throw result.error;
            assert.ok(result.completed);
            assert.deepEqual(result.values.map(target.comparable), input.values);
          }),
        );
      });

      it('withstands mutated valid input: typed errors only, the same whole and chunked, within its limits', () => {
        const mutated = target.config.chain((config) =>
          fc.tuple(fc.constant(config), target.valid(config), fc.array(mutationArbitrary, { minLength: 1, maxLength: 6 })),
        );
        assertProperty(
          fc.property(mutated, fc.boolean(), chunkingArbitrary, ([config, input, mutations], small, chunking) => {
            assertWithstands(target, config, small, mutations.reduce(mutate, input.wire), chunking);
          }),
        );
      });

      it('withstands arbitrary bytes: typed errors only, the same whole and chunked, within its limits', () => {
        assertProperty(
          fc.property(target.config, arbitraryInput, fc.boolean(), chunkingArbitrary, (config, bytes, small, chunking) => {
            assertWithstands(target, config, small, bytes, chunking);
          }),
        );
      });
    });
  }
});
