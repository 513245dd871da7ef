import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TransferListItem, Worker } from 'node:worker_threads';

import { Observable, Subject } from 'rxjs';

import { type ListenAddress, SocketAddress, parseAddress, parseStreamAddress } from './address';
import { type BoundListener, HAND_OFF_BALANCES, type HandOffBalance, type ServerOwner } from './backend';
import { LoopError, RxloopError } from './errors';
import type { DatagramOptions, DatagramServeOptions, DatagramServer } from './datagrams';
import { type NativeLoop, nativeLoop } from './native/loop';
import { STAT_NAMES } from './native/records';
import type { LoopStats, Server, ServerOptions, ServerStats } from './server';
import { listenOptions } from './server';

export type Balance = HandOffBalance | 'reuseport';

/** A handler named so that a worker thread can load it: a path, a file URL, or with its export. */
export type HandlerModule = string | URL | { readonly path: string | URL; readonly export?: string };

/** The handler as a worker finds it: an absolute path, and the export to call. */
export interface HandlerSpec {
  readonly path: string;
  readonly export?: string;
}

/** The option of serve() and serveDatagrams() that gives each loop's handler module its data. */
export interface LoopDataOption {
  /**
   * With several loops: called once per loop, with its index, for what that loop's handler
   * module reads as currentLoop().data. It crosses to the worker thread as postMessage() would
   * carry it: cloned, except what `transfer` lists (a MessagePort, say), which moves.
   */
  loopData?: (index: number) => LoopData;
}

/** What one loop's handler module gets through currentLoop().data, and what moves there rather than being copied. */
export interface LoopData {
  readonly data: unknown;
  readonly transfer?: readonly TransferListItem[];
}

/** Counters a loop's worker publishes from JavaScript (the rest are its native loop's, live). */
export const PUBLISHED = ['rejected', 'idleTimeouts', 'outputLimitHits', 'dropped'] as const;

export interface LoopWorkerData {
  index: number;
  loopData: unknown;
  handler: HandlerSpec;
  options: ServerOptions | DatagramOptions;
  /** closedCounts[address * loops + index]: closes of the connections an inbox adopted. */
  closedCounts: Uint32Array;
  loops: number;
  published: Float64Array;
}

export type ToLoop =
  | { type: 'inbox'; schemes: ('tcp' | 'unix')[] }
  | { type: 'listen'; addresses: string[] }
  | { type: 'datagrams'; address: string }
  | { type: 'close' };

export type FromLoop =
  | { type: 'started'; stats: SharedArrayBuffer }
  | { type: 'inbox'; fds: number[] }
  | { type: 'listening'; addresses: string[] }
  | { type: 'failed'; message: string; code?: string };

const STAT = Object.fromEntries(STAT_NAMES.map((name, i) => [name, i])) as Record<(typeof STAT_NAMES)[number], number>;

function handlerSpec(module: HandlerModule): HandlerSpec {
  const where = typeof module === 'string' || module instanceof URL ? module : module.path;
  const exportName = typeof module === 'string' || module instanceof URL ? undefined : module.export;
  const file = where instanceof URL || where.startsWith('file:') ? fileURLToPath(where) : path.resolve(where);
  return { path: file, export: exportName };
}

/** One loop: its worker thread, and what it shares with this thread. */
class LoopThread {
  readonly worker: Worker;
  readonly exited: Promise<void>;
  alive = true;
  stats: Float64Array | null = null;
  private replies: ((message: FromLoop) => void)[] = [];

  constructor(
    readonly index: number,
    data: LoopWorkerData,
    transfer: readonly TransferListItem[],
    readonly published: Float64Array,
    onFailure: (error: LoopError) => void,
  ) {
    this.worker = new Worker(path.join(__dirname, 'loop-worker.js'), { workerData: data, transferList: [...transfer] });
    this.worker.on('message', (message: FromLoop) => {
      if (message.type === 'started') this.stats = new Float64Array(message.stats);
      this.replies.shift()?.(message);
    });
    let threw = false;
    this.worker.on('error', (error) => {
      threw = true;
      onFailure(new LoopError(index, `its worker threw: ${error.message}`));
    });
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        this.alive = false;
        if (!threw) onFailure(new LoopError(index, `its worker exited (code ${code})`));
        for (const reply of this.replies.splice(0)) reply({ type: 'failed', message: `its worker exited (code ${code})` });
        resolve();
      }),
    );
  }

  /** The worker's next message (they come in the order asked), after sending `request`. */
  ask(request: ToLoop | null): Promise<FromLoop> {
    if (!this.alive) return Promise.resolve({ type: 'failed', message: 'its worker is gone' });
    return new Promise((resolve) => {
      this.replies.push(resolve);
      if (request !== null) this.worker.postMessage(request);
    });
  }

  /** One of the loop's native counters, live. */
  counter(name: (typeof STAT_NAMES)[number]): number {
    return this.stats?.[STAT[name]] ?? 0;
  }

  snapshot(): LoopStats {
    return {
      threadId: this.worker.threadId,
      alive: this.alive,
      connections: this.counter('accepted') - this.counter('closed'),
      accepted: this.counter('accepted'),
      bytesIn: this.counter('bytesIn'),
      bytesOut: this.counter('bytesOut'),
      batches: this.counter('batches'),
      reads: this.counter('reads'),
      writev: this.counter('writev'),
    };
  }
}

