import { NEVER, Observable, ObservableInput, ReplaySubject, Subscriber, from, lastValueFrom, merge } from 'rxjs';

import { type ListenAddress, SocketAddress, parseStreamAddress } from './address';
import { type Backend, type BoundListener, type ListenOptions, type ServerOwner, keepAliveSeconds } from './backend';
import { type Chunk, type Connection, type ConnectionLimits, LimitedOwner } from './connection';
import { LimitError, type LoopError, RxloopError } from './errors';
import { type Balance, type HandlerModule, type LoopDataOption, serveOnLoops } from './loops';
import { type BackendName, selectBackend } from './select-backend';

export interface ServerOptions extends ConnectionLimits, LoopDataOption {
  /** 'auto' (default): native where the addon loads, else node:net with one warning. */
  backend?: BackendName;
  /** Listen backlog (default 511); an address's `?backlog=` wins. */
  backlog?: number;
  /** SO_REUSEPORT, so several servers can share a port; an address's `?reuseport=` wins. */
  reuseport?: boolean;
  /** TCP_NODELAY on accepted connections (default true). */
  noDelay?: boolean;
  /** TCP keep-alive: true for a 60 s idle time, or the idle time in seconds (default off). */
  keepAlive?: boolean | number;
  /** Open connections beyond which new ones are accepted and closed at once (default 0: no limit). */
  maxConnections?: number;
  /** Destroy a connection after this long without input or output, in ms (default 0: never). */
  idleTimeout?: number;
  /**
   * Stop reading a connection while its queued output is above highWaterMark (default true):
   * what a server that answers its input wants. Turn it off where output does not come from
   * this connection's own input (a proxy couples its two sides itself).
   */
  pauseOnBackpressure?: boolean;
  /**
   * serve() only: how many loops serve the connections, each in its own worker thread (-1: one
   * per core; default 1, in this thread). Needs the native backend and a handler module.
   */
  loops?: number;
  /**
   * How connections are spread over several loops (default 'round-robin'): an acceptor in this
   * thread hands each accepted socket natively to the loop it picks ('round-robin',
   * 'least-connections', 'random', or 'source-hash' by the peer's IP), or with 'reuseport' each
   * loop binds its own SO_REUSEPORT listener and the kernel picks.
   */
  balance?: Balance;
}

export interface ServerStats {
  backend: 'native' | 'node';
  /** Open connections. */
  connections: number;
  accepted: number;
  bytesIn: number;
  bytesOut: number;
  /** Loop-wide: batches delivered to JavaScript, reads, vectored writes, accept back-offs. */
  batches: number;
  reads: number;
  writev: number;
  acceptBackoffs: number;
  /** Connections closed at once because maxConnections were open. */
  rejected: number;
  /** Connections destroyed by idleTimeout. */
  idleTimeouts: number;
  /** Connections destroyed for queuing more than maxWritableLength. */
  outputLimitHits: number;
  /** With several loops: each loop's own share. */
  loops?: LoopStats[];
}

/** One loop of a server that runs several; `connections` counts detached ones as open. */
export interface LoopStats
  extends Pick<ServerStats, 'connections' | 'accepted' | 'bytesIn' | 'bytesOut' | 'batches' | 'reads' | 'writev'> {
  /** The worker thread's threadId. */
  threadId: number;
  /** False once its worker has died. */
  alive: boolean;
}

const DEFAULTS = {
  backlog: 511,
  noDelay: true,
};

// An idle connection is found within a quarter of idleTimeout of reaching it.
const IDLE_SWEEPS = 4;

/** Starts a subscription's listeners: on addresses, or an inbox another loop hands sockets to. */
export type Bind = (state: ServerState) => Promise<BoundListener>[];

/** One subscription's server: its listeners, its connections and its counters. */
export class ServerState extends LimitedOwner implements ServerOwner {
  private readonly maxConnections: number;
  private readonly idleTimeout: number;
  private idleTimer: NodeJS.Timeout | null = null;
  accepted = 0;
  connections = 0;
  rejected = 0;
  idleTimeouts = 0;
  listeners: BoundListener[] = [];
  stopped = false;

  constructor(
    readonly backend: Backend,
    options: ServerOptions,
    private readonly subscriber: Subscriber<Connection>,
  ) {
    super(options);
    this.maxConnections = options.maxConnections ?? 0;
    this.idleTimeout = options.idleTimeout ?? 0;
    if (this.idleTimeout > 0) {
      this.idleTimer = setInterval(() => this.sweepIdle(), Math.max(10, this.idleTimeout / IDLE_SWEEPS));
      this.idleTimer.unref();
    }
  }

  accept(conn: Connection): void {
    this.accepted++;
    this.connections++;
    if (this.stopped || (this.maxConnections > 0 && this.connections > this.maxConnections)) {
      if (!this.stopped) this.rejected++;
      conn.destroy();
      return;
    }
    this.subscriber.next(conn);
  }

  override connectionClosed(): void {
    this.connections--;
  }

  open(): Connection[] {
    return this.backend.connectionsOf(this);
  }

  stop(): void {
    this.stopped = true;
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    for (const listener of this.listeners) listener.close();
    this.listeners = [];
    for (const conn of this.open()) conn.close();
  }

  private sweepIdle(): void {
    for (const conn of this.open()) {
      if (++conn.idleSweeps <= IDLE_SWEEPS) continue;
      this.idleTimeouts++;
      conn.destroy(new LimitError('ERR_RXLOOP_IDLE_TIMEOUT', `no input or output for ${this.idleTimeout} ms`, this.idleTimeout));
    }
  }

