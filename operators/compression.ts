import { Duplex } from 'node:stream';
import * as zlib from 'node:zlib';

import { TranslationError, type Translator } from './translate';

type Compressor = zlib.Deflate | zlib.Gzip;
type Decompressor = zlib.Inflate | zlib.Gunzip;

/**
 * Compression in both directions over a raw byte stream: what is written is compressed onto it,
 * what it carries is decompressed for the reader. Each batch of writes ends with a sync flush,
 * so the peer can decode everything written so far: a request/response protocol keeps working.
 */
class CompressionStream extends Duplex {
  constructor(
    private readonly raw: Duplex,
    private readonly compressor: Compressor,
    private readonly decompressor: Decompressor,
  ) {
    super({ allowHalfOpen: true });
    raw.pipe(decompressor);
    decompressor.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) decompressor.pause();
    });
    decompressor.on('end', () => this.push(null));
    compressor.pipe(raw);
    for (const stream of [raw, compressor, decompressor]) stream.on('error', (error: Error) => this.destroy(error));
    // The connection underneath is gone: nothing more can be read or written.
    raw.on('close', () => {
      compressor.destroy();
      decompressor.destroy();
      this.destroy();
    });
  }

  override _read(): void {
    this.decompressor.resume();
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    for (const { chunk } of chunks) this.compressor.write(chunk);
    // The flush completes once the compressed bytes are taken downstream: that is the backpressure.
    this.compressor.flush(zlib.constants.Z_SYNC_FLUSH, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Ending the compressor writes the stream's trailer; the pipe then ends `raw`.
    this.compressor.end(() => callback());
  }

  /**
   * After a graceful end (both sides done) the compressor may still be handing its last bytes
   * to `raw`: leave it to finish, and `raw`'s close to clean up. Otherwise stop everything.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error !== null || !this.writableFinished) {
      this.compressor.destroy();
      this.decompressor.destroy();
      this.raw.destroy(error ?? undefined);
    }
    callback(error);
  }
}

function describeZlibError(error: Error): Error {
  if (!(error as NodeJS.ErrnoException).code?.startsWith('Z_')) return error;
  return new TranslationError('ERR_RXLOOP_DECOMPRESS', `cannot decompress the input: ${error.message}`, { cause: error });
}

/**
 * zlib deflate streams (RFC 1950) both ways, as a translator. Input that does not inflate
 * destroys the connection with a TranslationError (ERR_RXLOOP_DECOMPRESS).
 */
export function deflate(options: zlib.ZlibOptions = {}): Translator {
  return {
    open: (raw) => new CompressionStream(raw, zlib.createDeflate(options), zlib.createInflate(options)),
    describeError: describeZlibError,
  };
}

/** gzip streams (RFC 1952) both ways, as a translator; like deflate() otherwise. */
export function gzip(options: zlib.ZlibOptions = {}): Translator {
  return {
    open: (raw) => new CompressionStream(raw, zlib.createGzip(options), zlib.createGunzip(options)),
    describeError: describeZlibError,
  };
}
