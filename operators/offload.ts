import { Observable, type OperatorFunction, Subscriber } from 'rxjs';

import type { Piscina } from 'piscina';

/** Something whose reading can be stopped and restarted: a Connection, or any pause/resume pair. */
export interface Pausable {
  pause(): void;
  resume(): void;
}

export interface OffloadOptions<T, R> {
  /** Emit results in input order (default true); false emits each as soon as it is ready. */
  ordered?: boolean;
  /** Tasks in the pool at once (default: the pool's maxThreads × concurrentTasksPerWorker). */
  concurrency?: number;
  /**
   * Values held — waiting, running, or done and waiting for their turn — at which `connection`
   * is paused (default 16). It is resumed once half of them are out.
   */
  highWaterMark?: number;
  /**
   * Where the values come from, paused while too many are held, so memory stays bounded
   * whatever the peer sends. Without it the source is never slowed and nothing bounds the queue.
   * pause() and resume() are not counted: give each connection one offload that pauses it.
   */
  connection?: Pausable;
  /**
   * Answers a value on this thread instead of in the pool: a result other than undefined is
   * that value's result, emitted in its turn. For requests that are cheap, beside costly ones.
   */
  bypass?: (value: T) => R | undefined;
  /**
   * Turns a task's error into its result, emitted in its turn (an error reply for that request).
   * Without it, the first error — in its turn when ordered — errors the output.
   */
  onError?: (error: unknown, value: T) => R;
  /**
   * Move Buffers that own all of their memory to the worker instead of copying them; they are
   * then empty on this side (default false). Other Buffers are always copied, see offload().
   */
  transfer?: boolean;
  /** The exported function of the pool's worker module to run (Piscina's `name`). */
  name?: string;
}

/** One value on its way through the pool. */
class Task<T, R> {
  settled = false;
  failed = false;
  result: R | undefined = undefined;
  error: unknown = undefined;
  abort: AbortController | null = null;

  constructor(readonly value: T) {}
}

/** The task as sent: views of memory shared with others are copied, so no slab is cloned or moved. */
interface Outgoing {
  task: unknown;
  transferList: ArrayBuffer[];
}

function isWholeBuffer(view: ArrayBufferView): boolean {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer;
}

function sendable(value: unknown, move: boolean, transferList: ArrayBuffer[]): unknown {
  if (!ArrayBuffer.isView(value)) return value;
  if (move && isWholeBuffer(value)) {
    transferList.push(value.buffer as ArrayBuffer);
    return value;
  }
  // Cloning a view clones its whole ArrayBuffer — for input$ chunks, a 1 MiB read slab. Copy
  // just the bytes into memory of their own, and move that.
  const copy = new Uint8Array(value.byteLength);
  copy.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  transferList.push(copy.buffer);
  return copy;
}

function outgoing(value: unknown, move: boolean): Outgoing {
  const transferList: ArrayBuffer[] = [];
  let task: unknown;
  if (Array.isArray(value)) {
    task = value.map((item) => sendable(item, move, transferList));
  } else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = sendable(item, move, transferList);
    task = copy;
  } else {
    task = sendable(value, move, transferList);
  }
  return { task, transferList };
}

class OffloadSubscriber<T, R> extends Subscriber<T> {
  private readonly ordered: boolean;
  private readonly concurrency: number;
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  /** Not yet sent to the pool, oldest first. */
  private readonly waiting: Task<T, R>[] = [];
  private waitingHead = 0;
  /** Ordered: every task not yet emitted, in input order. */
  private readonly pending: (Task<T, R> | R)[] = [];
  private pendingHead = 0;
  /** Values taken and not yet emitted. */
  private held = 0;
  private readonly running = new Set<Task<T, R>>();
  private sourceDone = false;
  private paused = false;

  constructor(
    private readonly output: Subscriber<R>,
    private readonly pool: Piscina,
    private readonly options: OffloadOptions<T, R>,
  ) {
    super();
    this.ordered = options.ordered ?? true;
    this.concurrency = Math.max(1, options.concurrency ?? pool.maxThreads * pool.options.concurrentTasksPerWorker);
    this.highWaterMark = Math.max(1, options.highWaterMark ?? 16);
    this.lowWaterMark = Math.floor(this.highWaterMark / 2);
  }

  protected override _next(value: T): void {
    const answered = this.options.bypass?.(value);
    if (answered !== undefined) {
      if (!this.ordered || this.held === 0) this.output.next(answered);
      else this.hold(answered);
      return;
    }
    const task = new Task<T, R>(value);
    this.waiting.push(task);
    this.hold(task);
    this.startTasks();
  }

  protected override _error(error: unknown): void {
    this.output.error(error);
  }

  protected override _complete(): void {
    this.sourceDone = true;
    if (this.held === 0) this.output.complete();
  }

