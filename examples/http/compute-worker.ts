// The http example's CPU work, run in Piscina worker threads so that the loop never waits for it.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';

import { type Answering, textResponse } from './responses';

export interface ComputeJob extends Answering {
  /** How long to compute, in milliseconds. */
  readonly ms: number;
}

/** `ms` milliseconds of synchronous CPU work — SHA-256 chained over its own output — and its result. */
export function burnCpu(ms: number): string {
  const deadline = performance.now() + ms;
  let digest = Buffer.alloc(32);
  let rounds = 0;
  do {
    for (let i = 0; i < 64; i++) digest = createHash('sha256').update(digest).digest();
    rounds += 64;
  } while (performance.now() < deadline);
  return `sha256 ${digest.toString('hex')} after ${rounds} rounds\n`;
}

/**
 * The response to a /compute request. It is made here whole, as a string: a string crosses back
 * to the loop as a small copy, where a small Buffer (a view of Node's 8 KiB allocation pool)
 * would take the pool along.
 */
export default function compute(job: ComputeJob): string {
  return textResponse(200, burnCpu(job.ms), job);
}
