import { Buffer } from 'node:buffer';
import type { MessagePort } from 'node:worker_threads';

/**
 * What the two sides of a LoopChannel say about a connection. A loop's worker opens it, forwards
 * its input, and says when its input ended and when it is gone; the keyspace's thread answers
 * with output, acknowledges input it has run, and says when to close or destroy it.
 */
export const Signal = {
  Open: 0,
  Input: 1,
  InputEnded: 2,
  Gone: 3,
  Output: 4,
  Ack: 5,
  Close: 6,
  Destroy: 7,
} as const;
export type Signal = (typeof Signal)[keyof typeof Signal];

/** Each signal with its connection id and a count (for Input and Output, the bytes that follow). */
const FIELDS = 3;

interface Packet {
  readonly signals: number[];
  /** Input's and Output's bytes, in the signals' order. */
  readonly bytes: ArrayBuffer | null;
  /** Open's addresses and Destroy's message, in the signals' order. */
  readonly details: unknown[];
}

export type Receiver = (signal: Signal, id: number, count: number, bytes: Buffer | null, detail: unknown) => void;

const carriesBytes = (signal: number): boolean => signal === Signal.Input || signal === Signal.Output;
const carriesDetail = (signal: number): boolean => signal === Signal.Open || signal === Signal.Destroy;

/**
 * One loop's link with the keyspace's thread: every signal sent in one turn of the event loop goes
 * in one postMessage, its bytes packed into one buffer that is transferred, not cloned. (A
 * Buffer given to postMessage as it is would be cloned with the whole pool or slab it views.)
 */
export class LoopChannel {
  private signals: number[] = [];
  private chunks: Buffer[] = [];
  private size = 0;
  private details: unknown[] = [];
  private scheduled = false;

  constructor(
    private readonly port: MessagePort,
    receive: Receiver,
  ) {
    port.on('message', (packet: Packet) => unpack(packet, receive));
  }

  send(signal: Signal, id: number, count = 0, detail?: unknown): void {
    this.signals.push(signal, id, count);
    if (carriesDetail(signal)) this.details.push(detail);
    this.schedule();
  }

  sendBytes(signal: typeof Signal.Input | typeof Signal.Output, id: number, chunk: Buffer): void {
    this.signals.push(signal, id, chunk.length);
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.schedule();
  }

  /** Called when the other side is gone (its thread ended), or once this side is done. */
  onClose(listener: () => void): void {
    this.port.once('close', listener);
  }

  close(): void {
    this.port.close();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    let bytes: ArrayBuffer | null = null;
    if (this.size !== 0) {
      const packed = new Uint8Array(this.size);
      let offset = 0;
      for (const chunk of this.chunks) {
        packed.set(chunk, offset);
        offset += chunk.length;
      }
      bytes = packed.buffer;
    }
    const packet: Packet = { signals: this.signals, bytes, details: this.details };
    this.signals = [];
    this.chunks = [];
    this.size = 0;
    this.details = [];
    this.port.postMessage(packet, bytes === null ? [] : [bytes]);
  }
}

function unpack({ signals, bytes, details }: Packet, receive: Receiver): void {
  let offset = 0;
  let detail = 0;
  for (let i = 0; i < signals.length; i += FIELDS) {
    const signal = signals[i] as Signal;
    const count = signals[i + 2]!;
    let chunk: Buffer | null = null;
    if (carriesBytes(signal)) {
      chunk = count === 0 ? Buffer.alloc(0) : Buffer.from(bytes!, offset, count);
      offset += count;
    }
    receive(signal, signals[i + 1]!, count, chunk, carriesDetail(signal) ? details[detail++] : undefined);
  }
}
