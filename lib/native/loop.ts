import { Buffer } from 'node:buffer';
import { getSystemErrorMap } from 'node:util';

import { type ListenAddress, SocketAddress } from '../address';
import {
  type Backend,
  type BoundListener,
  HAND_OFF_BALANCES,
  type HandOffBalance,
  type DialSocketOptions,
  type DialTarget,
  type ListenOptions,
  type LoopCounters,
  type PendingDial,
  type ServerOwner,
} from '../backend';
import { Connection, type ConnectionOwner } from '../connection';
import { ConnectError, ConnectionError, ListenError } from '../errors';
import { FlushQueue } from '../flush-queue';
import type { Datagram, DatagramBindOptions, DatagramEndpoint } from '../datagrams';
import { type Addon, type NativeLoopHandle, loadAddon } from './addon';
import {
  FLUSH_SHUTDOWN,
  IO_WIDTH,
  RECORD_ACCEPT,
  RECORD_CLOSED,
  RECORD_CONNECTED,
  RECORD_DATA,
  RECORD_DATAGRAM,
  RECORD_EOF,
  RECORD_SENDABLE,
  RECORD_WIDTH,
  RECORD_WROTE,
  SPAN_ARENA,
  SPAN_BUFFER,
  SPAN_SLAB,
  SPAN_WIDTH,
  STAT_NAMES,
} from './records';
import { decodeAddress, encodedLength, packedIPv4, unpackIPv4 } from './sockaddr';
import { NativeUdpSocket } from './udp';

const RECORD_CAPACITY = 8192;
const FLUSH_CAPACITY = 4096;
// Chunks described per flush call; one connection's burst of more is sent as one Buffer.
const SPAN_CAPACITY = 16384;
// Output chunks up to ARENA_CHUNK bytes are copied into the arena, up to ARENA_SIZE a flush call:
// a copy of a few hundred bytes costs less than the N-API calls that find a Buffer's memory.
const ARENA_SIZE = 64 * 1024;
const ARENA_CHUNK = 1024;

const systemErrors = getSystemErrorMap();

function socketError(errno: number): Error | null {
  if (errno === 0) return null;
  const [code, message] = systemErrors.get(-errno) ?? [`E${errno}`, 'unknown error'];
  return new ConnectionError(code, `${code}: ${message}`);
}

class NativeConnection extends Connection {
  constructor(
    id: number,
    owner: ConnectionOwner,
    readonly slot: number,
    // An IPv4 peer stays packed as a number until someone asks (an idle connection should be small).
    private peer: number | SocketAddress,
    // Null when it is the listener's own address, shared by its connections.
    private readonly localAddress: SocketAddress | null,
    private readonly listener: NativeListener | null,
  ) {
    super(id, owner);
  }

  get remote(): SocketAddress {
    const peer = this.peer;
    if (typeof peer !== 'number') return peer;
    return (this.peer = unpackIPv4(peer));
  }

  get local(): SocketAddress {
    return this.localAddress ?? this.listener!.local;
  }

  protected setTransportReading(on: boolean): void {
    currentLoop().handle.setReading(this.slot, on);
  }

  protected override transportBacklog(): number {
    return currentLoop().handle.backlog(this.slot);
  }

  protected destroyTransport(): void {
    const loop = currentLoop();
    loop.forget(this);
    loop.handle.destroy(this.slot);
  }

  protected scheduleFlush(): void {
    currentLoop().flushQueue.add(this);
  }

  protected override get canDetach(): boolean {
    return true;
  }

  protected override detachTransport(): number {
    const loop = currentLoop();
    const fd = loop.handle.detach(this.slot);
    // The slot is reused only after this round; until then, late records still find this connection.
    queueMicrotask(() => loop.forget(this));
    return fd;
  }
}

interface Dialing {
  id: number;
  owner: ConnectionOwner;
  target: DialTarget;
  resolve(conn: Connection): void;
  reject(error: Error): void;
}

interface NativeListener {
  owner: ServerOwner;
  local: SocketAddress;
  /** Bound to 0.0.0.0 or ::, so each connection reports its own local address. */
  wildcard: boolean;
}

/**
 * The JavaScript half of a native loop: dispatches each batch of records to connections and
 * flushes the turn's output in one native call. One per thread.
 */
