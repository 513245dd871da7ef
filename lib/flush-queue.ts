// Enough rounds for writes made in reaction to a flush (a drain, say) to go out in this turn,
// without letting a writer that refills on every drain hold the thread forever.
const MAX_ROUNDS = 8;

/**
 * Gathers what was written to in one loop turn (connections, UDP sockets) and flushes it
 * together: at the end of a native batch, or in setImmediate (the check phase of the same libuv
 * iteration) for writes made outside one.
 */
export class FlushQueue<T> {
  private queue: T[] = [];
  private immediate: NodeJS.Immediate | null = null;
  private batching = false;

  constructor(private readonly flushAll: (items: T[]) => void) {}

  add(item: T): void {
    this.queue.push(item);
    if (!this.batching && this.immediate === null) this.immediate = setImmediate(this.runImmediate);
  }

  /** Runs `dispatch`, holding back flushes until it returns, then flushes once. */
  batch(dispatch: () => void): void {
    this.batching = true;
    try {
      dispatch();
    } finally {
      this.batching = false;
      this.run();
    }
  }

  run(): void {
    for (let round = 0; round < MAX_ROUNDS && this.queue.length > 0; round++) {
      const items = this.queue;
      this.queue = [];
      this.flushAll(items);
    }
    if (this.queue.length > 0 && this.immediate === null) this.immediate = setImmediate(this.runImmediate);
  }

  private readonly runImmediate = (): void => {
    this.immediate = null;
    this.run();
  };
}
