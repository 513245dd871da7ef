import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import {
  delimited,
  encodeDelimited,
  encodeLengthPrefixed,
  encodeLines,
  encodeVarintPrefixed,
  fixed,
  FramingError,
  lengthPrefixed,
  lines,
  varintPrefixed,
  type LengthPrefixOptions,
} from '../../operators';
import { bytesFrom, chunk, chunkingArbitrary, decode, feedBytewise, typedErrorCode, unpooled } from './support';

const RUNS = { numRuns: 400 };

/** What decoding `bytes` must give: the frames, then the error code a decoder must end with (if any). */
interface Expected {
  readonly frames: Buffer[];
  readonly error?: string;
}

function assertDecodes(actual: { values: Buffer[]; error: unknown; completed: boolean }, expected: Expected): void {
  assert.deepEqual(actual.values.map((frame) => frame.toString('hex')), expected.frames.map((frame) => frame.toString('hex')));
  assert.equal(typedErrorCode(actual.error), expected.error);
  assert.equal(actual.completed, expected.error === undefined);
}

async function encodeAll<T>(frames: readonly T[], encoder: (source: ReturnType<typeof from<readonly T[]>>) => ReturnType<typeof from<Buffer[]>>): Promise<Buffer> {
  return Buffer.concat(await lastValueFrom(encoder(from(frames)).pipe(toArray())));
}

