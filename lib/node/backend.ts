import * as net from 'node:net';

import { type ListenAddress, SocketAddress } from '../address';
import type {
  Backend,
  BoundListener,
  DialSocketOptions,
  DialTarget,
  ListenOptions,
  LoopCounters,
  PendingDial,
  ServerOwner,
} from '../backend';
import { Connection, type ConnectionOwner } from '../connection';
import { ConnectError, ConnectionError, ListenError } from '../errors';
import type { Datagram, DatagramBindOptions, DatagramEndpoint } from '../datagrams';
import { FlushQueue } from '../flush-queue';
import { bindNodeDatagrams } from './datagrams';

import { loadAddon } from '../native/addon';

const addon = loadAddon();
let threadLocalId = 0;
// Ids are unique for the life of the process: taken from the addon's counter when it loads (so
// the two backends never collide), else spaced 2^32 apart per thread (thread ids are unique).
const nextConnectionId =
  addon instanceof Error
    ? () => (require('node:worker_threads') as typeof import('node:worker_threads')).threadId * 2 ** 32 + ++threadLocalId
    : () => addon.nextConnectionId();

function tcpAddresses(socket: net.Socket): { local: SocketAddress; remote: SocketAddress } {
  return {
    local: new SocketAddress('tcp', socket.localAddress ?? '', socket.localPort ?? 0),
    remote: new SocketAddress('tcp', socket.remoteAddress ?? '', socket.remotePort ?? 0),
  };
}

class NodeConnection extends Connection {
  readonly remote: SocketAddress;
  readonly local: SocketAddress;
  private lastError: Error | null = null;

  constructor(
    owner: ConnectionOwner,
    private readonly backend: NodeBackend,
    readonly socket: net.Socket,
    addresses: { local: SocketAddress; remote: SocketAddress },
  ) {
    super(nextConnectionId(), owner);
    this.local = addresses.local;
    this.remote = addresses.remote;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => this.receiveEnd());
    socket.on('drain', () => this.transportQueued(socket.writableLength));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.lastError = new ConnectionError(error.code ?? 'ERR_SOCKET', error.message);
    });
    socket.on('close', () => {
      backend.open.delete(this);
      this.transportClosed(this.lastError);
    });
    backend.open.add(this);
  }

  flushOutput(): void {
    const socket = this.socket;
    const chunks = this.takeOutput();
    if (chunks !== null) {
      this.backend.writes++;
      const last = chunks.length - 1;
      if (last > 0) socket.cork();
      for (let i = 0; i < last; i++) socket.write(chunks[i]);
      // The last write's callback reports the drain: 'drain' alone would never come when our
      // high-water mark is below the socket's own and write() kept returning true.
      socket.write(chunks[last], this.written);
      if (last > 0) socket.uncork();
    }
    if (this.takeShutdown()) socket.end();
    this.transportQueued(socket.writableLength);
  }

  private readonly written = (): void => {
    if (!this.isClosed) this.transportQueued(this.socket.writableLength);
  };

  protected override transportBacklog(): number {
    // writableLength counts a chunk until libuv has written all of it; libuv's write queue
    // shrinks as the kernel takes each part, so a slow drain still shows as progress.
    const handle = (this.socket as unknown as { _handle?: { writeQueueSize?: number } })._handle;
    return handle?.writeQueueSize ?? this.socket.writableLength;
  }

  protected setTransportReading(on: boolean): void {
    if (on) this.socket.resume();
    else this.socket.pause();
  }

  protected destroyTransport(): void {
    this.socket.destroy();
  }

  protected scheduleFlush(): void {
    this.backend.flushQueue.add(this);
  }
}

/** The same API over node:net: where the addon cannot load, and as the benchmarks' baseline. */
export class NodeBackend implements Backend {
  readonly name = 'node';
  readonly flushQueue = new FlushQueue<Connection>((connections) => {
    for (const conn of connections as NodeConnection[]) if (!conn.isClosed) conn.flushOutput();
  });
  writes = 0;
  readonly open = new Set<NodeConnection>();

  listen(address: ListenAddress, options: ListenOptions, owner: ServerOwner): Promise<BoundListener> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({
        allowHalfOpen: true,
        noDelay: options.noDelay,
        keepAlive: options.keepAliveSeconds > 0,
        keepAliveInitialDelay: options.keepAliveSeconds * 1000,
      });
      let bound: SocketAddress | null = null;
      server.on('connection', (socket) => {
        if (bound === null) {
          socket.destroy();
          return;
        }
        const addresses =
          bound.scheme === 'unix' ? { local: bound, remote: new SocketAddress('unix', '', 0, '') } : tcpAddresses(socket);
        owner.accept(new NodeConnection(owner, this, socket, addresses));
      });
      server.once('error', (error: NodeJS.ErrnoException) => {
        reject(new ListenError(address.url, error.code ?? 'ERR_RXLOOP_LISTEN', error.syscall ?? 'listen', error.message));
      });
      server.once('listening', () => {
        server.removeAllListeners('error');
        server.on('error', () => undefined); // accept errors: node:net retries by itself
        const info = server.address();
        bound =
          info !== null && typeof info === 'object'
            ? new SocketAddress('tcp', info.address, info.port)
            : new SocketAddress('unix', '', 0, address.path);
        resolve({ address: bound, close: () => server.close() });
      });
      const path = address.path.startsWith('@') ? `\0${address.path.slice(1)}` : address.path;
      // Node ≥ 22.12 understands reusePort; older versions ignore it.
      const listenOptions: net.ListenOptions & { reusePort?: boolean } = {
        ...(address.scheme === 'unix' ? { path } : { host: address.host, port: address.port }),
        backlog: options.backlog,
        reusePort: options.reusePort,
      };
      server.listen(listenOptions);
    });
  }

  counters(): LoopCounters {
    return { batches: 0, reads: 0, writev: this.writes, acceptBackoffs: 0 };
  }

  dial(target: DialTarget, options: DialSocketOptions, owner: ConnectionOwner): PendingDial {
    const socket =
      target.scheme === 'unix'
        ? net.connect({ path: target.path.startsWith('@') ? `\0${target.path.slice(1)}` : target.path, allowHalfOpen: true })
        : net.connect({
            host: target.ip,
            port: target.port,
            allowHalfOpen: true,
            noDelay: options.noDelay,
            keepAlive: options.keepAliveSeconds > 0,
            keepAliveInitialDelay: options.keepAliveSeconds * 1000,
          });
    const connection = new Promise<Connection>((resolve, reject) => {
      socket.once('error', (error: NodeJS.ErrnoException) =>
        reject(new ConnectError(target.url, error.code ?? 'ERR_RXLOOP_CONNECT', error.message)),
      );
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        const addresses =
          target.scheme === 'unix'
            ? { local: new SocketAddress('unix', '', 0, ''), remote: new SocketAddress('unix', '', 0, target.path) }
            : tcpAddresses(socket);
        resolve(new NodeConnection(owner, this, socket, addresses));
      });
    });
    return { connection, cancel: () => socket.destroy() };
  }

  connectionsOf(owner: ServerOwner): Connection[] {
    return [...this.open].filter((conn) => conn.ownedBy(owner) && !conn.isClosed);
  }

  bindDatagrams(address: ListenAddress, options: DatagramBindOptions, receive: (datagram: Datagram) => void): Promise<DatagramEndpoint> {
    return bindNodeDatagrams(address, options, receive);
  }
}

let threadBackend: NodeBackend | undefined;

export function nodeBackend(): NodeBackend {
  return (threadBackend ??= new NodeBackend());
}
