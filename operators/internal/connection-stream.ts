import { Duplex } from 'node:stream';

import { Subscription } from 'rxjs';

import type { Connection } from '../../lib/connection';

/**
 * A connection's raw bytes as a node:stream Duplex, which is what node:tls and node:zlib work on.
 * Backpressure passes through in both directions: when the stream's reader stops taking input,
 * the connection stops reading (and TCP slows the peer); when the connection's output is above
 * its high-water mark, a write here completes only once it has drained.
 */
export class ConnectionStream extends Duplex {
  // Created before subscribing: a connection that is already closed answers during subscribe().
  private readonly subscriptions = new Subscription();
  /** Reading was paused because push() said the stream's buffer is full. */
  private pausedForReader = false;
  /** The writer has ended: the connection is closing gracefully and must be left to finish. */
  private closeRequested = false;

  constructor(private readonly conn: Connection) {
    super({ allowHalfOpen: true });
    this.subscriptions.add(conn.input$.subscribe({
      next: (chunk) => {
        if (!this.push(chunk) && !this.pausedForReader) {
          this.pausedForReader = true;
          conn.pause();
        }
      },
      error: (error: Error) => this.destroy(error),
      complete: () => this.push(null),
    }));
    // Once the connection is gone nothing more can be read or written: end the stream with its error.
    this.subscriptions.add(conn.closed$.subscribe(({ error }) => this.destroy(error)));
  }

  override _read(): void {
    if (!this.pausedForReader) return;
    this.pausedForReader = false;
    this.conn.resume();
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    let belowHighWaterMark = true;
    for (const { chunk } of chunks) belowHighWaterMark = this.conn.write(chunk);
    if (belowHighWaterMark || this.conn.isClosed) {
      callback();
      return;
    }
    // Hold the writer until the output drains; drain$ completes when the connection closes.
    const waiting = new Subscription();
    waiting.add(
      this.conn.drain$.subscribe({
        next: () => {
          waiting.unsubscribe();
          callback();
        },
        complete: () => callback(),
      }),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.closeRequested = true;
    this.conn.close();
    callback();
  }

  /**
   * Destroyed with an error, or abandoned before the writer ended (a failed TLS handshake): the
   * connection goes too. Destroyed after the writer ended (streams destroy themselves once both
   * sides are done): the connection's graceful close is under way and must not lose its output.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.subscriptions.unsubscribe();
    if (error !== null || !this.closeRequested) this.conn.destroy(error ?? undefined);
    callback(error);
  }
}