  stats(): ServerStats {
    return {
      backend: this.backend.name,
      connections: this.connections,
      accepted: this.accepted,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      rejected: this.rejected,
      idleTimeouts: this.idleTimeouts,
      outputLimitHits: this.outputLimitHits,
      ...this.backend.counters(),
    };
  }
}

/**
 * The connections accepted on one or more addresses. Each subscription binds its own listeners;
 * unsubscribing stops listening and closes that subscription's connections gracefully.
 */
export class ConnectionsObservable extends Observable<Connection> {
  /** The bound addresses (port 0 resolved), before any connection; replays the latest. */
  readonly listening$: Observable<SocketAddress[]>;
  private readonly bound = new ReplaySubject<SocketAddress[]>(1);
  private current: ServerState | null = null;

  constructor(bind: Bind, options: ServerOptions) {
    super((subscriber) => this.start(subscriber, bind, options));
    this.listening$ = this.bound.asObservable();
  }

  /** Counters of the most recent subscription. */
  stats(): ServerStats | null {
    return this.current?.stats() ?? null;
  }

  /** The open connections of the most recent subscription. */
  connections(): Connection[] {
    return this.current?.open() ?? [];
  }

  private start(subscriber: Subscriber<Connection>, bind: Bind, options: ServerOptions): () => void {
    let state: ServerState;
    try {
      state = new ServerState(selectBackend(options.backend), options, subscriber);
    } catch (error) {
      subscriber.error(error);
      return () => undefined;
    }
    this.current = state;
    Promise.all(
      bind(state).map((bound) =>
        bound.then((listener) => {
          if (state.stopped) listener.close();
          else state.listeners.push(listener);
          return listener;
        }),
      ),
    ).then(
      (listeners) => {
        if (!state.stopped) this.bound.next(listeners.map((l) => l.address));
      },
      (error: unknown) => {
        state.stop();
        subscriber.error(error);
      },
    );
    return () => state.stop();
  }
}

/** What a listener needs from the server's options and the address's own. */
export function listenOptions(address: ListenAddress, options: ServerOptions): ListenOptions {
  return {
    backlog: address.options.backlog ?? options.backlog ?? DEFAULTS.backlog,
    reusePort: address.options.reuseport ?? options.reuseport ?? false,
    noDelay: options.noDelay ?? DEFAULTS.noDelay,
    keepAliveSeconds: keepAliveSeconds(options.keepAlive),
  };
}

/**
 * A stream of connections on `address` (or several): `tcp://host:port`, `tcp://[::1]:port`,
 * `unix:///path` or `unix://@name`, with `?reuseport=true&backlog=N` if wanted.
 */
export function connections$(address: string | string[], options: ServerOptions = {}): ConnectionsObservable {
  const list = (Array.isArray(address) ? address : [address]).map(parseStreamAddress);
  if ((options.loops ?? 1) !== 1) {
    throw new RxloopError('connections$ runs on one loop: for several, give serve() a handler module', 'ERR_RXLOOP_LOOPS');
  }
  return new ConnectionsObservable(
    (state) => list.map((address) => state.backend.listen(address, listenOptions(address, options), state)),
    options,
  );
}

export interface Server {
  /** Resolves with the bound addresses, or rejects with the ListenError. */
  readonly listening: Promise<SocketAddress[]>;
  stats(): ServerStats | null;
  /** Stops listening, closes every connection gracefully and resolves once all are closed. */
  close(): Promise<void>;
  /** Failures of the server's loops (worker threads) while it runs; a one-loop server has none. */
  readonly errors$: Observable<LoopError>;
}

/** What serve() runs for each connection: whatever it emits is written back, in order. */
export type Handler = (conn: Connection) => ObservableInput<Chunk>;

/**
 * Serves `handler` on `address`: for each connection, whatever the returned Observable emits is
 * written back in order; when it completes the connection closes gracefully, when it errors the
 * connection is destroyed. serve(addr, conn => conn.input$) is an echo server.
 *
 * With `loops` other than 1, each loop runs in a worker thread, so the handler must be named as
 * a module (a closure cannot cross threads): a path or file URL whose `handler` export (or default
 * export) is the handler, or `{ path, export }`.
 */
export function serve(address: string | string[], handler: Handler | HandlerModule, options: ServerOptions = {}): Server {
  const addresses = Array.isArray(address) ? address : [address];
  if (typeof handler !== 'function' || (options.loops ?? 1) !== 1) return serveOnLoops(addresses, handler, options);
  return serveConnections(connections$(addresses, options), handler);
}

/** serve() on an existing stream of connections. */
export function serveConnections(source: ConnectionsObservable, handler: Handler): Server {
  let failed: (error: unknown) => void = () => undefined;
  const listening = new Promise<SocketAddress[]>((resolve, reject) => {
    failed = reject;
    source.listening$.subscribe(resolve);
  });
  listening.catch(() => undefined); // a caller that never looks must not see an unhandled rejection
  const subscription = source.subscribe({
    next: (conn) => {
      let output: Observable<Chunk>;
      try {
        output = from(handler(conn));
      } catch (error) {
        conn.destroy(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      conn.writeFrom(output);
    },
    error: (error: unknown) => failed(error),
  });
  return {
    listening,
    stats: () => source.stats(),
    close: async () => {
      const open = source.connections();
      subscription.unsubscribe();
      if (open.length > 0) await lastValueFrom(merge(...open.map((conn) => conn.closed$)), { defaultValue: undefined });
    },
    errors$: NEVER,
  };
}
