// Tasks for spec/offload.spec.ts, run in Piscina worker threads.
import { setTimeout as sleep } from 'node:timers/promises';

/** Waits `ms` (without using the CPU), then answers `id`. */
export default async function echoAfter({ id, ms }: { id: number; ms: number }): Promise<number> {
  await sleep(ms);
  return id;
}

/** Throws for odd numbers. */
export function failOdd(n: number): number {
  if (n % 2 === 1) throw new Error(`odd: ${n}`);
  return n;
}

/** Keeps the CPU busy for `ms`: a running task that only stopping its thread can interrupt. */
export function spin(ms: number): number {
  const end = Date.now() + ms;
  let rounds = 0;
  while (Date.now() < end) rounds++;
  return rounds;
}

/** What arrived: the bytes' length and the size of the memory behind them. */
export function measure(value: Uint8Array | { body: Uint8Array }): { length: number; memory: number; text: string } {
  const bytes = value instanceof Uint8Array ? value : value.body;
  return { length: bytes.byteLength, memory: bytes.buffer.byteLength, text: Buffer.from(bytes).toString() };
}