export class NativeLoop implements Backend {
  readonly name = 'native';
  readonly handle: NativeLoopHandle;
  readonly flushQueue = new FlushQueue<Connection>((connections) => this.flush(connections as NativeConnection[]));
  private readonly datagramQueue = new FlushQueue<NativeUdpSocket>((sockets) => {
    for (const socket of sockets) socket.flush();
  });
  private readonly udpSockets: (NativeUdpSocket | undefined)[] = [];
  private batchCount = 0;
  private readonly records = new Float64Array(RECORD_CAPACITY * RECORD_WIDTH);
  private readonly io = new Float64Array(FLUSH_CAPACITY * IO_WIDTH);
  // Shared, so that a server running several loops can read every loop's counters at any time.
  private readonly stats = new Float64Array(new SharedArrayBuffer(STAT_NAMES.length * Float64Array.BYTES_PER_ELEMENT));
  private readonly connections: (NativeConnection | undefined)[] = [];
  private readonly listeners: (NativeListener | undefined)[] = [];
  private readonly listenerSlots = new WeakMap<BoundListener, number>();
  private readonly dialing = new Map<number, Dialing>();
  private slab: ArrayBuffer | null = null;
  private slabBytes = Buffer.alloc(0);
  // This turn's output: each chunk as [source, offset, length] (see SPAN_SLAB and the others).
  private readonly spans = new Float64Array(SPAN_CAPACITY * SPAN_WIDTH);
  private spanCount = 0;
  private readonly arena = new Uint8Array(new ArrayBuffer(ARENA_SIZE));
  private arenaUsed = 0;
  private outgoing: Buffer[] = [];
  private flushed: NativeConnection[] = [];

  constructor(addon: Addon) {
    this.handle = new addon.Loop(this.onBatch, this.records, this.io, this.stats, this.spans, this.arena);
  }

  async listen(address: ListenAddress, options: ListenOptions, owner: ServerOwner): Promise<BoundListener> {
    let slot: number;
    let encoded: Buffer;
    try {
      const target = address.scheme === 'tcp' ? address.host : address.path.replace(/^@/, '\0');
      [slot, encoded] = this.handle.listen(
        address.scheme === 'tcp' ? 'tcp' : 'unix',
        target,
        address.port,
        options.backlog,
        options.reusePort,
        options.noDelay,
        options.keepAliveSeconds,
      );
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new ListenError(address.url, e.code ?? 'ERR_RXLOOP_LISTEN', e.syscall ?? 'listen', e.message);
    }
    const local = decodeAddress(encoded, 0);
    const wildcard = local.scheme === 'tcp' && (local.host === '0.0.0.0' || local.host === '::');
    this.listeners[slot] = { owner, local, wildcard };
    return this.boundListener(slot, owner, local);
  }

  private boundListener(slot: number, owner: ServerOwner, address: SocketAddress): BoundListener {
    const listener: BoundListener = {
      address,
      close: () => {
        this.listenerSlots.delete(listener);
        if (this.listeners[slot]?.owner !== owner) return;
        this.listeners[slot] = undefined;
        this.handle.unlisten(slot);
      },
    };
    this.listenerSlots.set(listener, slot);
    return listener;
  }

  /**
   * Makes `listener` (one of this loop's) send every connection it accepts to another loop's
   * inbox, chosen by `balance`; `closedCounts[i]` counts the closes of loop i's connections.
   */
  handOff(listener: BoundListener, inboxes: number[], closedCounts: Uint32Array, balance: HandOffBalance): void {
    const slot = this.listenerSlots.get(listener);
    if (slot === undefined) throw new RangeError('handOff: not a listener of this loop');
    this.handle.handOff(slot, inboxes, closedCounts, HAND_OFF_BALANCES.indexOf(balance));
  }

  /**
   * Serves, for `owner`, the connections another loop's listener hands off to the returned
   * inbox fd; each close is counted in `closedCounts[index]`.
   */
  openInbox(owner: ServerOwner, closedCounts: Uint32Array, index: number, scheme: 'tcp' | 'unix'): { fd: number; listener: BoundListener } {
    const [slot, fd] = this.handle.openInbox(closedCounts, index, scheme === 'tcp');
    // Every handed-off connection carries its own local address.
    const local = new SocketAddress(scheme, '', 0);
    this.listeners[slot] = { owner, local, wildcard: true };
    return { fd, listener: this.boundListener(slot, owner, local) };
  }

  async bindDatagrams(address: ListenAddress, options: DatagramBindOptions, receive: (datagram: Datagram) => void): Promise<DatagramEndpoint> {
    let slot: number;
    let encoded: Buffer;
    try {
      [slot, encoded] = this.handle.bindUdp(address.host, address.port, options.reusePort);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new ListenError(address.url, e.code ?? 'ERR_RXLOOP_LISTEN', e.syscall ?? 'bind', e.message);
    }
    const socket = new NativeUdpSocket(
      this.handle,
      slot,
      decodeAddress(encoded, 0, 'udp'),
      options.maxQueued,
      receive,
      (s) => this.datagramQueue.add(s),
      (s) => {
        if (this.udpSockets[s.slot] === s) this.udpSockets[s.slot] = undefined;
      },
    );
    this.udpSockets[slot] = socket;
    return socket;
  }

