import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

import { Observable } from 'rxjs';

import { parseStreamAddress } from './address';
import { type DialTarget, type PendingDial, keepAliveSeconds } from './backend';
import { type Connection, type ConnectionLimits, LimitedOwner } from './connection';
import { ConnectError } from './errors';
import { type BackendName, selectBackend } from './select-backend';

export interface DialOptions extends ConnectionLimits {
  /** 'auto' (default): native where the addon loads, else node:net. */
  backend?: BackendName;
  /** Give up after this many ms with ETIMEDOUT (default 30 s; 0: never). */
  timeout?: number;
  /** TCP_NODELAY (default true). */
  noDelay?: boolean;
  /** TCP keep-alive: true for a 60 s idle time, or the idle time in seconds (default off). */
  keepAlive?: boolean | number;
  /**
   * Stop reading while queued output is above highWaterMark (default true, as for servers). A
   * client that writes much before it reads, to a server that does the same, must turn this off
   * (or read elsewhere): with both sides paused on full output, neither would ever drain.
   */
  pauseOnBackpressure?: boolean;
}

async function resolveTarget(url: string): Promise<DialTarget> {
  const address = parseStreamAddress(url);
  if (address.scheme === 'unix') return { url, scheme: 'unix', ip: '', port: 0, path: address.path };
  if (address.port === 0) throw new ConnectError(url, 'ERR_RXLOOP_ADDRESS', 'port 0 cannot be dialed');
  let ip = address.host;
  if (isIP(ip) === 0) {
    try {
      ({ address: ip } = await lookup(address.host)); // the libuv thread pool, not this loop
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new ConnectError(url, e.code ?? 'ENOTFOUND', e.message);
    }
  }
  return { url, scheme: 'tcp', ip, port: address.port, path: '' };
}

/**
 * Connects to `address` (tcp://host:port, tcp://[::1]:port, unix:///path, unix://@name) on this
 * thread's loop: emits the Connection once connected, then completes; errors with a
 * ConnectError (ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ...). Unsubscribing before then cancels.
 */
export function dial(address: string, options: DialOptions = {}): Observable<Connection> {
  parseStreamAddress(address); // a bad address throws here, at once, like connections$
  return new Observable<Connection>((subscriber) => {
    let pending: PendingDial | null = null;
    let cancelled = false;
    let settled = false;
    const timeout = options.timeout ?? 30_000;
    const timer =
      timeout > 0
        ? setTimeout(() => {
            cancelled = settled = true;
            pending?.cancel();
            subscriber.error(new ConnectError(address, 'ETIMEDOUT', `no connection within ${timeout} ms`));
          }, timeout)
        : null;
    resolveTarget(address)
      .then((target) => {
        if (cancelled) return null;
        pending = selectBackend(options.backend).dial(
          target,
          { noDelay: options.noDelay ?? true, keepAliveSeconds: keepAliveSeconds(options.keepAlive) },
          new LimitedOwner(options),
        );
        return pending.connection;
      })
      .then(
        (conn) => {
          if (conn === null) return;
          if (timer) clearTimeout(timer);
          if (cancelled) {
            conn.destroy();
            return;
          }
          settled = true;
          subscriber.next(conn);
          subscriber.complete();
        },
        (error: unknown) => {
          if (timer) clearTimeout(timer);
          if (cancelled) return;
          settled = true;
          subscriber.error(error);
        },
      );
    return () => {
      if (settled) return;
      cancelled = true;
      if (timer) clearTimeout(timer);
      pending?.cancel();
    };
  });
}
