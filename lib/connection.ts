import { Observable, OperatorFunction, Subject, Subscriber } from 'rxjs';

import type { SocketAddress } from './address';

/** What may be written: Buffers and Uint8Arrays go out as they are, strings as UTF-8. */
export type Chunk = Buffer | Uint8Array | string;

export interface CloseReason {
  /**
   * 'end': both sides finished in order; 'destroy': destroy() was called; 'timeout': the peer
   * never completed a graceful close; 'error': a socket error, given in `error`.
   */
  readonly reason: 'end' | 'destroy' | 'timeout' | 'error';
  readonly error?: Error;
}

/** What a connection needs from the server that accepted it. */
export interface ConnectionOwner {
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  /** How long close() waits for the peer's FIN before destroying, in ms. */
  readonly closeTimeout: number;
  bytesIn: number;
  bytesOut: number;
  connectionClosed(conn: Connection): void;
}

// One number of flags rather than a field each: an idle connection should cost little memory.
const READING = 1; // the transport is reading
const USER_PAUSED = 2;
const OUTPUT_BLOCKED = 4; // queued output is above the high-water mark
const HOLDING = 8; // input arrived with nobody subscribed: it is kept, and reading waits
const INPUT_ENDED = 16;
const CLOSE_REQUESTED = 32;
const SHUTDOWN_SENT = 64;
const SCHEDULED = 128; // queued for this turn's flush
const CLOSED = 256;

/**
 * One connection, seen from JavaScript: an input stream, a write queue flushed once per loop
 * turn, and a lifecycle. The backends (native loop, node:net) subclass it.
 */
export abstract class Connection {
  private state = READING;
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private queuedBelow = 0; // accepted by the transport but not yet sent
  private subscribers: Subscriber<Buffer> | Subscriber<Buffer>[] | null = null;
  private held: Buffer[] | null = null;
  private inputError: Error | null = null;
  private input: Observable<Buffer> | null = null;
  private closeReason: CloseReason | null = null;
  private closeWatchers: Subscriber<CloseReason>[] | null = null;
  private closedObservable: Observable<CloseReason> | null = null;
  private drain: Subject<void> | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;

  constructor(
    /** Unique for the life of the process, across loops and threads; never the fd. */
    readonly id: number,
    protected readonly owner: ConnectionOwner,
  ) {}

  abstract readonly local: SocketAddress;
  abstract readonly remote: SocketAddress;

  protected abstract setTransportReading(on: boolean): void;
  protected abstract destroyTransport(): void;
  protected abstract scheduleFlush(): void;

  /**
   * The bytes the peer sends, in order; completes when the peer shuts its write side, errors on
   * a socket error. Input that arrives before the first subscription is kept for it (reading
   * waits meanwhile), so nothing is lost to a late subscriber.
   */
  get input$(): Observable<Buffer> {
    return (this.input ??= new Observable<Buffer>((subscriber) => this.subscribeInput(subscriber)));
  }

  /** Emits once, when the connection is fully closed, with the reason; replays to late subscribers. */
  get closed$(): Observable<CloseReason> {
    return (this.closedObservable ??= new Observable<CloseReason>((subscriber) => {
      if (this.closeReason) {
        subscriber.next(this.closeReason);
        subscriber.complete();
        return undefined;
      }
      (this.closeWatchers ??= []).push(subscriber);
      return () => {
        const watchers = this.closeWatchers;
        if (watchers) watchers.splice(watchers.indexOf(subscriber), 1);
      };
    }));
  }

  /** Emits each time queued output falls back to the low-water mark after write() returned false. */
  get drain$(): Observable<void> {
    return (this.drain ??= new Subject<void>()).asObservable();
  }

  /** Bytes written but not yet accepted by the kernel. */
  get writableLength(): number {
    return this.pendingBytes + this.queuedBelow;
  }

  get isClosed(): boolean {
    return (this.state & CLOSED) !== 0;
  }