  /** Every counter of this loop, live, in the order of STAT_NAMES. */
  get statsBuffer(): SharedArrayBuffer {
    return this.stats.buffer as SharedArrayBuffer;
  }

  dial(target: DialTarget, options: DialSocketOptions, owner: ConnectionOwner): PendingDial {
    let slot: number;
    let id: number;
    try {
      const where = target.scheme === 'tcp' ? target.ip : target.path.replace(/^@/, '\0');
      [slot, id] = this.handle.connect(target.scheme, where, target.port, options.noDelay, options.keepAliveSeconds);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      return { connection: Promise.reject(new ConnectError(target.url, e.code ?? 'ERR_RXLOOP_CONNECT', e.message)), cancel: () => undefined };
    }
    const connection = new Promise<Connection>((resolve, reject) => {
      this.dialing.set(slot, { id, owner, target, resolve, reject });
    });
    return {
      connection,
      cancel: () => {
        const dialing = this.dialing.get(slot);
        if (dialing?.id !== id) return;
        this.dialing.delete(slot);
        this.handle.destroy(slot);
      },
    };
  }

  counters(): LoopCounters {
    const s = this.stats;
    return { batches: s[0], acceptBackoffs: s[2], reads: s[3], writev: s[5] };
  }

  connectionsOf(owner: ServerOwner): Connection[] {
    return this.connections.filter((conn): conn is NativeConnection => conn !== undefined && conn.ownedBy(owner));
  }

  forget(conn: NativeConnection): void {
    if (this.connections[conn.slot] === conn) this.connections[conn.slot] = undefined;
  }

  private readonly onBatch = (count: number, slab: ArrayBuffer): void => {
    if (slab !== this.slab) {
      this.slab = slab;
      this.slabBytes = Buffer.from(slab);
    }
    this.batchCount = count;
    this.flushQueue.batch(this.dispatchDatagramsBatched);
  };

  // Bound once, so that a batch allocates no closures.
  private readonly dispatchDatagramsBatched = (): void => this.datagramQueue.batch(this.dispatchBatch);
  private readonly dispatchBatch = (): void => this.dispatch(this.batchCount);

  private dispatch(count: number): void {
    const records = this.records;
    const bytes = this.slabBytes;
    const connections = this.connections;
    let failure: unknown = null;
    for (let i = 0, end = count * RECORD_WIDTH; i < end; i += RECORD_WIDTH) {
      const slot = records[i + 1];
      try {
        switch (records[i]) {
          case RECORD_DATA: {
            const offset = records[i + 2];
            connections[slot]?.receive(bytes.subarray(offset, offset + records[i + 3]));
            break;
          }
          case RECORD_ACCEPT:
            this.accept(slot, records[i + 2], records[i + 3]);
            break;
          case RECORD_EOF:
            connections[slot]?.receiveEnd();
            break;
          case RECORD_WROTE:
            connections[slot]?.transportQueued(records[i + 2]);
            break;
          case RECORD_CLOSED: {
            const conn = connections[slot];
            if (conn !== undefined) {
              connections[slot] = undefined;
              conn.transportClosed(socketError(records[i + 2]));
            } else {
              this.failDial(slot, records[i + 2]);
            }
            break;
          }
          case RECORD_CONNECTED:
            this.connected(slot, records[i + 2]);
            break;
          case RECORD_DATAGRAM: {
            const offset = records[i + 2];
            const senderLength = encodedLength(bytes, offset);
            this.udpSockets[slot]?.receive(bytes.subarray(offset, offset + senderLength + records[i + 3]), senderLength);
            break;
          }
          case RECORD_SENDABLE:
            this.udpSockets[slot]?.sendable();
            break;
        }
      } catch (error) {
        // One failing handler must not cost the rest of the batch its records.
        failure ??= error;
      }
    }
    if (failure !== null) {
      const error = failure;
      process.nextTick(() => {
        throw error;
      });
    }
  }

  private accept(slot: number, id: number, offset: number): void {
    const bytes = this.slabBytes;
    const listener = this.listeners[bytes.readUInt32LE(offset)];
    if (listener === undefined) {
      // Accepted in the same round as its listener closed: nobody is left to serve it.
      this.handle.destroy(slot);
      return;
    }
    const peer = packedIPv4(bytes, offset + 4) ?? decodeAddress(bytes, offset + 4);
    const local = listener.wildcard ? decodeAddress(bytes, offset + 4 + encodedLength(bytes, offset + 4)) : null;
    // Integers read from a Float64Array stay doubles; `| 0` stores small ones unboxed.
    const conn = new NativeConnection(id <= 0x7fffffff ? id | 0 : id, listener.owner, slot | 0, peer, local, listener);
    this.connections[slot] = conn;
    listener.owner.accept(conn);
  }

