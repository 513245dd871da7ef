import { Buffer } from 'node:buffer';

import { Observable, OperatorFunction, Subject, Subscriber } from 'rxjs';

import type { SocketAddress } from './address';
import { ConnectionError, LimitError, RxloopError } from './errors';

/** What may be written: Buffers and Uint8Arrays go out as they are, strings as UTF-8. */
export type Chunk = Buffer | Uint8Array | string;

/** A chunk's bytes: a Buffer as it is, a Uint8Array viewed (not copied), a string as UTF-8. */
export function chunkBytes(chunk: Chunk): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export interface CloseReason {
  /**
   * 'end': both sides finished in order; 'destroy': destroy() was called; 'timeout': the peer
   * never completed a graceful close; 'error': a socket error, given in `error`; 'detach': the
   * socket left rxloop, open, through detach().
   */
  readonly reason: 'end' | 'destroy' | 'timeout' | 'error' | 'detach';
  readonly error?: Error;
}

/** A socket handed over by detach(). */
export interface Detached {
  /** The descriptor, open and no longer watched by rxloop: e.g. `new net.Socket({ fd })`. */
  readonly fd: number;
  /**
   * Input rxloop read but nobody consumed: what arrived after detach() was called, and what was
   * held for a subscriber that never came. The new owner continues from here.
   */
  readonly input: Buffer;
}

/** The marks and limits a connection works within; each owner takes them from its options. */
export interface ConnectionLimits {
  /** Queued output above which write() returns false and reading pauses (default 64 KiB). */
  highWaterMark?: number;
  /** Queued output at or below which reading resumes (default 16 KiB). */
  lowWaterMark?: number;
  /** Queued output beyond which the connection is destroyed (default 64 MiB). */
  maxWritableLength?: number;
  /** How long a graceful close may go without progress before the connection is destroyed, in ms (default 10 s). */
  closeTimeout?: number;
  /** Stop reading while output is above the high-water mark (default true). */
  pauseOnBackpressure?: boolean;
}

/** What a connection needs from the server that accepted it. */
export interface ConnectionOwner {
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  /** Queued output beyond which the connection is destroyed (a peer that never reads). */
  readonly maxWritableLength: number;
  /** Stop reading while output is above the high-water mark (the peer is slowed by TCP); default true. */
  readonly pauseOnBackpressure?: boolean;
  /** How long close() may take (draining output, waiting for the peer's FIN) before destroying, in ms. */
  readonly closeTimeout: number;
  bytesIn: number;
  bytesOut: number;
  outputLimitHits: number;
  connectionClosed(conn: Connection): void;
}

/**
 * An owner with its limits filled in from the defaults, counting bytes and nothing else: what a
 * dialed or translated connection belongs to; a server's owner adds its own bookkeeping.
 */
export class LimitedOwner implements ConnectionOwner {
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  readonly maxWritableLength: number;
  readonly closeTimeout: number;
  readonly pauseOnBackpressure: boolean;
  bytesIn = 0;
  bytesOut = 0;
  outputLimitHits = 0;

  constructor(limits: ConnectionLimits) {
    this.highWaterMark = limits.highWaterMark ?? 64 * 1024;
    this.lowWaterMark = Math.min(limits.lowWaterMark ?? 16 * 1024, this.highWaterMark);
    this.maxWritableLength = limits.maxWritableLength ?? 64 * 1024 * 1024;
    this.closeTimeout = limits.closeTimeout ?? 10_000;
    this.pauseOnBackpressure = limits.pauseOnBackpressure ?? true;
  }

  connectionClosed(_conn: Connection): void {}
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
const PROGRESSED = 512; // input arrived, output drained or reading resumed since the close timer last looked
const DETACHING = 1024; // detach() waits for queued output to drain

/** What most connections never need, kept apart so that an idle connection stays small. */
class Extras {
  held: Buffer[] | null = null;
  inputError: Error | null = null;
  closeReason: CloseReason | null = null;
  closeWatchers: Subscriber<CloseReason>[] | null = null;
  closed$: Observable<CloseReason> | null = null;
  drain: Subject<void> | null = null;
  lingerTimer: NodeJS.Timeout | null = null;
  /** What the transport still held when the close timer was last armed. */
  lingerBacklog = 0;
  detaching: { resolve(detached: Detached): void; reject(error: Error): void } | null = null;
}

/** input$: one shared subscribe function and a back-reference, rather than a closure each. */
class InputObservable extends Observable<Buffer> {
  constructor(readonly conn: Connection) {
    super(subscribeToInput);
  }
}

function subscribeToInput(this: Observable<Buffer>, subscriber: Subscriber<Buffer>): void {
  (this as InputObservable).conn.addInputSubscriber(subscriber);
}

/**
 * Writes what it receives to a connection; closes it when its source completes (unless `end` is
 * false) and destroys it when its source errors, then completes its own destination: a
 * connection's failure stays with that connection.
 */
class ConnectionWriter extends Subscriber<Chunk> {
  constructor(
    private readonly conn: Connection,
    private readonly end: boolean,
    destination?: Subscriber<never>,
  ) {
    super(destination);
  }