  /**
   * Queues a chunk; everything queued in one loop turn goes out in a single writev. Returns false
   * once queued output is above the high-water mark (and then reading pauses until it drains),
   * or when the connection is closing or closed (the chunk is then dropped).
   */
  write(chunk: Chunk): boolean {
    if (this.state & (CLOSE_REQUESTED | CLOSED)) return false;
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk)
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (bytes.length > 0) {
      if (this.pending === null) this.pending = [bytes];
      else this.pending.push(bytes);
      this.pendingBytes += bytes.length;
      this.owner.bytesOut += bytes.length;
      this.schedule();
      this.checkBackpressure();
    }
    return (this.state & OUTPUT_BLOCKED) === 0;
  }

  /**
   * An operator that writes every value of its source to this connection. When the source
   * completes, the connection closes gracefully (unless `end: false`). When it errors, the
   * connection is destroyed with that error (reported in closed$) and the sink completes: one
   * connection's failure never reaches the server's stream.
   */
  sink(options: { end?: boolean } = {}): OperatorFunction<Chunk, never> {
    const end = options.end ?? true;
    return (source) =>
      new Observable<never>((subscriber) =>
        source.subscribe({
          next: (chunk) => {
            this.write(chunk);
          },
          error: (error: unknown) => {
            this.destroy(error instanceof Error ? error : new Error(String(error)));
            subscriber.complete();
          },
          complete: () => {
            if (end) this.close();
            subscriber.complete();
          },
        }),
      );
  }

  /** Graceful close: flush what is queued, send FIN, and close once the peer has sent its own. */
  close(): void {
    if (this.state & (CLOSE_REQUESTED | CLOSED)) return;
    this.state |= CLOSE_REQUESTED;
    this.applyReading(); // the peer's FIN is what completes the close: keep reading for it
    this.schedule();
    if (!(this.state & INPUT_ENDED) && this.owner.closeTimeout > 0) this.startLinger();
  }

  /** Closes now; queued output is dropped. */
  destroy(error?: Error): void {
    if (this.state & CLOSED) return;
    this.destroyTransport();
    // The caller already knows its own error: input$ just completes; closed$ carries the error.
    this.finish(error ? { reason: 'error', error } : { reason: 'destroy' }, null);
  }

  /** Stops reading: the peer is slowed by TCP flow control until resume(). */
  pause(): void {
    this.state |= USER_PAUSED;
    this.applyReading();
  }

  resume(): void {
    this.state &= ~USER_PAUSED;
    this.applyReading();
  }

  // ---- for backends ----

  /** A chunk read from the socket. */
  receive(chunk: Buffer): void {
    this.owner.bytesIn += chunk.length;
    const subscribers = this.subscribers;
    if (subscribers === null) {
      (this.held ??= []).push(chunk);
      this.state |= HOLDING;
      this.applyReading();
    } else if (Array.isArray(subscribers)) {
      for (const subscriber of subscribers.slice()) subscriber.next(chunk);
    } else {
      subscribers.next(chunk);
    }
  }

  /** The peer shut its write side (FIN). */
  receiveEnd(): void {
    if (this.state & INPUT_ENDED) return;
    this.state |= INPUT_ENDED;
    this.clearLinger();
    this.endInput(null);
  }

  /** Takes this turn's output, or null when there is none. */
  takeOutput(): Buffer[] | null {
    const chunks = this.pending;
    this.pending = null;
    this.pendingBytes = 0;
    this.state &= ~SCHEDULED;
    return chunks;
  }

  /** True once, when close() asked for a FIN to follow the output. */
  takeShutdown(): boolean {
    if ((this.state & (CLOSE_REQUESTED | SHUTDOWN_SENT)) !== CLOSE_REQUESTED) return false;
    this.state |= SHUTDOWN_SENT;
    return true;
  }

  /** How much output the transport still holds after a flush or a completed write. */
  transportQueued(bytes: number): void {
    this.queuedBelow = bytes;
    this.checkBackpressure();
  }

  /** The transport is gone: `error` is set for a socket error, null for an orderly close. */
  transportClosed(error: Error | null): void {
    if (this.state & CLOSED) return;
    this.finish(error ? { reason: 'error', error } : { reason: 'end' }, error);
  }

  // ---- internals ----

  private schedule(): void {
    if (this.state & SCHEDULED) return;
    this.state |= SCHEDULED;
    this.scheduleFlush();
  }

  private checkBackpressure(): void {
    const queued = this.pendingBytes + this.queuedBelow;
    if (this.state & OUTPUT_BLOCKED) {
      if (queued > this.owner.lowWaterMark) return;
      this.state &= ~OUTPUT_BLOCKED;
      this.applyReading();
      this.drain?.next();
    } else if (queued > this.owner.highWaterMark) {
      this.state |= OUTPUT_BLOCKED;
      this.applyReading();
    }
  }

  private applyReading(): void {
    const state = this.state;
    if (state & CLOSED) return;
    const want =
      !(state & INPUT_ENDED) && ((state & CLOSE_REQUESTED) !== 0 || !(state & (USER_PAUSED | OUTPUT_BLOCKED | HOLDING)));
    if (want === ((state & READING) !== 0)) return;
    this.state ^= READING;
    this.setTransportReading(want);
  }

  private subscribeInput(subscriber: Subscriber<Buffer>): () => void {
    const current = this.subscribers;
    if (current === null) this.subscribers = subscriber;
    else if (Array.isArray(current)) current.push(subscriber);
    else this.subscribers = [current, subscriber];

    const held = this.held;
    if (held !== null) {
      this.held = null;
      for (const chunk of held) subscriber.next(chunk);
    }
    if (this.state & INPUT_ENDED && this.subscribers !== null) {
      this.endInput(this.inputError);
    } else if (this.state & HOLDING) {
      this.state &= ~HOLDING;
      this.applyReading();
    }
    return () => this.unsubscribeInput(subscriber);
  }

  private unsubscribeInput(subscriber: Subscriber<Buffer>): void {
    const current = this.subscribers;
    if (current === subscriber) {
      this.subscribers = null;
    } else if (Array.isArray(current)) {
      const index = current.indexOf(subscriber);
      if (index >= 0) current.splice(index, 1);
      if (current.length === 1) this.subscribers = current[0];
    }
  }

  private endInput(error: Error | null): void {
    this.inputError = error;
    const subscribers = this.subscribers;
    if (subscribers === null) return; // a later subscriber gets the ending
    this.subscribers = null;
    for (const subscriber of Array.isArray(subscribers) ? subscribers : [subscribers]) {
      if (error) subscriber.error(error);
      else subscriber.complete();
    }
  }

  private finish(reason: CloseReason, inputError: Error | null): void {
    this.state |= CLOSED;
    this.clearLinger();
    this.pending = null;
    this.pendingBytes = 0;
    this.queuedBelow = 0;
    if (!(this.state & INPUT_ENDED)) {
      this.state |= INPUT_ENDED;
      this.endInput(inputError);
    }
    this.owner.connectionClosed(this);
    this.closeReason = reason;
    const watchers = this.closeWatchers;
    this.closeWatchers = null;
    if (watchers) {
      for (const watcher of watchers) {
        watcher.next(reason);
        watcher.complete();
      }
    }
    this.drain?.complete();
  }

  private startLinger(): void {
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      if (this.state & CLOSED) return;
      this.destroyTransport();
      this.finish({ reason: 'timeout' }, null);
    }, this.owner.closeTimeout);
    this.lingerTimer.unref();
  }

  private clearLinger(): void {
    if (this.lingerTimer !== null) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
  }
}
