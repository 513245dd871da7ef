import type { Connection } from './connection';

// Enough rounds for writes made in reaction to a flush (a drain, say) to go out in this turn,
// without letting a writer that refills on every drain hold the thread forever.
const MAX_ROUNDS = 8;

/**
 * Gathers the connections written to in one loop turn and flushes them together: at the end of
 * a native batch, or in setImmediate (the check phase of the same libuv iteration) for writes
 * made outside one.
 */
export class FlushQueue {
  private queue: Connection[] = [];
  private immediate: NodeJS.Immediate | null = null;
  private batching = false;

  constructor(private readonly flushConnections: (connections: Connection[]) => void) {}

  add(conn: Connection): void {
    this.queue.push(conn);
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
      const connections = this.queue;
      this.queue = [];
      this.flushConnections(connections);
    }
    if (this.queue.length > 0 && this.immediate === null) this.immediate = setImmediate(this.runImmediate);
  }

  private readonly runImmediate = (): void => {
    this.immediate = null;
    this.run();
  };
}