  /** Unsubscribed, errored or completed: nothing more will be emitted. */
  override unsubscribe(): void {
    if (this.closed) return;
    super.unsubscribe();
    // Tasks not yet sent are simply dropped. Of those sent, one still in Piscina's queue leaves
    // it; one already running stops its worker thread, which Piscina replaces.
    for (const task of this.running) task.abort?.abort();
    this.running.clear();
    if (this.paused) {
      this.paused = false;
      this.options.connection?.resume();
    }
  }

  private hold(entry: Task<T, R> | R): void {
    this.held++;
    if (this.ordered) this.pending.push(entry);
    if (!this.paused && this.held >= this.highWaterMark && this.options.connection) {
      this.paused = true;
      this.options.connection.pause();
    }
  }

  private startTasks(): void {
    while (this.running.size < this.concurrency && this.waitingHead < this.waiting.length) {
      const task = this.waiting[this.waitingHead];
      this.waiting[this.waitingHead++] = undefined as unknown as Task<T, R>;
      if (this.waitingHead === this.waiting.length) {
        this.waiting.length = 0;
        this.waitingHead = 0;
      }
      this.run(task);
    }
  }

  private run(task: Task<T, R>): void {
    task.abort = new AbortController();
    this.running.add(task);
    let result: Promise<R>;
    try {
      const { task: sent, transferList } = outgoing(task.value, this.options.transfer ?? false);
      result = this.pool.run(sent, { signal: task.abort.signal, transferList, name: this.options.name });
    } catch (error) {
      result = Promise.reject(error); // e.g. a value that cannot be cloned: that value's error
    }
    result.then(
      (value) => this.settle(task, false, value),
      (error: unknown) => this.settle(task, true, error),
    );
  }

  private settle(task: Task<T, R>, failed: boolean, outcome: unknown): void {
    if (this.closed) return;
    this.running.delete(task);
    task.settled = true;
    task.failed = failed;
    task.abort = null;
    if (failed) task.error = outcome;
    else task.result = outcome as R;
    if (this.ordered) this.emitInOrder();
    else this.emit(task);
    if (this.closed) return;
    this.startTasks();
    this.afterEmitting();
  }

  private emitInOrder(): void {
    const pending = this.pending;
    while (this.pendingHead < pending.length && !this.closed) {
      const entry = pending[this.pendingHead];
      if (entry instanceof Task) {
        if (!entry.settled) return;
        pending[this.pendingHead++] = undefined as unknown as R;
        this.emit(entry);
      } else {
        pending[this.pendingHead++] = undefined as unknown as R;
        this.held--;
        this.output.next(entry);
      }
    }
    if (this.pendingHead === pending.length) {
      pending.length = 0;
      this.pendingHead = 0;
    }
  }

  private emit(task: Task<T, R>): void {
    this.held--;
    if (!task.failed) {
      this.output.next(task.result as R);
      return;
    }
    const onError = this.options.onError;
    if (!onError) {
      this.output.error(task.error);
      return;
    }
    let replacement: R;
    try {
      replacement = onError(task.error, task.value);
    } catch (error) {
      this.output.error(error);
      return;
    }
    this.output.next(replacement);
  }

  private afterEmitting(): void {
    if (this.paused && this.held <= this.lowWaterMark) {
      this.paused = false;
      this.options.connection?.resume();
    }
    if (this.sourceDone && this.held === 0) this.output.complete();
  }
}

/**
 * Runs each value through a Piscina worker pool and emits the results — in input order unless
 * `ordered: false`, as a pipelined protocol needs its replies in request order. At most
 * `concurrency` tasks are in the pool at once; when `highWaterMark` values are held, the
 * `connection` they come from is paused until half have gone out, so TCP slows the peer and
 * memory stays bounded. Unsubscribing cancels its tasks (Piscina's abort signal). A task's error
 * belongs to its value: map it to a result with `onError` (an HTTP 500), or let it error the
 * output in its turn.
 *
 * Buffers cross without cloning their whole memory: a Buffer value, or one that is an element of
 * an array value or a property of a plain-object value, is copied into memory of its own which is
 * then moved (with `transfer: true`, a Buffer that already owns all its memory is moved as is).
 * Buffers nested deeper are cloned by postMessage along with all the memory they view — a 1 MiB
 * read slab for a chunk of input$ — so hand those over at the top level.
 *
 * ```ts
 * conn.input$.pipe(lines(), offload(pool, { connection: conn, onError: () => 'ERR\n' }), conn.sink())
 * ```
 */
export function offload<T, R>(pool: Piscina, options: OffloadOptions<T, R> = {}): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const offloading = new OffloadSubscriber<T, R>(subscriber, pool, options);
      source.subscribe(offloading);
      return offloading;
    });
}
