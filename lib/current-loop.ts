/** The loop a worker thread runs, as its handler module sees it. */
export interface CurrentLoop {
  /** 0 to count - 1. */
  readonly index: number;
  readonly count: number;
  /** What the server's `loopData` gave this loop (undefined without one). */
  readonly data: unknown;
}

let current: CurrentLoop | null = null;

/**
 * In a handler module that serve() or serveDatagrams() runs on several loops: which loop this
 * thread is, and the data the server gave it (a MessagePort back to the thread that started the
 * server, say). Null anywhere else.
 */
export function currentLoop(): CurrentLoop | null {
  return current;
}

/** Called once by the loop's worker, before it loads the handler module. */
export function enterLoop(loop: CurrentLoop): void {
  current = loop;
}
