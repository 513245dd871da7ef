import { Buffer } from 'node:buffer';

type ViewConstructor = new (memory: ArrayBufferLike, byteOffset: number, length: number) => Buffer;

/**
 * Node's own Buffer class (FastBuffer), which it publishes as Buffer[Symbol.species] so that
 * typed-array methods make Buffers. Constructing it directly makes the same genuine Buffer as
 * chunk.subarray() does, in about half the time: subarray() first looks the species up, on the hot
 * path of every decoder. Checked once, with subarray() as the fallback.
 */
const species: unknown = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species];
const FastBuffer = typeof species === 'function' && Object.getPrototypeOf(new (species as ViewConstructor)(new ArrayBuffer(0), 0, 0)) === Buffer.prototype
  ? (species as ViewConstructor)
  : undefined;

const bufferGetter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'buffer')!.get!;

/**
 * chunk.buffer, faster: V8 does not inline that getter, and reaches it through a generic property
 * load (16 ns); called directly it costs 10 ns. Decoders read it once for each chunk.
 */
export const bufferOf = (chunk: Uint8Array): ArrayBufferLike => bufferGetter.call(chunk) as ArrayBufferLike;

/** chunk.subarray(start, end), faster. */
export const view: (chunk: Buffer, start: number, end: number) => Buffer = FastBuffer === undefined
  ? (chunk, start, end) => chunk.subarray(start, end)
  : (chunk, start, end) => new FastBuffer(bufferOf(chunk), chunk.byteOffset + start, end - start);

/**
 * A Buffer over `length` bytes of `memory` from `byteOffset`: view() for decoders that take many
 * views of one chunk, reading its buffer and byteOffset once per chunk: reading the buffer costs
 * about as much as constructing the view.
 */
export const viewAt: (memory: ArrayBufferLike, byteOffset: number, length: number) => Buffer = FastBuffer === undefined
  ? (memory, byteOffset, length) => Buffer.from(memory, byteOffset, length)
  : (memory, byteOffset, length) => new FastBuffer(memory, byteOffset, length);

/** Copies `count` bytes of `source` from `sourceStart` into `target` at `offset`: in JS when short, where a builtin's call costs more. */
export function copyBytes(target: Buffer, offset: number, source: Buffer, sourceStart: number, count: number): void {
  if (count <= 32) {
    for (let index = 0; index < count; index++) target[offset + index] = source[sourceStart + index]!;
  } else if (sourceStart === 0 && count === source.length) {
    target.set(source, offset);
  } else {
    target.set(view(source, sourceStart, sourceStart + count), offset);
  }
}
