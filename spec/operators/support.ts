import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { from, Subject, type OperatorFunction } from 'rxjs';
import { FramingError, RespProtocolError } from '../../operators';
import type { StreamDecoder } from '../../operators/internal/decoder-operator';
import { PendingBytes } from '../../operators/internal/pending-bytes';

/** How a byte stream is cut into chunks: whole, one byte at a time, or cyclic chunk sizes (with empty chunks). */
export type Chunking = { readonly kind: 'whole' } | { readonly kind: 'bytes' } | { readonly kind: 'sizes'; readonly sizes: readonly number[] };

export const chunkingArbitrary: fc.Arbitrary<Chunking> = fc.oneof(
  fc.constant<Chunking>({ kind: 'whole' }),
  fc.constant<Chunking>({ kind: 'bytes' }),
  fc.record({ kind: fc.constant('sizes' as const), sizes: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 8 }) }),
);

/** Cuts `bytes` into chunks; each chunk is its own copy, so nothing can rely on neighbouring memory. */
export function chunk(bytes: Uint8Array, chunking: Chunking): Buffer[] {
  const chunks: Buffer[] = [];
  if (chunking.kind === 'whole') return [Buffer.from(bytes)];
  if (chunking.kind === 'bytes') {
    for (const byte of bytes) chunks.push(Buffer.from([byte]));
    return chunks;
  }
  const sizes = chunking.sizes.some((size) => size > 0) ? chunking.sizes : [1];
  for (let start = 0, index = 0; start < bytes.length; index++) {
    const size = sizes[index % sizes.length]!;
    chunks.push(Buffer.from(bytes.subarray(start, start + size)));
    start += size;
  }
  return chunks;
}

export interface Decoded<T> {
  readonly values: T[];
  readonly error: unknown;
  readonly completed: boolean;
}

/** Runs chunks through an operator synchronously, collecting what it emits and how it ends. */
export function decode<T>(operator: OperatorFunction<Buffer, T>, chunks: readonly Buffer[]): Decoded<T> {
  const values: T[] = [];
  let error: unknown;
  let completed = false;
  from(chunks)
    .pipe(operator)
    .subscribe({
      next: (value) => values.push(value),
      error: (caught: unknown) => (error = caught),
      complete: () => (completed = true),
    });
  return { values, error, completed };
}

/** The error's code when it is one of the operators' typed errors; throws (failing the test) for anything else. */
export function typedErrorCode(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  if (error instanceof FramingError || error instanceof RespProtocolError) return error.code;
  throw new Error(`expected a FramingError or RespProtocolError, got ${String(error)}`);
}

/**
 * Feeds `bytes` one at a time, calling `check` after each with how many bytes went in and what came
 * out so far, until the decoder fails: for bounds on how much a decoder holds.
 */
export function feedBytewise<T>(operator: OperatorFunction<Buffer, T>, bytes: Uint8Array, check: (fed: number, values: readonly T[], failed: boolean) => void): void {
  const input = new Subject<Buffer>();
  const values: T[] = [];
  let failed = false;
  input.pipe(operator).subscribe({ next: (value) => values.push(value), error: () => (failed = true) });
  for (let index = 0; index < bytes.length && !failed; index++) {
    input.next(Buffer.from([bytes[index]!]));
    check(index + 1, values, failed);
  }
}

/**
 * Writes `bytes` to a parser one at a time, checking after each that it holds at most `bound` bytes,
 * until it fails, with a typed error only.
 */
export function assertHoldsAtMost(parser: StreamDecoder<unknown> & { heldBytes(): number }, bytes: Uint8Array, bound: number): void {
  const ignore = { next: () => undefined };
  try {
    for (const byte of bytes) {
      parser.write(Buffer.from([byte]), ignore);
      assert.ok(parser.heldBytes() <= bound, `holds ${parser.heldBytes()} bytes`);
    }
  } catch (error) {
    typedErrorCode(error);
  }
}

/** A Buffer with an ArrayBuffer of its own (Buffer.from pools small ones), for zero-copy checks. */
export function unpooled(content: string | Uint8Array): Buffer {
  const bytes = Buffer.from(content);
  const buffer = Buffer.alloc(bytes.length);
  bytes.copy(buffer);
  return buffer;
}

/** A byte alphabet that makes collisions with delimiters and protocol bytes likely. */
export function bytesFrom(alphabet: readonly number[], maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.array(fc.constantFrom(...alphabet), { maxLength }).map((bytes) => Uint8Array.from(bytes));
}

/**
 * Runs `work` and returns the most bytes any PendingBytes held meanwhile: every decoder keeps the
 * unfinished frame it buffers there, so this is what a decoder buffered at its fullest.
 */
export function mostPendingDuring(work: () => void): number {
  const append = PendingBytes.prototype.append;
  let most = 0;
  PendingBytes.prototype.append = function (this: PendingBytes, piece: Buffer): void {
    append.call(this, piece);
    most = Math.max(most, this.length);
  };
  try {
    work();
  } finally {
    PendingBytes.prototype.append = append;
  }
  return most;
}
