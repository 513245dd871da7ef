import { EMPTY, Observable, catchError, finalize, merge, mergeMap, take } from 'rxjs';

import { type Connection, type Server, dial, serve } from '../lib';
import { type Example, listenUrl } from './cli';

/**
 * Copies `from`'s input to `to`, pausing `from` while `to` has more queued than its high-water
 * mark: a slow reader on either side slows the writer on the other through TCP itself. The
 * peer's FIN becomes ours (half-close); a reset becomes a reset.
 */
function forward(from: Connection, to: Connection): Observable<never> {
  return new Observable<never>((subscriber) => {
    // Chunks already read in this turn still arrive after pause(): wait for one drain, not one each.
    let waiting = false;
    const resume = (): void => {
      waiting = false;
      from.resume();
    };
    return from.input$.subscribe({
      next: (chunk) => {
        if (to.write(chunk) || waiting) return;
        waiting = true;
        from.pause();
        to.drain$.pipe(take(1)).subscribe(resume);
      },
      error: (error: Error) => {
        to.destroy(error);
        subscriber.complete();
      },
      complete: () => {
        to.close();
        subscriber.complete();
      },
    });
  });
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