  protected override _next(chunk: Chunk): void {
    this.conn.write(chunk);
  }

  protected override _error(error: unknown): void {
    this.conn.destroy(error instanceof Error ? error : new Error(String(error)));
    super._complete();
  }

  protected override _complete(): void {
    if (this.end) this.conn.close();
    super._complete();
  }
}

/**
 * One connection, seen from JavaScript: an input stream, a write queue flushed once per loop
 * turn, and a lifecycle. The backends (native loop, node:net) subclass it.
 */
export abstract class Connection {
  private state = READING;
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private queuedBelow = 0; // accepted by the transport but not yet sent
  // Unsubscribed subscribers are noticed by their `closed` flag, so subscribing registers no
  // teardown: one fewer allocation per connection.
  private subscribers: Subscriber<Buffer> | Subscriber<Buffer>[] | null = null;
  private input: Observable<Buffer> | null = null;
  private extras: Extras | null = null;
  /** Idle sweeps seen since the last input or output; reset on every read and write. */
  idleSweeps = 0;

  constructor(
    /** Unique for the life of the process, across loops and threads; never the fd. */
    readonly id: number,
    protected readonly owner: ConnectionOwner,
  ) {}

  abstract get local(): SocketAddress;
  abstract get remote(): SocketAddress;

  protected abstract setTransportReading(on: boolean): void;
  protected abstract destroyTransport(): void;
  protected abstract scheduleFlush(): void;

  /**
   * Takes the socket out of the transport without closing it and returns its fd, or -1 if it is
   * already gone. Input read before this call may still arrive, up to the next microtask.
   */
  protected detachTransport(): number {
    return -1;
  }

  /** Whether detachTransport() is implemented: node:net cannot give up a socket. */
  protected get canDetach(): boolean {
    return false;
  }

  /** Output the transport still holds; a backend that learns of it only on drain can ask here. */
  protected transportBacklog(): number {
    return this.queuedBelow;
  }

  /**
   * The bytes the peer sends, in order; completes when the peer shuts its write side, errors on
   * a socket error. Input that arrives before the first subscription is kept for it (reading
   * waits meanwhile), so nothing is lost to a late subscriber.
   */
  get input$(): Observable<Buffer> {
    return (this.input ??= new InputObservable(this));
  }

  /** Emits once, when the connection is fully closed, with the reason; replays to late subscribers. */
  get closed$(): Observable<CloseReason> {
    const extras = this.more();
    return (extras.closed$ ??= new Observable<CloseReason>((subscriber) => {
      if (extras.closeReason) {
        subscriber.next(extras.closeReason);
        subscriber.complete();
        return undefined;
      }
      (extras.closeWatchers ??= []).push(subscriber);
      return () => {
        const watchers = extras.closeWatchers;
        if (watchers) watchers.splice(watchers.indexOf(subscriber), 1);
      };
    }));
  }

  /** Emits each time queued output falls back to the low-water mark after write() returned false. */
  get drain$(): Observable<void> {
    return (this.more().drain ??= new Subject<void>()).asObservable();
  }

  /** Bytes written but not yet accepted by the kernel. */
  get writableLength(): number {
    return this.pendingBytes + this.queuedBelow;
  }

  get isClosed(): boolean {
    return (this.state & CLOSED) !== 0;
  }

  /** The limits this connection works within (its server's, or those it was dialed or translated with). */
  get limits(): Required<ConnectionLimits> {
    const { highWaterMark, lowWaterMark, maxWritableLength, closeTimeout } = this.owner;
    return { highWaterMark, lowWaterMark, maxWritableLength, closeTimeout, pauseOnBackpressure: this.owner.pauseOnBackpressure !== false };
  }

  /** For backends: whether `owner` accepted this connection. */
  ownedBy(owner: ConnectionOwner): boolean {
    return this.owner === owner;
  }

