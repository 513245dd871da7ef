import * as dgram from 'node:dgram';
import { isIPv6 } from 'node:net';

import { type ListenAddress, SocketAddress } from '../address';
import { type Chunk, chunkBytes } from '../connection';
import type { Datagram, DatagramBindOptions, DatagramEndpoint, DatagramStats } from '../datagrams';
import { ListenError } from '../errors';

class NodeDatagram implements Datagram {
  readonly from: SocketAddress;

  constructor(
    readonly data: Buffer,
    info: dgram.RemoteInfo,
    private readonly socket: NodeUdpSocket,
  ) {
    this.from = new SocketAddress('udp', info.address, info.port);
  }

  reply(chunk: Chunk): boolean {
    return this.socket.send(this.from, chunkBytes(chunk));
  }
}

/** The same contract over node:dgram: one send per datagram, no batching. */
class NodeUdpSocket implements DatagramEndpoint {
  private readonly counters: DatagramStats = { backend: 'node', received: 0, bytesIn: 0, sent: 0, bytesOut: 0, failed: 0, dropped: 0 };
  private closed = false;
  private inFlight = 0; // sends whose callback has not come yet

  constructor(
    private readonly socket: dgram.Socket,
    readonly address: SocketAddress,
    private readonly maxQueued: number,
  ) {}

  received(data: Buffer): void {
    this.counters.received++;
    this.counters.bytesIn += data.length;
  }

  send(to: SocketAddress, payload: Buffer): boolean {
    if (this.closed || this.inFlight >= this.maxQueued) {
      this.counters.dropped++;
      return false;
    }
    this.inFlight++;
    this.socket.send(payload, to.port, to.host, (error) => {
      this.inFlight--;
      if (error) {
        this.counters.failed++;
        return;
      }
      this.counters.sent++;
      this.counters.bytesOut += payload.length;
    });
    return true;
  }

  stats(): DatagramStats {
    return { ...this.counters };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}

export function bindNodeDatagrams(address: ListenAddress, options: DatagramBindOptions, receive: (datagram: Datagram) => void): Promise<DatagramEndpoint> {
  return new Promise((resolve, reject) => {
    // Node ≥ 22.12 understands reusePort; older versions ignore it.
    const socketOptions: dgram.SocketOptions & { reusePort?: boolean } = {
      type: isIPv6(address.host) ? 'udp6' : 'udp4',
      reusePort: options.reusePort,
    };
    const socket = dgram.createSocket(socketOptions);
    let endpoint: NodeUdpSocket | null = null;
    socket.on('message', (data, info) => {
      if (endpoint === null) return;
      endpoint.received(data);
      receive(new NodeDatagram(data, info, endpoint));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      reject(new ListenError(address.url, error.code ?? 'ERR_RXLOOP_LISTEN', error.syscall ?? 'bind', error.message));
    });
    socket.bind(address.port, address.host, () => {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined); // a send's error reaches its callback
      const bound = socket.address();
      endpoint = new NodeUdpSocket(socket, new SocketAddress('udp', bound.address, bound.port), options.maxQueued);
      resolve(endpoint);
    });
  });
}
