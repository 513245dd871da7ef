import type { ListenAddress, SocketAddress } from './address';
import type { Connection, ConnectionOwner } from './connection';
import type { Datagram, DatagramBindOptions, DatagramEndpoint } from './datagrams';

export interface ListenOptions {
  backlog: number;
  reusePort: boolean;
  noDelay: boolean;
  /** 0 disables TCP keep-alive; otherwise the idle time before the first probe. */
  keepAliveSeconds: number;
}

/** Where to connect: a numeric IP address (names are resolved before) or a unix path. */
export interface DialTarget {
  readonly url: string;
  readonly scheme: 'tcp' | 'unix';
  readonly ip: string;
  readonly port: number;
  readonly path: string;
}

/** The keepAlive option as ListenOptions/DialSocketOptions take it: true means 60 s, absent means off. */
export function keepAliveSeconds(keepAlive: boolean | number | undefined): number {
  return keepAlive === true ? 60 : typeof keepAlive === 'number' ? keepAlive : 0;
}

export interface DialSocketOptions {
  noDelay: boolean;
  keepAliveSeconds: number;
}

/** A connect in progress: settles once, unless cancelled first. */
export interface PendingDial {
  readonly connection: Promise<Connection>;
  cancel(): void;
}

/** A server as a backend sees it: the owner of the connections its listeners accept. */
export interface ServerOwner extends ConnectionOwner {
  accept(conn: Connection): void;
}

export interface BoundListener {
  readonly address: SocketAddress;
  close(): void;
}

/** How an acceptor picks the loop for each connection (native/handoff.h mirrors the numbers). */
export const HAND_OFF_BALANCES = ['round-robin', 'least-connections', 'random', 'source-hash'] as const;
export type HandOffBalance = (typeof HAND_OFF_BALANCES)[number];

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
  dial(target: DialTarget, options: DialSocketOptions, owner: ConnectionOwner): PendingDial;
  /** The open connections `owner` accepted. */
  connectionsOf(owner: ServerOwner): Connection[];
  /** Binds a UDP socket; every datagram that arrives goes to `receive`. */
  bindDatagrams(address: ListenAddress, options: DatagramBindOptions, receive: (datagram: Datagram) => void): Promise<DatagramEndpoint>;
}
