import { Buffer } from 'node:buffer';

import type { SocketAddress } from '../../lib';
import { encodeReplies, RespReplyError, type RespProtocol, type RespValue } from '../../operators';
import type { Keyspace } from './keyspace';
import { arityError, unknownCommand } from './replies';
import type { RedisServerState } from './server-state';

/** An address's fields, as they arrive from a loop in another thread too. */
export type PeerAddress = Pick<SocketAddress, 'scheme' | 'host' | 'port' | 'path'>;

/** Who a client is, as CLIENT ID and CLIENT LIST tell: a Connection is one. */
export interface ClientIdentity {
  /** Unique for the life of the process. */
  readonly id: number;
  readonly remote: PeerAddress;
  readonly local: PeerAddress;
}

/**
 * One client connection's state (what redis-server keeps in its `client` struct), and the
 * execution of the commands it sends.
 */
export class ClientSession {
  /** The reply protocol, 2 until HELLO 3. */
  protocol: RespProtocol = 2;
  /** Set by CLIENT SETNAME or HELLO ... SETNAME; null for none. */
  name: Buffer | null = null;
  libraryName: Buffer | null = null;
  libraryVersion: Buffer | null = null;
  /** Set by QUIT: the connection closes once the replies so far are written. */
  closing = false;
  readonly connectedAt = Date.now();

  constructor(
    readonly server: RedisServerState,
    private readonly identity: ClientIdentity,
  ) {}

  /** CLIENT ID and HELLO's id. */
  get id(): number {
    return this.identity.id;
  }

  get db(): Keyspace {
    return this.server.keyspace;
  }

  /** A line of CLIENT LIST (and CLIENT INFO): redis-server's fields that mean something here, and 7.2's lib-name and lib-ver. */
  describe(): string {
    const fields: [string, string | number][] = [
      ['id', this.id],
      ['addr', addressText(this.identity.remote)],
      ['laddr', addressText(this.identity.local)],
      ['name', this.name?.toString('latin1') ?? ''],
      ['age', Math.floor((Date.now() - this.connectedAt) / 1000)],
      ['flags', 'N'],
      ['db', 0],
      ['user', 'default'],
      ['resp', this.protocol],
      ['lib-name', this.libraryName?.toString('latin1') ?? ''],
      ['lib-ver', this.libraryVersion?.toString('latin1') ?? ''],
    ];
    return `${fields.map(([field, value]) => `${field}=${value}`).join(' ')}\n`;
  }

  /**
   * Runs the commands that one read completed and returns all their replies in one Buffer, for
   * one write. Stops after QUIT. HELLO may change the protocol midway: the replies before it are
   * encoded in the old protocol, HELLO's own and later ones in the new.
   */
  execute(batch: readonly Buffer[][]): Buffer {
    // A fresh array per batch: emptying a kept one (length = 0) is a slower runtime call.
    let replies: RespValue[] = [];
    let protocol = this.protocol;
    let encoded: Buffer[] | null = null;
    let executed = 0;
    while (executed < batch.length && !this.closing) {
      replies.push(this.call(batch[executed++]!));
      if (this.protocol !== protocol) {
        const last = replies.pop()!;
        (encoded ??= []).push(encodeReplies(replies, protocol));
        replies = [last];
        protocol = this.protocol;
      }
    }
    this.server.commandsProcessed += executed;
    const output = encodeReplies(replies, protocol);
    if (encoded === null) return output;
    encoded.push(output);
    return Buffer.concat(encoded);
  }

  private call(args: Buffer[]): RespValue {
    const command = this.server.commands.lookup(args[0]!);
    if (command === undefined) return unknownCommand(args);
    const arity = command.arity;
    if (arity >= 0 ? args.length !== arity : args.length < -arity) return arityError(command.name);
    try {
      return command.run(this, args);
    } catch (error) {
      // Commands throw the error replies they answer with (WRONGTYPE, not an integer, ...);
      // anything else is a bug, which ends this connection (its pipeline errors), not the server.
      if (error instanceof RespReplyError) return error;
      throw error;
    }
  }
}

/** An address as redis-server writes it in CLIENT LIST: ip:port, or path:0 for a unix socket. */
function addressText(address: PeerAddress): string {
  return address.scheme === 'unix' ? `${address.path}:0` : `${address.host}:${address.port}`;
}