  /**
   * Queues a chunk; everything queued in one loop turn goes out in a single writev. Returns false
   * once queued output is above the high-water mark (and then reading pauses until it drains),
   * or when the connection is closing or closed (the chunk is then dropped).
   */
  write(chunk: Chunk): boolean {
    if (this.state & (CLOSE_REQUESTED | CLOSED)) return false;
    const bytes = chunkBytes(chunk);
    if (bytes.length > 0) {
      if (this.pendingBytes + this.queuedBelow + bytes.length > this.owner.maxWritableLength) {
        // The writer ignored write()'s false long enough; bound memory at this one's expense.
        this.owner.outputLimitHits++;
        const limit = this.owner.maxWritableLength;
        this.destroy(new LimitError('ERR_RXLOOP_OUTPUT_LIMIT', `more than ${limit} bytes of output queued`, limit));
        return false;
      }
      if (this.pending === null) this.pending = [bytes];
      else this.pending.push(bytes);
      this.pendingBytes += bytes.length;
      this.owner.bytesOut += bytes.length;
      this.idleSweeps = 0;
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
    return (source) => new Observable<never>((subscriber) => source.subscribe(new ConnectionWriter(this, end, subscriber)));
  }

  /** Subscribes `output` so that what it emits is written here: sink() without the operator. */
  writeFrom(output: Observable<Chunk>, options: { end?: boolean } = {}): void {
    output.subscribe(new ConnectionWriter(this, options.end ?? true));
  }

  /**
   * Graceful close: flush what is queued, send FIN, and close once the peer has sent its own.
   * A close that makes no progress (no input, no output drained) for the server's closeTimeout
   * is given up: the connection is destroyed, reason 'timeout'. A pause() still holds: the peer's
   * FIN is read once the connection is resumed.
   */
  close(): void {
    if (this.state & (CLOSE_REQUESTED | CLOSED)) return;
    this.state |= CLOSE_REQUESTED;
    this.applyReading(); // the peer's FIN is what completes the close: keep reading for it
    this.schedule();
    if (this.owner.closeTimeout > 0) this.startLinger();
  }

  /** Closes now; queued output is dropped. */
  destroy(error?: Error): void {
    if (this.state & CLOSED) return;
    this.destroyTransport();
    // The caller already knows its own error: input$ just completes; closed$ carries the error.
    this.finish(error ? { reason: 'error', error } : { reason: 'destroy' }, null);
  }

  /**
   * Hands the socket over: reading stops at once, queued output is flushed, and then the fd
   * leaves rxloop, open, with the input nobody consumed (see Detached). input$ completes and
   * closed$ reports 'detach'. Rejects if the connection closes first, or is closing already.
   */
  detach(): Promise<Detached> {
    if (this.state & (CLOSE_REQUESTED | CLOSED | DETACHING)) {
      return Promise.reject(new RxloopError('detach(): the connection is closing, closed or detaching', 'ERR_RXLOOP_DETACH'));
    }
    if (!this.canDetach) {
      return Promise.reject(new RxloopError('detach() needs the native backend: node:net cannot give up a socket', 'ERR_RXLOOP_DETACH_UNSUPPORTED'));
    }
    this.state |= DETACHING;
    this.applyReading();
    return new Promise((resolve, reject) => {
      this.more().detaching = { resolve, reject };
      this.detachWhenDrained();
    });
  }

  /** Stops reading: the peer is slowed by TCP flow control until resume(). */
  pause(): void {
    this.state |= USER_PAUSED;
    this.applyReading();
  }

  resume(): void {
    // A resume starts the close timer's clock afresh: the peer has had no chance yet to answer.
    if (this.state & USER_PAUSED) this.state |= PROGRESSED;
    this.state &= ~USER_PAUSED;
    this.applyReading();
  }

  // ---- for backends ----

  /** A chunk read from the socket. */
  receive(chunk: Buffer): void {
    this.owner.bytesIn += chunk.length;
    this.idleSweeps = 0;
    this.state |= PROGRESSED;
    if (this.state & DETACHING) {
      (this.more().held ??= []).push(chunk); // the new owner's, not the subscribers'
      return;
    }
    const subscribers = this.subscribers;
    if (subscribers !== null && !Array.isArray(subscribers)) {
      if (!subscribers.closed) {
        subscribers.next(chunk);
        return;
      }
      this.subscribers = null;
    } else if (subscribers !== null) {
      let delivered = false;
      for (const subscriber of subscribers.slice()) {
        if (subscriber.closed) continue;
        subscriber.next(chunk);
        delivered = true;
      }
      if (delivered) return;
      this.subscribers = null;
    }
    (this.more().held ??= []).push(chunk);
    this.state |= HOLDING;
    this.applyReading();
  }

  /** The peer shut its write side (FIN). */
  receiveEnd(): void {
    // A detached socket reports its FIN again to its new owner.
    if (this.state & (INPUT_ENDED | DETACHING)) return;
    this.state |= INPUT_ENDED;
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
    if (bytes < this.queuedBelow) this.state |= PROGRESSED;
    // Kept a small integer where it fits, so the field is not boxed as a heap number.
    this.queuedBelow = bytes <= 0x7fffffff ? bytes | 0 : bytes;
    this.checkBackpressure();
    if (this.state & DETACHING) this.detachWhenDrained();
  }

  /** The transport is gone: `error` is set for a socket error, null for an orderly close. */
  transportClosed(error: Error | null): void {
    if (this.state & CLOSED) return;
    this.finish(error ? { reason: 'error', error } : { reason: 'end' }, error);
  }

  /** Called by input$ for each subscriber. */
  addInputSubscriber(subscriber: Subscriber<Buffer>): void {
    const current = this.subscribers;
    if (current === null || (!Array.isArray(current) && current.closed)) {
      this.subscribers = subscriber;
    } else if (Array.isArray(current)) {
      const open = current.filter((s) => !s.closed);
      open.push(subscriber);
      this.subscribers = open;
    } else {
      this.subscribers = [current, subscriber];
    }

    const extras = this.extras;
    const held = extras?.held;
    if (extras && held) {
      extras.held = null;
      for (const chunk of held) subscriber.next(chunk);
    }
    if (this.state & INPUT_ENDED) {
      this.endInput(extras?.inputError ?? null);
    } else if (this.state & HOLDING) {
      this.state &= ~HOLDING;
      this.applyReading();
    }
  }

  // ---- internals ----

  private more(): Extras {
    return (this.extras ??= new Extras());
  }

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
      this.extras?.drain?.next();
    } else if (queued > this.owner.highWaterMark) {
      this.state |= OUTPUT_BLOCKED;
      this.applyReading();
    }
  }

