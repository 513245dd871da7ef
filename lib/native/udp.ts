import type { SocketAddress } from '../address';
import type { Datagram, DatagramEndpoint, DatagramStats } from '../datagrams';
import { type Chunk, chunkBytes } from '../connection';
import type { NativeLoopHandle } from './addon';
import { decodeAddress, encodeIpAddress } from './sockaddr';

/** A datagram read into the loop's slab; its sender stays encoded until someone asks. */
class NativeDatagram implements Datagram {
  private sender: SocketAddress | null = null;

  constructor(
    readonly data: Buffer,
    private readonly encodedSender: Buffer,
    private readonly socket: NativeUdpSocket,
  ) {}

  get from(): SocketAddress {
    return (this.sender ??= decodeAddress(this.encodedSender, 0, 'udp'));
  }

  reply(chunk: Chunk): boolean {
    return this.socket.enqueue(this.encodedSender, chunkBytes(chunk));
  }
}

/**
 * A UDP socket of a native loop: received datagrams come as records; what is sent waits in a
 * queue that the loop flushes once per turn with sendmmsg.
 */
export class NativeUdpSocket implements DatagramEndpoint {
  private payloads: Buffer[] = [];
  private targets: Buffer[] = [];
  private blocked = false; // the kernel would block: wait for the Sendable record
  private scheduled = false;
  private closed = false;
  private readonly counters: DatagramStats = { backend: 'native', received: 0, bytesIn: 0, sent: 0, bytesOut: 0, failed: 0, dropped: 0 };

  constructor(
    private readonly handle: NativeLoopHandle,
    readonly slot: number,
    readonly address: SocketAddress,
    private readonly maxQueued: number,
    private readonly receiveDatagram: (datagram: Datagram) => void,
    private readonly schedule: (socket: NativeUdpSocket) => void,
    private readonly forget: (socket: NativeUdpSocket) => void,
  ) {}

  receive(block: Buffer, senderLength: number): void {
    this.counters.received++;
    this.counters.bytesIn += block.length - senderLength;
    this.receiveDatagram(new NativeDatagram(block.subarray(senderLength), block.subarray(0, senderLength), this));
  }

  send(to: SocketAddress, payload: Buffer): boolean {
    return this.enqueue(encodeIpAddress(to.host, to.port), payload);
  }

  enqueue(target: Buffer, payload: Buffer): boolean {
    if (this.closed || this.payloads.length >= this.maxQueued) {
      this.counters.dropped++;
      return false;
    }
    this.payloads.push(payload);
    this.targets.push(target);
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      this.schedule(this);
    }
    return true;
  }

  flush(): void {
    this.scheduled = false;
    if (this.closed || this.blocked || this.payloads.length === 0) return;
    const [done, failed] = this.handle.sendDatagrams(this.slot, this.payloads.length, this.payloads, this.targets);
    for (let i = 0; i < done; i++) this.counters.bytesOut += this.payloads[i].length;
    this.counters.sent += done;
    this.counters.failed += failed;
    if (done === this.payloads.length) {
      this.payloads = [];
      this.targets = [];
    } else {
      this.payloads.splice(0, done);
      this.targets.splice(0, done);
      this.blocked = true;
    }
  }

  /** The kernel takes datagrams again. */
  sendable(): void {
    this.blocked = false;
    this.flush();
  }

  stats(): DatagramStats {
    return { ...this.counters };
  }

  close(): void {
    if (this.closed) return;
    // What is queued goes out first, as far as the kernel takes it now: UDP gives no later chance.
    this.blocked = false;
    this.flush();
    this.closed = true;
    this.forget(this);
    this.handle.unlisten(this.slot);
  }
}
