import { Buffer } from 'node:buffer';

/**
 * The bytes of a protocol line cut by a chunk boundary, for a decoder that reads such a line once
 * it is whole and keeps nothing of it (a length, a count, a number, a decoded string): copied into
 * one reusable Buffer, so that a cut line costs no allocation. The Buffer grows to the longest line
 * held, which the decoder's line limit bounds.
 */
export class HeldLine {
  bytes: Buffer = Buffer.alloc(64);
  length = 0;

  /** Appends bytes [start, end) of `chunk`. */
  append(chunk: Buffer, start: number, end: number): void {
    const count = end - start;
    const length = this.length + count;
    if (length > this.bytes.length) {
      const grown = Buffer.alloc(Math.max(length, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    const { bytes } = this;
    if (count > 32) {
      bytes.set(chunk.subarray(start, end), this.length);
    } else {
      for (let index = start, at = this.length; index < end; index++, at++) bytes[at] = chunk[index]!;
    }
    this.length = length;
  }

  lastByte(): number {
    return this.length > 0 ? this.bytes[this.length - 1]! : -1;
  }

  clear(): void {
    this.length = 0;
  }
}