  private applyReading(): void {
    const state = this.state;
    if (state & CLOSED) return;
    // A close reads on for the peer's FIN whatever else holds reading back (nobody subscribed, our
    // own output full) — but not against pause(): a proxy that paused this side because the other
    // side cannot keep up must not be flooded just because this side is closing.
    const holds = this.owner.pauseOnBackpressure !== false ? OUTPUT_BLOCKED | HOLDING : HOLDING;
    const want = !(state & (INPUT_ENDED | DETACHING | USER_PAUSED)) && ((state & CLOSE_REQUESTED) !== 0 || !(state & holds));
    if (want === ((state & READING) !== 0)) return;
    this.state ^= READING;
    this.setTransportReading(want);
  }

  private detachWhenDrained(): void {
    const extras = this.extras!;
    const waiter = extras.detaching;
    if (waiter === null || this.state & CLOSED || this.pendingBytes + this.queuedBelow > 0) return;
    extras.detaching = null;
    const fd = this.detachTransport();
    if (fd < 0) {
      this.finish({ reason: 'destroy' }, null);
      waiter.reject(new ConnectionError('EBADF', 'detach(): the socket was already closed'));
      return;
    }
    // Records of the batch being dispatched were read before the fd left the loop: let them
    // arrive (into `held`) before handing the input over.
    queueMicrotask(() => {
      const held = extras.held;
      extras.held = null;
      this.finish({ reason: 'detach' }, null);
      waiter.resolve({ fd, input: held === null ? Buffer.alloc(0) : Buffer.concat(held) });
    });
  }

  private endInput(error: Error | null): void {
    const subscribers = this.subscribers;
    if (subscribers === null) {
      if (error) this.more().inputError = error; // a later subscriber gets the ending
      return;
    }
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
    const extras = this.more();
    extras.closeReason = reason;
    const watchers = extras.closeWatchers;
    extras.closeWatchers = null;
    if (watchers) {
      for (const watcher of watchers) {
        watcher.next(reason);
        watcher.complete();
      }
    }
    extras.drain?.complete();
    if (extras.detaching !== null) {
      extras.detaching.reject(reason.error ?? new RxloopError(`detach(): the connection closed first (${reason.reason})`, 'ERR_RXLOOP_DETACH'));
      extras.detaching = null;
    }
  }

  private startLinger(): void {
    this.state &= ~PROGRESSED;
    const extras = this.more();
    extras.lingerBacklog = this.pendingBytes + this.transportBacklog();
    const timer = setTimeout(() => {
      extras.lingerTimer = null;
      if (this.state & CLOSED) return;
      const moving = this.state & PROGRESSED || this.pendingBytes + this.transportBacklog() < extras.lingerBacklog;
      // Still moving (a slow reader, a half-closed peer may take its time), or held up by our own
      // pause(), which is no fault of the peer's.
      if (moving || this.state & USER_PAUSED) {
        this.startLinger();
        return;
      }
      this.destroyTransport();
      this.finish({ reason: 'timeout' }, null);
    }, this.owner.closeTimeout);
    timer.unref();
    extras.lingerTimer = timer;
  }

  private clearLinger(): void {
    const timer = this.extras?.lingerTimer;
    if (timer) {
      clearTimeout(timer);
      this.extras!.lingerTimer = null;
    }
  }
}
