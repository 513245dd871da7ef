import type { Duplex } from 'node:stream';

import type { SocketAddress } from '../lib/address';
import { Connection, type ConnectionLimits, LimitedOwner } from '../lib/connection';
import { RxloopError } from '../lib/errors';
import { ConnectionStream } from './internal/connection-stream';

/**
 * How a connection's bytes are translated: TLS (tlsServer, tlsClient), compression (deflate, gzip),
 * or any node:stream transform of a byte stream.
 */
export interface Translator<S extends Duplex = Duplex> {
  /**
   * Wraps `raw`, the connection's bytes as a Duplex, in the translating stream: what the result
   * reads is the decoded input, what is written to it is encoded onto `raw`.
   */
  open(raw: Duplex): S;
  /** The error the translated connection reports for an error of its stream (default: the error itself). */
  describeError?(error: Error, stream: S): Error;
}

/** The translated connection's limits; by default those of the connection underneath. */
export type TranslateOptions = ConnectionLimits;

/** A translator failed: a TLS handshake that did not complete, input that does not decompress. */
export class TranslationError extends RxloopError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, code);
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * A connection seen through a translator. Its transport is the translating stream, which in turn
 * reads and writes the connection underneath (`outer`); it keeps the whole Connection contract.
 */
export class TranslatedConnection<S extends Duplex = Duplex> extends Connection {
  /** The translating stream: for TLS a tls.TLSSocket (alpnProtocol, servername, getPeerCertificate(), ...). */
  readonly stream: S;
  private streamError: Error | null = null;
  private outerError: Error | null = null;
  // Closed once both are: the translation is done and the connection underneath has closed.
  private streamClosed = false;
  private outerClosed = false;

  constructor(
    /** The connection whose bytes are translated. */
    readonly outer: Connection,
    translator: Translator<S>,
    options: TranslateOptions,
  ) {
    // The same connection, seen decoded: it keeps its id.
    super(outer.id, new LimitedOwner({ ...outer.limits, ...options }));
    const stream = translator.open(new ConnectionStream(outer));
    this.stream = stream;
    outer.closed$.subscribe(({ error }) => {
      this.outerError = error ?? null;
      this.outerClosed = true;
      this.closeWhenBothAre();
    });
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    stream.on('end', () => this.receiveEnd());
    stream.on('error', (error: Error) => {
      this.streamError ??= translator.describeError?.(error, stream) ?? error;
    });
    stream.on('close', () => {
      this.streamClosed = true;
      this.closeWhenBothAre();
    });
  }

  get local(): SocketAddress {
    return this.outer.local;
  }

  get remote(): SocketAddress {
    return this.outer.remote;
  }

  protected setTransportReading(on: boolean): void {
    if (on) this.stream.resume();
    else this.stream.pause();
  }

  protected destroyTransport(): void {
    this.stream.destroy();
    this.outer.destroy();
  }

  /**
   * A microtask, so that a turn's writes are translated together and reach the outer
   * connection's queue within the same turn, leaving with its next flush (not a turn later).
   */
  protected scheduleFlush(): void {
    queueMicrotask(this.flushToStream);
  }

  private closeWhenBothAre(): void {
    if (this.streamClosed && this.outerClosed) this.transportClosed(this.streamError ?? this.outerError);
  }

  private readonly flushToStream = (): void => {
    if (this.isClosed) return;
    const stream = this.stream;
    const chunks = this.takeOutput();
    if (chunks !== null) {
      const last = chunks.length - 1;
      if (last > 0) stream.cork();
      for (let i = 0; i < last; i++) stream.write(chunks[i]);
      // Writes complete in order: when the last is done, so are the others. 'drain' would not
      // do — it comes only after a write that went over the stream's own high-water mark.
      stream.write(chunks[last], this.streamWrote);
      if (last > 0) stream.uncork();
    }
    if (this.takeShutdown()) stream.end();
    this.transportQueued(stream.writableLength);
  };

  private readonly streamWrote = (): void => {
    if (!this.isClosed) this.transportQueued(this.stream.writableLength);
  };
}

/**
 * `conn` seen through `translator`: a Connection whose input$ is the decoded input and whose writes
 * are encoded, with the same contract (backpressure, half-close, closed$). Closing it closes the
 * translation first (a TLS close_notify, the end of a gzip stream), then `conn`.
 *
 * ```ts
 * connections$('tcp://0.0.0.0:8443').pipe(
 *   map((conn) => translate(conn, tlsServer({ key, cert }))),
 *   mergeMap((secure) => secure.input$.pipe(secure.sink())),
 * )
 * ```
 */
export function translate<S extends Duplex>(
  conn: Connection,
  translator: Translator<S>,
  options: TranslateOptions = {},
): TranslatedConnection<S> {
  return new TranslatedConnection(conn, translator, options);
}