function expect<T extends FromLoop['type']>(index: number, message: FromLoop, type: T): Extract<FromLoop, { type: T }> {
  if (message.type === 'failed') throw new LoopError(index, message.message);
  if (message.type !== type) throw new LoopError(index, `answered '${message.type}' where '${type}' was due`);
  return message as Extract<FromLoop, { type: T }>;
}

/** The acceptor owns no connections: its listeners hand every one to a loop. */
const ACCEPTOR: ServerOwner = {
  highWaterMark: 0,
  lowWaterMark: 0,
  maxWritableLength: 0,
  closeTimeout: 0,
  bytesIn: 0,
  bytesOut: 0,
  outputLimitHits: 0,
  accept: (conn) => conn.destroy(),
  connectionClosed: () => undefined,
};

/** The worker threads of one server that runs several loops. */
class LoopGroup {
  readonly errors = new Subject<LoopError>();
  readonly loops: LoopThread[];
  private closing = false;

  constructor(count: number, handler: HandlerModule, options: ServerOptions | DatagramServeOptions, closedCounts: Uint32Array) {
    const spec = handlerSpec(handler);
    const { loopData, ...cloneable } = options;
    const report = (error: LoopError): void => {
      if (!this.closing) this.errors.next(error);
    };
    this.loops = Array.from({ length: count }, (_, index) => {
      const published = new Float64Array(new SharedArrayBuffer(8 * PUBLISHED.length));
      const given = loopData?.(index);
      const data: LoopWorkerData = {
        index,
        loopData: given?.data,
        handler: spec,
        options: { ...cloneable, loops: 1, balance: undefined },
        closedCounts,
        loops: count,
        published,
      };
      return new LoopThread(index, data, given?.transfer ?? [], published, report);
    });
  }

  async started(): Promise<void> {
    await Promise.all(this.loops.map(async (loop) => expect(loop.index, await loop.ask(null), 'started')));
  }

  /** Sums one native counter over every loop. */
  total(name: (typeof STAT_NAMES)[number]): number {
    return this.loops.reduce((sum, loop) => sum + loop.counter(name), 0);
  }

  /** Sums a counter every loop's worker publishes. */
  published(name: (typeof PUBLISHED)[number]): number {
    const i = PUBLISHED.indexOf(name);
    return this.loops.reduce((total, loop) => total + loop.published[i], 0);
  }

  /** Asks every loop to drain and end; resolves once every thread has. */
  async close(): Promise<void> {
    this.closing = true;
    for (const loop of this.loops) if (loop.alive) loop.worker.postMessage({ type: 'close' } satisfies ToLoop);
    await Promise.all(this.loops.map((loop) => loop.exited));
  }
}

/** How many loops `requested` means, or a clear error for what cannot run on several. */
function loopCount(requested: number, handler: unknown, backend: string | undefined): number {
  if (typeof handler === 'function') {
    throw new RxloopError('several loops run in worker threads: name the handler as a module, not a function', 'ERR_RXLOOP_LOOPS');
  }
  if (requested !== -1 && !(Number.isInteger(requested) && requested >= 1)) {
    throw new RxloopError(`loops must be a positive integer or -1, not ${String(requested)}`, 'ERR_RXLOOP_LOOPS');
  }
  if (backend === 'node') {
    throw new RxloopError('several loops need the native backend (node:net sockets cannot move between threads)', 'ERR_RXLOOP_LOOPS');
  }
  const loop = nativeLoop();
  if (loop instanceof Error) throw new RxloopError(`several loops need the native addon: ${loop.message}`, 'ERR_RXLOOP_NO_ADDON');
  return requested === -1 ? availableParallelism() : requested;
}

