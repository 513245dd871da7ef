import { Buffer } from 'node:buffer';

import { view } from './buffer-view';

/**
 * Copies the first `count` bytes of `source` into `target` at `offset`. TypedArray#set, a V8
 * builtin, copies a whole piece several times faster than Buffer#copy's native call; a short
 * part of one is copied in JS rather than through a view made for it.
 */
function copyInto(target: Buffer, offset: number, source: Buffer, count: number): void {
  if (count === source.length) {
    target.set(source, offset);
  } else if (count <= 64) {
    for (let index = 0; index < count; index++) target[offset + index] = source[index]!;
  } else {
    source.copy(target, offset, 0, count);
  }
}

/**
 * The bytes of one unfinished frame, held as subarrays of the chunks they arrived in: nothing is
 * copied while the frame is incomplete, and it is joined (one copy) only when it completes.
 * Scanning the next chunk never rescans these bytes, so a long frame in tiny chunks stays linear.
 */
export class PendingBytes {
  private pieces: Buffer[] = [];
  length = 0;

  append(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.length += piece.length;
  }

  lastByte(): number {
    const last = this.pieces[this.pieces.length - 1];
    return last === undefined ? -1 : last[last.length - 1]!;
  }

  /**
   * The first `length` bytes of (pending bytes ++ `chunk`), then forgets the pending bytes.
   * Zero-copy when those bytes lie in one piece (or all in `chunk`), otherwise one exact-sized copy.
   */
  take(length: number, chunk?: Buffer): Buffer {
    const joined = this.peek(length, chunk);
    this.clear();
    return joined;
  }

  /** What take() would return, without forgetting anything. */
  peek(length: number, chunk?: Buffer): Buffer {
    const first = this.pieces[0];
    let joined: Buffer;
    if (first === undefined) {
      joined = view(chunk!, 0, length);
    } else if (length <= first.length) {
      joined = view(first, 0, length);
    } else {
      joined = Buffer.allocUnsafe(length);
      let written = 0;
      for (const piece of this.pieces) {
        const count = Math.min(piece.length, length - written);
        copyInto(joined, written, piece, count);
        written += count;
        if (written === length) break;
      }
      if (written < length) copyInto(joined, written, chunk!, length - written);
    }
    return joined;
  }

  /** The byte at `index` of (pending bytes ++ `chunk`). */
  byteAt(index: number, chunk?: Buffer): number {
    for (const piece of this.pieces) {
      if (index < piece.length) return piece[index]!;
      index -= piece.length;
    }
    return chunk === undefined ? -1 : chunk[index]!;
  }

  clear(): void {
    if (this.length === 0) return;
    this.pieces = [];
    this.length = 0;
  }
}