describe('operators: delimited and lines', () => {
  // Bytes that collide with the delimiters below as often as possible.
  const alphabet = [0x0a, 0x0d, 0x61, 0x62];
  const delimiterArbitrary = bytesFrom(alphabet, 3).filter((delimiter) => delimiter.length > 0);

  /** The obvious whole-input splitter, as the model; `offset` is where the frame in error starts. */
  function referenceDelimited(bytes: Buffer, delimiter: Buffer, maxLength: number): Expected & { offset?: number } {
    const frames: Buffer[] = [];
    let start = 0;
    for (;;) {
      const found = bytes.indexOf(delimiter, start);
      if (found < 0) {
        const rest = bytes.length - start;
        if (rest === 0) return { frames };
        return { frames, error: rest > maxLength + delimiter.length - 1 ? 'FRAME_TOO_LONG' : 'TRUNCATED', offset: start };
      }
      if (found - start > maxLength) return { frames, error: 'FRAME_TOO_LONG', offset: start };
      frames.push(bytes.subarray(start, found));
      start = found + delimiter.length;
    }
  }

  it('decodes any bytes as the reference splitter does, under any chunking', () => {
    fc.assert(
      fc.property(bytesFrom(alphabet, 80), delimiterArbitrary, fc.integer({ min: 0, max: 12 }), chunkingArbitrary, (bytes, delimiter, maxLength, chunking) => {
        const expected = referenceDelimited(Buffer.from(bytes), Buffer.from(delimiter), maxLength);
        assertDecodes(decode(delimited(delimiter, { maxLength }), chunk(bytes, chunking)), expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('emits each frame as Buffer#toString decodes it, for any bytes (valid UTF-8 or not), any encoding and any chunking', () => {
    // ASCII; valid 2-, 3- and 4-byte characters; lone leads and continuations; an encoded surrogate;
    // an overlong '\n'; bytes never valid in UTF-8.
    const pieces = ['0a', '0d', '61', 'c3a9', 'e282ac', 'f09f9880', 'c3', 'e282', 'f09f', '80', 'a9', 'eda080', 'c08a', 'ff'].map((hex) => Buffer.from(hex, 'hex'));
    const textArbitrary = fc.array(fc.constantFrom(...pieces), { maxLength: 40 }).map((parts) => Uint8Array.from(Buffer.concat(parts)));
    const delimiterArbitrary = fc.oneof(fc.constantFrom('\n', '\r\n', 'a\n', '\n\n'), bytesFrom([0x0a, 0x0d, 0x61, 0xa9, 0x8a, 0xc3], 3).filter((bytes) => bytes.length > 0));
    const encodingArbitrary = fc.constantFrom<BufferEncoding>('utf8', 'utf-8', 'UTF8' as BufferEncoding, 'latin1', 'binary', 'ascii', 'hex', 'utf16le');
    const maxLengthArbitrary = fc.oneof(fc.integer({ min: 0, max: 24 }), fc.constant(1000));
    fc.assert(
      fc.property(textArbitrary, delimiterArbitrary, encodingArbitrary, maxLengthArbitrary, chunkingArbitrary, (bytes, delimiter, encoding, maxLength, chunking) => {
        const expected = referenceDelimited(Buffer.from(bytes), Buffer.from(delimiter), maxLength);
        const actual = decode(delimited(delimiter, { maxLength, encoding }), chunk(bytes, chunking));
        assert.deepEqual(actual.values, expected.frames.map((frame) => frame.toString(encoding)));
        assert.equal(typedErrorCode(actual.error), expected.error);
        assert.equal((actual.error as FramingError | undefined)?.offset, expected.offset);
        assert.equal(actual.completed, expected.error === undefined);
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips any frames through encodeDelimited, under any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(bytesFrom(alphabet, 12), { maxLength: 12 }), delimiterArbitrary, chunkingArbitrary, async (candidates, delimiter, chunking) => {
        // Only frames in which the delimiter does not occur before the appended one can round-trip.
        const frames = candidates.filter((frame) => Buffer.concat([frame, delimiter]).indexOf(delimiter) === frame.length);
        const encoded = await encodeAll(frames, (source) => source.pipe(encodeDelimited(delimiter)));
        assertDecodes(decode(delimited(delimiter), chunk(encoded, chunking)), { frames: frames.map((frame) => Buffer.from(frame)) });
      }),
      RUNS,
    );
  });

  it('encodeDelimited refuses exactly the frames that would not decode back to themselves', async () => {
    await fc.assert(
      fc.asyncProperty(bytesFrom(alphabet, 12), delimiterArbitrary, async (frame, delimiter) => {
        const roundTrips = Buffer.concat([frame, delimiter]).indexOf(delimiter) === frame.length;
        const outcome = await lastValueFrom(from([frame]).pipe(encodeDelimited(delimiter))).then(
          (encoded) => encoded,
          (error: unknown) => error,
        );
        if (roundTrips) assert.deepEqual(outcome, Buffer.concat([frame, delimiter]));
        else assert.equal(typedErrorCode(outcome), 'DELIMITER_IN_FRAME');
      }),
      RUNS,
    );
  });

  it('never holds more than maxLength + delimiter length - 1 unframed bytes', () => {
    // latin1 frames have one character per byte, so their lengths count bytes too.
    fc.assert(
      fc.property(bytesFrom(alphabet, 60), delimiterArbitrary, fc.integer({ min: 0, max: 8 }), fc.constantFrom(undefined, 'latin1' as const), (bytes, delimiter, maxLength, encoding) => {
        feedBytewise(delimited(delimiter, { maxLength, encoding }), bytes, (fed, frames, failed) => {
          if (failed) return;
          const framed = frames.reduce((sum, frame) => sum + frame.length + delimiter.length, 0);
          assert.ok(fed - framed <= maxLength + delimiter.length - 1, `holds ${fed - framed} bytes`);
        });
      }),
      RUNS,
    );
  });

  it('splits on \\n by default and on \\r\\n when asked, also when the CRLF is split', () => {
    assertDecodes(decode(lines(), [Buffer.from('a\r\nb\n\nc\n')]), { frames: ['a\r', 'b', '', 'c'].map((text) => Buffer.from(text)) });
    assertDecodes(decode(lines({ delimiter: '\r\n' }), [Buffer.from('a\r'), Buffer.from('\nb\nc\r'), Buffer.from('\n')]), {
      frames: [Buffer.from('a'), Buffer.from('b\nc')],
    });
  });

  it('emits strings with an encoding, including characters whose bytes arrive in different chunks', () => {
    const text = Buffer.from('żółw\nпривет\n');
    const result = decode(lines({ encoding: 'utf8' }), chunk(text, { kind: 'bytes' }));
    assert.deepEqual(result.values, ['żółw', 'привет']);
  });

  it('emits zero-copy subarrays for frames inside one chunk, and copies a frame that spans chunks', () => {
    const first = unpooled('one\ntw');
    const second = unpooled('o\nthree\n');
    const { values } = decode(lines(), [first, second]);
    assert.equal(values[0]!.buffer, first.buffer);
    assert.notEqual(values[1]!.buffer, first.buffer);
    assert.notEqual(values[1]!.buffer, second.buffer);
    assert.equal(values[2]!.buffer, second.buffer);
  });

  it('names the offset of a frame that is too long, before its delimiter arrives', () => {
    const result = decode(lines({ maxLength: 4 }), [Buffer.from('ok\nwaytoolong')]);
    assert.deepEqual(result.values.map(String), ['ok']);
    assert.ok(result.error instanceof FramingError);
    assert.equal(result.error.code, 'FRAME_TOO_LONG');
    assert.equal(result.error.offset, 3);
    assert.equal(result.error.limit, 4);
  });

  it('errors with TRUNCATED when the input ends inside a line', () => {
    assertDecodes(decode(lines(), [Buffer.from('a\nb')]), { frames: [Buffer.from('a')], error: 'TRUNCATED' });
  });

  it('encodeLines terminates strings and Buffers', async () => {
    const encoded = await encodeAll(['a', Buffer.from('b')], (source) => source.pipe(encodeLines({ delimiter: '\r\n' })));
    assert.equal(encoded.toString(), 'a\r\nb\r\n');
  });

  it('rejects an empty delimiter', () => {
    assert.throws(() => delimited(''), RangeError);
  });
});

describe('operators: lengthPrefixed', () => {
  const optionsArbitrary: fc.Arbitrary<LengthPrefixOptions> = fc.record({
    bytes: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    endian: fc.constantFrom('be' as const, 'le' as const),
    lengthIncludesHeader: fc.boolean(),
  });

  /** The obvious whole-input parser, as the model. */
  function referenceLengthPrefixed(bytes: Buffer, { bytes: size = 4, endian = 'be', lengthIncludesHeader = false }: LengthPrefixOptions, maxLength: number): Expected {
    const frames: Buffer[] = [];
    let position = 0;
    while (position < bytes.length) {
      if (bytes.length - position < size) return { frames, error: 'TRUNCATED' };
      const header = bytes.subarray(position, position + size);
      const length = Number(endian === 'be' ? BigInt('0x' + header.toString('hex')) : BigInt('0x' + Buffer.from(header).reverse().toString('hex')));
      const payloadLength = length - (lengthIncludesHeader ? size : 0);
      if (payloadLength < 0) return { frames, error: 'INVALID_LENGTH' };
      if (payloadLength > maxLength) return { frames, error: 'FRAME_TOO_LONG' };
      position += size;
      if (bytes.length - position < payloadLength) return { frames, error: 'TRUNCATED' };
      frames.push(bytes.subarray(position, position + payloadLength));
      position += payloadLength;
    }
    return { frames };
  }

  it('round-trips any frames through encodeLengthPrefixed, for every header format and chunking', async () => {
    await fc.assert(
      fc.asyncProperty(optionsArbitrary, fc.array(fc.uint8Array({ maxLength: 250 }), { maxLength: 10 }), chunkingArbitrary, async (options, frames, chunking) => {
        const encoded = await encodeAll(frames, (source) => source.pipe(encodeLengthPrefixed(options)));
        assertDecodes(decode(lengthPrefixed(options), chunk(encoded, chunking)), { frames: frames.map((frame) => Buffer.from(frame)) });
      }),
      RUNS,
    );
  });

  it('decodes any bytes as the reference parser does, under any chunking', () => {
    fc.assert(
      fc.property(optionsArbitrary, fc.integer({ min: 0, max: 16 }), fc.uint8Array({ maxLength: 60 }).map((bytes) => bytes.map((byte) => byte % 24)), chunkingArbitrary, (options, maxLength, bytes, chunking) => {
        const expected = referenceLengthPrefixed(Buffer.from(bytes), options, maxLength);
        assertDecodes(decode(lengthPrefixed({ ...options, maxLength }), chunk(bytes, chunking)), expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('never holds more than one header and maxLength payload bytes', () => {
    fc.assert(
      fc.property(optionsArbitrary, fc.integer({ min: 0, max: 16 }), fc.uint8Array({ maxLength: 60 }), (options, maxLength, bytes) => {
        const headerSize = options.bytes!;
        feedBytewise(lengthPrefixed({ ...options, maxLength }), bytes, (fed, frames, failed) => {
          if (failed) return;
          const framed = frames.reduce((sum, frame) => sum + frame.length + headerSize, 0);
          assert.ok(fed - framed <= headerSize + maxLength, `holds ${fed - framed} bytes`);
        });
      }),
      RUNS,
    );
  });

  it('errors as soon as a header announces more than maxLength, naming the offset', () => {
    const result = decode(lengthPrefixed({ maxLength: 3 }), [Buffer.from([0, 0, 0, 1, 9, 0, 0, 0, 4])]);
    assert.deepEqual(result.values, [Buffer.from([9])]);
    assert.ok(result.error instanceof FramingError);
    assert.equal(result.error.code, 'FRAME_TOO_LONG');
    assert.equal(result.error.offset, 5);
  });

  it('reads 8-byte lengths in both byte orders and refuses lengths past 2^53', () => {
    const be = Buffer.from([0, 0, 0, 0, 0, 0, 0, 2, 7, 8]);
    const le = Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 7, 8]);
    assert.deepEqual(decode(lengthPrefixed({ bytes: 8 }), [be]).values, [Buffer.from([7, 8])]);
    assert.deepEqual(decode(lengthPrefixed({ bytes: 8, endian: 'le' }), [le]).values, [Buffer.from([7, 8])]);
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert.equal(typedErrorCode(decode(lengthPrefixed({ bytes: 8 }), [huge]).error), 'FRAME_TOO_LONG');
  });

  it('refuses a length shorter than its header when the length includes it', () => {
    assert.equal(typedErrorCode(decode(lengthPrefixed({ bytes: 2, lengthIncludesHeader: true }), [Buffer.from([0, 1])]).error), 'INVALID_LENGTH');
  });

  it('emits zero-copy payloads when they lie in one chunk', () => {
    const input = unpooled(Uint8Array.from([0, 0, 0, 2, 1, 2, 0, 0, 0, 0]));
    const { values } = decode(lengthPrefixed(), [input]);
    assert.equal(values.length, 2);
    for (const frame of values) assert.equal(frame.buffer, input.buffer);
  });

  it('encoder refuses payloads over maxLength; options are validated', async () => {
    await assert.rejects(lastValueFrom(from([Buffer.alloc(4)]).pipe(encodeLengthPrefixed({ maxLength: 3 }))), FramingError);
    assert.throws(() => lengthPrefixed({ bytes: 1, maxLength: 256 }), RangeError);
    assert.throws(() => lengthPrefixed({ bytes: 3 as 4 }), RangeError);
  });
});

describe('operators: varintPrefixed', () => {
  /** The obvious whole-input LEB128 parser, as the model. */
  function referenceVarintPrefixed(bytes: Buffer, maxLength: number): Expected {
    const frames: Buffer[] = [];
    let position = 0;
    while (position < bytes.length) {
      let length = 0;
      let shift = 0;
      for (;;) {
        if (position === bytes.length) return { frames, error: 'TRUNCATED' };
        const byte = bytes[position++]!;
        length += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if (length > maxLength) return { frames, error: 'FRAME_TOO_LONG' };
        if (byte < 0x80) break;
        if (shift === 70) return { frames, error: 'INVALID_LENGTH' };
      }
      if (bytes.length - position < length) return { frames, error: 'TRUNCATED' };
      frames.push(bytes.subarray(position, position + length));
      position += length;
    }
    return { frames };
  }

  it('round-trips any frames through encodeVarintPrefixed, under any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), chunkingArbitrary, async (frames, chunking) => {
        const encoded = await encodeAll(frames, (source) => source.pipe(encodeVarintPrefixed()));
        assertDecodes(decode(varintPrefixed(), chunk(encoded, chunking)), { frames: frames.map((frame) => Buffer.from(frame)) });
      }),
      RUNS,
    );
  });

  it('decodes any bytes as the reference parser does, under any chunking', () => {
    const byteArbitrary = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom(0x80, 0x81, 0xff));
    fc.assert(
      fc.property(fc.array(byteArbitrary, { maxLength: 60 }).map((bytes) => Uint8Array.from(bytes)), fc.integer({ min: 0, max: 300 }), chunkingArbitrary, (bytes, maxLength, chunking) => {
        assertDecodes(decode(varintPrefixed({ maxLength }), chunk(bytes, chunking)), referenceVarintPrefixed(Buffer.from(bytes), maxLength));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes the LEB128 bytes protobuf does', async () => {
    const encoded = await encodeAll([Buffer.alloc(300, 1)], (source) => source.pipe(encodeVarintPrefixed()));
    assert.deepEqual([...encoded.subarray(0, 2)], [0xac, 0x02]);
  });

  it('errors on a too-long frame as soon as the varint shows it, and on an 11-byte varint', () => {
    const tooLong = decode(varintPrefixed({ maxLength: 100 }), [Buffer.from([0x80, 0x01])]);
    assert.equal(typedErrorCode(tooLong.error), 'FRAME_TOO_LONG');
    const padded = decode(varintPrefixed(), [Buffer.from([...Array<number>(10).fill(0x80), 0])]);
    assert.equal(typedErrorCode(padded.error), 'INVALID_LENGTH');
  });
});

describe('operators: fixed', () => {
  it('cuts any bytes into frames of the size, under any chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 1, max: 9 }), chunkingArbitrary, (bytes, size, chunking) => {
        const whole = Math.floor(bytes.length / size) * size;
        const frames: Buffer[] = [];
        for (let start = 0; start < whole; start += size) frames.push(Buffer.from(bytes.subarray(start, start + size)));
        assertDecodes(decode(fixed(size), chunk(bytes, chunking)), { frames, ...(whole < bytes.length ? { error: 'TRUNCATED' } : {}) });
      }),
      RUNS,
    );
  });

  it('rejects a size that is not a positive integer', () => {
    assert.throws(() => fixed(0), RangeError);
    assert.throws(() => fixed(1.5), RangeError);
  });
});