/** serve() with `loops` other than 1: a worker thread per loop, each running the handler module. */
export function serveOnLoops(urls: string[], handler: unknown, options: ServerOptions): Server {
  const addresses = urls.map(parseStreamAddress);
  const count = loopCount(options.loops ?? 1, handler, options.backend);
  const balance = options.balance ?? 'round-robin';
  if (balance !== 'reuseport' && !HAND_OFF_BALANCES.includes(balance)) {
    throw new RxloopError(`unknown balance '${String(balance)}' (expected ${[...HAND_OFF_BALANCES, 'reuseport'].join(', ')})`, 'ERR_RXLOOP_LOOPS');
  }
  const unix = addresses.find((address) => address.scheme === 'unix');
  if (balance === 'reuseport' && unix !== undefined) {
    // A second bind of the same path fails (or, abstract, is refused): SO_REUSEPORT is for IP ports.
    throw new RxloopError(`balance 'reuseport' needs TCP addresses; ${unix.url} is a unix socket: hand it off with another balance`, 'ERR_RXLOOP_LOOPS');
  }
  const acceptor = nativeLoop() as NativeLoop;
  const closedCounts = new Uint32Array(new SharedArrayBuffer(4 * count * addresses.length));
  const group = new LoopGroup(count, handler as HandlerModule, options, closedCounts);
  const listeners: BoundListener[] = [];

  const start = async (): Promise<SocketAddress[]> => {
    await group.started();
    if (balance === 'reuseport') {
      return bindOnEveryLoop(group.loops, addresses, (urls) => ({ type: 'listen', addresses: urls }));
    }
    const inboxes = await Promise.all(
      group.loops.map(async (loop) => expect(loop.index, await loop.ask({ type: 'inbox', schemes: addresses.map((a) => (a.scheme === 'tcp' ? 'tcp' : 'unix')) }), 'inbox').fds),
    );
    return Promise.all(
      addresses.map(async (address, a) => {
        const listener = await acceptor.listen(address, listenOptions(address, options), ACCEPTOR);
        listeners.push(listener);
        acceptor.handOff(listener, inboxes.map((fds) => fds[a]), closedCounts.subarray(a * count, (a + 1) * count), balance);
        return listener.address;
      }),
    );
  };

  const close = async (): Promise<void> => {
    for (const listener of listeners.splice(0)) listener.close();
    await group.close();
  };

  const listening = start();
  listening.catch(() => close());
  return {
    listening,
    stats: () => aggregate(group, acceptor.counters().acceptBackoffs),
    close,
    errors$: group.errors.asObservable() as Observable<LoopError>,
  };
}

/** serveDatagrams() with `loops` other than 1: each loop reads its own SO_REUSEPORT socket. */
export function serveDatagramsOnLoops(url: string, handler: unknown, options: DatagramServeOptions): DatagramServer {
  const address = parseAddress(url);
  const count = loopCount(options.loops ?? 1, handler, options.backend);
  const group = new LoopGroup(count, handler as HandlerModule, options, new Uint32Array(0));
  const start = async (): Promise<SocketAddress[]> => {
    await group.started();
    return bindOnEveryLoop(group.loops, [address], ([bound]) => ({ type: 'datagrams', address: bound }));
  };
  const listening = start();
  listening.catch(() => group.close());
  return {
    listening,
    stats: () => ({
      backend: 'native',
      received: group.total('datagramsIn'),
      bytesIn: group.total('bytesIn'),
      sent: group.total('datagramsOut') + group.total('datagramsFailed'),
      bytesOut: group.total('bytesOut'),
      failed: group.total('datagramsFailed'),
      dropped: group.published('dropped'),
      loops: group.loops.map((loop) => ({ threadId: loop.worker.threadId, alive: loop.alive, received: loop.counter('datagramsIn'), sent: loop.counter('datagramsOut') })),
    }),
    close: () => group.close(),
    errors$: group.errors.asObservable() as Observable<LoopError>,
  };
}

/** reuseport: the first loop binds (resolving port 0), then every other loop binds the same port. */
async function bindOnEveryLoop(loops: LoopThread[], addresses: ListenAddress[], request: (urls: string[]) => ToLoop): Promise<SocketAddress[]> {
  const withReusePort = (url: string): string => `${url.replace(/[?&]reuseport=[^&]*/, '')}${url.includes('?') ? '&' : '?'}reuseport=true`;
  const [first, ...rest] = loops;
  const bound = expect(first.index, await first.ask(request(addresses.map((a) => withReusePort(a.url)))), 'listening').addresses;
  await Promise.all(rest.map(async (loop) => expect(loop.index, await loop.ask(request(bound.map(withReusePort))), 'listening')));
  return bound.map((url) => {
    const a = parseAddress(url);
    return new SocketAddress(a.scheme, a.host, a.port, a.path);
  });
}

function aggregate(group: LoopGroup, acceptBackoffs: number): ServerStats {
  const loops = group.loops;
  const perLoop = loops.map((loop) => loop.snapshot());
  const sum = (key: keyof LoopStats): number => perLoop.reduce((total, s) => total + (s[key] as number), 0);
  return {
    backend: 'native',
    connections: sum('connections'),
    accepted: sum('accepted'),
    bytesIn: sum('bytesIn'),
    bytesOut: sum('bytesOut'),
    batches: sum('batches'),
    reads: sum('reads'),
    writev: sum('writev'),
    acceptBackoffs: acceptBackoffs + group.total('acceptBackoffs'),
    rejected: group.published('rejected'),
    idleTimeouts: group.published('idleTimeouts'),
    outputLimitHits: group.published('outputLimitHits'),
    loops: perLoop,
  };
}