  private connected(slot: number, offset: number): void {
    const dialing = this.dialing.get(slot);
    if (dialing === undefined) return;
    this.dialing.delete(slot);
    const bytes = this.slabBytes;
    const remote = decodeAddress(bytes, offset + 4);
    const local = decodeAddress(bytes, offset + 4 + encodedLength(bytes, offset + 4));
    // A unix peer's address is the path dialed; the kernel reports it unnamed.
    const peer = remote.scheme === 'unix' ? new SocketAddress('unix', '', 0, dialing.target.path) : remote;
    const conn = new NativeConnection(dialing.id, dialing.owner, slot | 0, peer, local, null);
    this.connections[slot] = conn;
    dialing.resolve(conn);
  }

  private failDial(slot: number, errno: number): void {
    const dialing = this.dialing.get(slot);
    if (dialing === undefined) return;
    this.dialing.delete(slot);
    const error = (socketError(errno) ?? new ConnectionError('ECONNRESET', 'closed while connecting')) as ConnectionError;
    dialing.reject(new ConnectError(dialing.target.url, error.code, error.message));
  }

  private flush(connections: NativeConnection[]): void {
    const io = this.io;
    for (const conn of connections) {
      if (conn.isClosed) continue;
      let chunks = conn.takeOutput();
      if (chunks !== null && this.spanCount + chunks.length > SPAN_CAPACITY) {
        if (this.flushed.length > 0) this.submit();
        if (chunks.length > SPAN_CAPACITY) chunks = [Buffer.concat(chunks)];
      }
      // this.flushed, not a copy of it: submit() replaces it.
      const entry = this.flushed.length * IO_WIDTH;
      io[entry] = conn.slot;
      io[entry + 1] = conn.takeShutdown() ? FLUSH_SHUTDOWN : 0;
      io[entry + 2] = chunks === null ? 0 : chunks.length;
      if (chunks !== null) this.describe(chunks);
      if (this.flushed.push(conn) === FLUSH_CAPACITY) this.submit();
    }
    if (this.flushed.length > 0) this.submit();
  }

  /**
   * Adds `chunks` to the spans. A chunk that lies in the slab (input forwarded as it was read) is
   * named by its offset there, and a small one is copied into the arena: the native side finds
   * both without an N-API call. Any other goes into `outgoing`.
   */
  private describe(chunks: Buffer[]): void {
    let at = this.spanCount * SPAN_WIDTH;
    const spans = this.spans;
    const slab = this.slab;
    for (const chunk of chunks) {
      const length = chunk.length;
      if (chunk.buffer === slab) {
        spans[at] = SPAN_SLAB;
        spans[at + 1] = chunk.byteOffset;
      } else if (length <= ARENA_CHUNK && this.arenaUsed + length <= ARENA_SIZE) {
        this.arena.set(chunk, this.arenaUsed);
        spans[at] = SPAN_ARENA;
        spans[at + 1] = this.arenaUsed;
        this.arenaUsed += length;
      } else {
        spans[at] = SPAN_BUFFER;
        spans[at + 1] = this.outgoing.length;
        this.outgoing.push(chunk);
      }
      spans[at + 2] = length;
      at += SPAN_WIDTH;
    }
    this.spanCount = at / SPAN_WIDTH;
  }

  private submit(): void {
    const io = this.io;
    // Fresh arrays rather than emptied ones: setting an array's length is a slow path in V8.
    const flushed = this.flushed;
    this.flushed = [];
    const outgoing = this.outgoing;
    if (outgoing.length > 0) this.outgoing = [];
    this.handle.flush(flushed.length, this.slab, outgoing);
    this.spanCount = 0;
    this.arenaUsed = 0;
    for (let i = 0; i < flushed.length; i++) {
      const conn = flushed[i];
      const entry = i * IO_WIDTH;
      if (io[entry + 1] === 0) {
        conn.transportQueued(io[entry + 2]);
      } else {
        this.forget(conn);
        conn.transportClosed(socketError(io[entry + 2]));
      }
    }
  }
}

let threadLoop: NativeLoop | Error | undefined;

/** The loop every NativeConnection of this thread belongs to. */
function currentLoop(): NativeLoop {
  return threadLoop as NativeLoop;
}

/** This thread's native loop, or the Error explaining why the addon cannot run here. */
export function nativeLoop(): NativeLoop | Error {
  if (threadLoop === undefined) {
    const addon = loadAddon();
    threadLoop = addon instanceof Error ? addon : new NativeLoop(addon);
  }
  return threadLoop;
}
