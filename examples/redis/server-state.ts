import type { ServerStats, SocketAddress } from '../../lib';
import type { CommandTable } from './command';
import type { Keyspace } from './keyspace';
import type { ClientSession } from './session';

/** What the whole server shares: the keyspace, the command table, and what INFO and CONFIG report. */
export class RedisServerState {
  readonly startedAt = Date.now();
  commandsProcessed = 0;
  /** The bound addresses, once listening. */
  addresses: readonly SocketAddress[] = [];
  /** The connected clients, for CLIENT LIST. */
  readonly clients = new Set<ClientSession>();

  constructor(
    readonly keyspace: Keyspace,
    readonly commands: CommandTable,
    /** The transport's counters: open and accepted connections, bytes, backend. */
    readonly transport: () => ServerStats | null,
  ) {}

  /** Forgets the counters that CONFIG RESETSTAT resets. */
  resetStats(): void {
    this.commandsProcessed = 0;
    this.keyspace.hits = 0;
    this.keyspace.misses = 0;
    this.keyspace.expiredKeys = 0;
  }
}
