import { NEVER, Observable, ReplaySubject, type Subscriber } from 'rxjs';

import { type ListenAddress, SocketAddress, parseAddress } from './address';
import { type Chunk, chunkBytes } from './connection';
import { AddressError, type LoopError } from './errors';
import { type HandlerModule, type LoopDataOption, serveDatagramsOnLoops } from './loops';
import { type BackendName, selectBackend } from './select-backend';

/** One datagram received. */
export interface Datagram {
  readonly data: Buffer;
  readonly from: SocketAddress;
  /**
   * Sends `chunk` back to the sender, from the socket it came to. Queued: a turn's datagrams
   * leave together (one sendmmsg on the native backend). False if it was dropped because the
   * send queue was full.
   */
  reply(chunk: Chunk): boolean;
}

export interface DatagramOptions {
  /** 'auto' (default): native where the addon loads, else node:dgram. */
  backend?: BackendName;
  /** SO_REUSEPORT, so that several sockets (loops, processes) share the port; an address's `?reuseport=` wins. */
  reuseport?: boolean;
  /** Datagrams waiting to be sent beyond which more are dropped, and counted (default 4096). */
  maxQueuedDatagrams?: number;
}

export interface DatagramStats {
  backend: 'native' | 'node';
  received: number;
  bytesIn: number;
  /** Handed to the kernel (or, on the native backend, refused by it for good: see `failed`). */
  sent: number;
  bytesOut: number;
  /** Refused by the kernel: too big for the path, no route, ... */
  failed: number;
  /** Dropped before the kernel, because maxQueuedDatagrams were waiting. */
  dropped: number;
}

/** A bound UDP socket, as a backend provides it. */
export interface DatagramEndpoint {
  readonly address: SocketAddress;
  send(to: SocketAddress, payload: Buffer): boolean;
  stats(): DatagramStats;
  close(): void;
}

export interface DatagramBindOptions {
  reusePort: boolean;
  maxQueued: number;
}

export const DEFAULT_MAX_QUEUED_DATAGRAMS = 4096;

/**
 * The datagrams arriving at one UDP address. Each subscription binds its own socket and
 * unsubscribing closes it; `send` and `stats` use the most recent subscription's.
 */
export class DatagramsObservable extends Observable<Datagram> {
  /** The bound address (port 0 resolved), before any datagram; replays the latest. */
  readonly listening$: Observable<SocketAddress>;
  private readonly bound = new ReplaySubject<SocketAddress>(1);
  private current: DatagramEndpoint | null = null;

  constructor(address: ListenAddress, options: DatagramOptions) {
    super((subscriber) => this.start(subscriber, address, options));
    this.listening$ = this.bound.asObservable();
  }

  /** Sends a datagram from the bound socket; false if dropped (not bound, or the queue is full). */
  send(to: string | SocketAddress, chunk: Chunk): boolean {
    if (this.current === null) return false;
    const target = typeof to === 'string' ? parseAddress(to) : to;
    return this.current.send(new SocketAddress('udp', target.host, target.port), chunkBytes(chunk));
  }

  stats(): DatagramStats | null {
    return this.current?.stats() ?? null;
  }

  private start(subscriber: Subscriber<Datagram>, address: ListenAddress, options: DatagramOptions): () => void {
    let endpoint: DatagramEndpoint | null = null;
    let stopped = false;
    try {
      selectBackend(options.backend)
        .bindDatagrams(
          address,
          {
            reusePort: address.options.reuseport ?? options.reuseport ?? false,
            maxQueued: options.maxQueuedDatagrams ?? DEFAULT_MAX_QUEUED_DATAGRAMS,
          },
          (datagram) => subscriber.next(datagram),
        )
        .then(
          (bound) => {
            if (stopped) {
              bound.close();
              return;
            }
            endpoint = this.current = bound;
            this.bound.next(bound.address);
          },
          (error: unknown) => subscriber.error(error),
        );
    } catch (error) {
      subscriber.error(error);
    }
    return () => {
      stopped = true;
      endpoint?.close();
    };
  }
}

/** The datagrams arriving at `address`: `udp://host:port` (`udp://[::1]:port`), `?reuseport=true` if wanted. */
export function datagrams$(address: string, options: DatagramOptions = {}): DatagramsObservable {
  const parsed = parseAddress(address);
  if (parsed.scheme !== 'udp') throw new AddressError('datagrams$ takes a udp:// address', address);
  return new DatagramsObservable(parsed, options);
}

/** What serveDatagrams() runs for each datagram. */
export type DatagramHandler = (datagram: Datagram) => void;

export interface DatagramServeOptions extends DatagramOptions, LoopDataOption {
  /**
   * Loops reading the address, each in its own worker thread with its own SO_REUSEPORT socket, so
   * that the kernel spreads the peers and no loop reads another's datagrams (-1: one per core;
   * default 1, in this thread). Needs the native backend and a handler module.
   */
  loops?: number;
}

export interface DatagramServerStats extends DatagramStats {
  /** With several loops: each loop's share. */
  loops?: { threadId: number; alive: boolean; received: number; sent: number }[];
}

export interface DatagramServer {
  /** Resolves with the bound address, or rejects with the ListenError. */
  readonly listening: Promise<SocketAddress[]>;
  stats(): DatagramServerStats | null;
  close(): Promise<void>;
  /** Failures of the server's loops (worker threads); a one-loop server has none. */
  readonly errors$: Observable<LoopError>;
}

/**
 * Runs `handler` for every datagram arriving at `address`. With `loops` other than 1 the handler
 * is named as a module (see serve()) whose `datagramHandler` export (or `handler`, or default)
 * takes each datagram.
 */
export function serveDatagrams(address: string, handler: DatagramHandler | HandlerModule, options: DatagramServeOptions = {}): DatagramServer {
  if (typeof handler !== 'function' || (options.loops ?? 1) !== 1) return serveDatagramsOnLoops(address, handler, options);
  const source = datagrams$(address, options);
  let failed: (error: unknown) => void = () => undefined;
  const listening = new Promise<SocketAddress[]>((resolve, reject) => {
    failed = reject;
    source.listening$.subscribe((bound) => resolve([bound]));
  });
  listening.catch(() => undefined); // a caller that never looks must not see an unhandled rejection
  const subscription = source.subscribe({ next: handler, error: (error: unknown) => failed(error) });
  return {
    listening,
    stats: () => source.stats(),
    close: async () => subscription.unsubscribe(),
    errors$: NEVER,
  };
}
