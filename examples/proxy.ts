import { EMPTY, Observable, Subscriber, catchError, finalize, merge, mergeMap, take } from 'rxjs';

import { type Connection, type Server, dial, serve } from '../lib';
import { type Example, listenUrl } from './cli';

/**
 * Copies `from`'s input to `to`, pausing `from` while `to` has more queued than its high-water
 * mark: a slow reader on either side slows the writer on the other through TCP itself. The
 * peer's FIN becomes ours (half-close); a reset becomes a reset. A Subscriber of its own rather
 * than an observer object: each chunk then takes one call to get here, not three.
 */
class Forwarder extends Subscriber<Buffer> {
  // Chunks already read in this turn still arrive after pause(): wait for one drain, not one each.
  private waiting = false;

  constructor(
    private readonly from: Connection,
    private readonly to: Connection,
    destination: Subscriber<never>,
  ) {
    super(destination);
  }

  protected override _next(chunk: Buffer): void {
    if (this.to.write(chunk) || this.waiting) return;
    this.waiting = true;
    this.from.pause();
    this.to.drain$.pipe(take(1)).subscribe(() => {
      this.waiting = false;
      this.from.resume();
    });
  }

  protected override _error(error: unknown): void {
    this.to.destroy(error instanceof Error ? error : new Error(String(error)));
    super._complete();
  }

  protected override _complete(): void {
    this.to.close();
    super._complete();
  }
}

function forward(from: Connection, to: Connection): Observable<never> {
  return new Observable<never>((subscriber) => from.input$.subscribe(new Forwarder(from, to, subscriber)));
}

export interface ProxyOptions {
  listen: string;
  /** The backend, as a tcp:// or unix:// address. */
  to: string;
  backend?: 'native' | 'node' | 'auto';
}

export interface ProxyServer extends Server {
  /**
   * Bytes the proxy holds queued for its peers (both directions, every pair still forwarding):
   * what backpressure keeps bounded, however much flows through.
   */
  queued(): number;
}

/** A TCP proxy: each accepted connection dials the backend, and bytes flow both ways. */
export function startProxy(options: ProxyOptions): ProxyServer {
  // Each side's output comes from the other side's input: the coupling is forward()'s, not
  // the per-connection default of pausing a connection on its own output.
  const coupling = { backend: options.backend, pauseOnBackpressure: false };
  const pairs = new Set<readonly [Connection, Connection]>();
  const server = serve(
    options.listen,
    (client) =>
      dial(options.to, coupling).pipe(
        mergeMap((upstream) => {
          const pair = [client, upstream] as const;
          pairs.add(pair);
          return merge(forward(client, upstream), forward(upstream, client)).pipe(finalize(() => pairs.delete(pair)));
        }),
        // A backend that refuses (or cannot be reached) closes the client cleanly: FIN, no reset.
        catchError(() => EMPTY),
      ),
    coupling,
  );
  return {
    ...server,
    queued: () => {
      let bytes = 0;
      for (const [client, upstream] of pairs) bytes += client.writableLength + upstream.writableLength;
      return bytes;
    },
  };
}

export const example: Example = {
  accepts: ['port', 'host', 'unix', 'to'],
  defaultPort: 7000,
  start: (args) => {
    if (!args.to) throw new Error('proxy needs --to URL (e.g. --to tcp://127.0.0.1:6379)');
    return [startProxy({ listen: listenUrl(args), to: args.to, backend: args.backend })];
  },
};
