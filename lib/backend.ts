import type { ListenAddress, SocketAddress } from './address';
import type { Connection, ConnectionOwner } from './connection';

export interface ListenOptions {
  backlog: number;
  reusePort: boolean;
  noDelay: boolean;
  /** 0 disables TCP keep-alive; otherwise the idle time before the first probe. */
  keepAliveSeconds: number;
}

/** A server as a backend sees it: the owner of the connections its listeners accept. */
export interface ServerOwner extends ConnectionOwner {
  accept(conn: Connection): void;
}

export interface BoundListener {
  readonly address: SocketAddress;
  close(): void;
}

/** Counters of the loop that serves a server (shared by every server on that loop). */
export interface LoopCounters {
  batches: number;
  reads: number;
  writev: number;
  acceptBackoffs: number;
}

export interface Backend {
  readonly name: 'native' | 'node';
  listen(address: ListenAddress, options: ListenOptions, owner: ServerOwner): Promise<BoundListener>;
  counters(): LoopCounters;
  /** The open connections `owner` accepted. */
  connectionsOf(owner: ServerOwner): Connection[];
}
