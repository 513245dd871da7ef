import * as path from 'node:path';

/** The native Loop class, as bound by native/addon.cc. */
export interface NativeLoopHandle {
  listen(
    kind: 'tcp' | 'unix',
    hostOrPath: string,
    port: number,
    backlog: number,
    reusePort: boolean,
    noDelay: boolean,
    keepAliveSeconds: number,
  ): [number, Buffer];
  unlisten(slot: number): void;
  connect(kind: 'tcp' | 'unix', ipOrPath: string, port: number, noDelay: boolean, keepAliveSeconds: number): [number, number];
  flush(count: number, slab: ArrayBuffer | null, buffers: Buffer[]): void;
  setReading(slot: number, on: boolean): void;
  backlog(slot: number): number;
  destroy(slot: number): void;
  detach(slot: number): number;
  openInbox(closedCounts: Uint32Array, index: number, tcp: boolean): [number, number];
  handOff(slot: number, inboxes: number[], closedCounts: Uint32Array, balance: number): void;
  bindUdp(host: string, port: number, reusePort: boolean): [number, Buffer];
  sendDatagrams(slot: number, count: number, payloads: Buffer[], targets: Buffer[]): [number, number];
  close(): void;
}

export interface Addon {
  nextConnectionId(): number;
  Loop: new (
    onBatch: (count: number, slab: ArrayBuffer) => void,
    records: Float64Array,
    io: Float64Array,
    stats: Float64Array,
    spans: Float64Array,
    arena: Uint8Array,
  ) => NativeLoopHandle;
}

let loaded: Addon | Error | undefined;

/** Loads the addon once per thread; returns the Error if it cannot be loaded here. */
export function loadAddon(): Addon | Error {
  if (loaded === undefined) {
    try {
      // RXLOOP_ADDON points at another build of the same addon (the sanitizer build, say).
      const explicit = process.env.RXLOOP_ADDON;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = explicit ? (require(path.resolve(explicit)) as Addon) : (require('node-gyp-build')(path.join(__dirname, '..', '..', '..')) as Addon);
    } catch (error) {
      loaded = error instanceof Error ? error : new Error(String(error));
    }
  }
  return loaded;
}
