import type { RedisValue } from './values';

/** How often the active sweep runs: redis-server's default `hz 10`. */
const SWEEP_INTERVAL_MS = 100;
/** Volatile keys looked at per step of the sweep, as in redis-server's activeExpireCycle. */
const KEYS_PER_STEP = 20;
/** The sweep goes on with another step while more than this share of a step's keys had expired. */
const STALE_SHARE = 0.1;
/** The most time one sweep may take: the loop serves connections too. */
const SWEEP_BUDGET_MS = 5;

/**
 * The database: keys to values, and apart from them each volatile key's deadline (as
 * redis-server keeps an `expires` dict beside the main one). A key past its deadline is removed
 * when it is next looked up (lazily), or by the active sweep, which walks the volatile keys a few
 * at a time, so that keys nobody asks for again do not hold memory for ever.
 */
export class Keyspace {
  private readonly values = new Map<string, RedisValue>();
  /** Unix time in ms at which each volatile key expires. */
  private readonly deadlines = new Map<string, number>();
  /** Where the active sweep goes on from: Map iterators stay valid while the map changes. */
  private sweepCursor: Iterator<[string, number]> | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  expiredKeys = 0;
  hits = 0;
  misses = 0;

  /** Keys, counting expired ones not yet removed (as DBSIZE counts them). */
  get size(): number {
    return this.values.size;
  }

  get volatileSize(): number {
    return this.deadlines.size;
  }

  /** The value of `key`, removing it first if it has expired. */
  get(key: string): RedisValue | undefined {
    const value = this.values.get(key);
    if (value !== undefined && this.deadlines.size !== 0 && this.isExpired(key)) return undefined;
    return value;
  }

  /** As get(), counted in INFO's keyspace_hits / keyspace_misses: for lookups by read commands. */
  read(key: string): RedisValue | undefined {
    const value = this.get(key);
    if (value === undefined) this.misses++;
    else this.hits++;
    return value;
  }

  /** Stores `value` under `key`, dropping the key's time to live unless `keepTtl`. */
  set(key: string, value: RedisValue, keepTtl = false): void {
    this.values.set(key, value);
    if (!keepTtl && this.deadlines.size !== 0) this.deadlines.delete(key);
  }

  /** Removes `key`; false if it did not exist (or had expired). */
  delete(key: string): boolean {
    if (this.get(key) === undefined) return false;
    this.remove(key);
    return true;
  }

  /** The key's deadline (unix ms), or undefined if it has none. The key must exist. */
  deadline(key: string): number | undefined {
    return this.deadlines.get(key);
  }

  /** Sets the key's deadline (unix ms). The key must exist. */
  expireAt(key: string, deadline: number): void {
    this.deadlines.set(key, deadline);
  }

  /** Drops the key's deadline; false if it had none. */
  persist(key: string): boolean {
    return this.deadlines.delete(key);
  }

  /** The keys that have not expired. */
  *keys(): IterableIterator<string> {
    const now = Date.now();
    for (const key of this.values.keys()) {
      const deadline = this.deadlines.get(key);
      if (deadline === undefined || deadline > now) yield key;
    }
  }

  clear(): void {
    this.values.clear();
    this.deadlines.clear();
    this.sweepCursor = null;
  }

  /** Starts the active sweep, on a timer that does not keep the process alive. */
  startSweeping(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.sweep(SWEEP_BUDGET_MS), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  stopSweeping(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  /**
   * One active-expiry cycle: steps of KEYS_PER_STEP volatile keys, removing the expired ones, for
   * as long as a step finds more than STALE_SHARE of them expired and the time budget lasts.
   */
  sweep(budgetMs: number): void {
    const stopAt = performance.now() + budgetMs;
    for (;;) {
      const step = Math.min(KEYS_PER_STEP, this.deadlines.size);
      if (step === 0) return;
      const now = Date.now();
      let expired = 0;
      for (let looked = 0; looked < step; looked++) {
        const [key, deadline] = this.nextVolatile();
        if (deadline <= now) {
          this.remove(key);
          this.expiredKeys++;
          expired++;
        }
      }
      if (expired <= step * STALE_SHARE || performance.now() >= stopAt) return;
    }
  }

  /** The next volatile key in the sweep's walk, starting over at the end. There must be one. */
  private nextVolatile(): [string, number] {
    let next = this.sweepCursor?.next();
    if (next === undefined || next.done) {
      this.sweepCursor = this.deadlines.entries();
      next = this.sweepCursor.next();
    }
    return next.value as [string, number];
  }

  private isExpired(key: string): boolean {
    const deadline = this.deadlines.get(key);
    if (deadline === undefined || deadline > Date.now()) return false;
    this.remove(key);
    this.expiredKeys++;
    return true;
  }

  private remove(key: string): void {
    this.values.delete(key);
    this.deadlines.delete(key);
  }
}
