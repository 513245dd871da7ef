// The handler module of a Redis server that runs several loops: each loop's worker thread loads
// it and, for each of its connections, forwards the input to the keyspace's thread (the one that
// started the server) and writes back the replies that come from there.
import type { MessagePort } from 'node:worker_threads';

import { Observable, type Subscriber } from 'rxjs';

import { type Connection, currentLoop } from '../../lib';
import { LoopChannel, type Receiver, Signal } from './loop-channel';

/**
 * Input of one connection on its way to the keyspace's thread and not yet run, beyond which the
 * connection is no longer read: a client that pipelines faster than the keyspace runs is slowed
 * by TCP, not queued in memory.
 */
const MAX_IN_FLIGHT = 1 << 20;

interface Forwarded {
  readonly conn: Connection;
  readonly replies: Subscriber<Buffer>;
  inFlight: number;
  paused: boolean;
}

class KeyspaceLink {
  private readonly forwarded = new Map<number, Forwarded>();
  private readonly channel: LoopChannel;

  constructor(port: MessagePort) {
    this.channel = new LoopChannel(port, this.receive);
  }

  serve(conn: Connection): Observable<Buffer> {
    return new Observable<Buffer>((replies) => {
      const entry: Forwarded = { conn, replies, inFlight: 0, paused: false };
      this.forwarded.set(conn.id, entry);
      this.channel.send(Signal.Open, conn.id, 0, [conn.remote, conn.local]);
      const input = conn.input$.subscribe({
        next: (chunk) => {
          this.channel.sendBytes(Signal.Input, conn.id, chunk);
          entry.inFlight += chunk.length;
          if (entry.inFlight > MAX_IN_FLIGHT && !entry.paused) {
            entry.paused = true;
            conn.pause();
          }
        },
        error: (error) => replies.error(error),
        complete: () => this.channel.send(Signal.InputEnded, conn.id),
      });
      return () => {
        input.unsubscribe();
        this.forwarded.delete(conn.id);
        this.channel.send(Signal.Gone, conn.id);
      };
    });
  }

  private readonly receive: Receiver = (signal, id, count, bytes, detail) => {
    const entry = this.forwarded.get(id);
    if (entry === undefined) return; // the connection went while its answers were on their way
    switch (signal) {
      case Signal.Output:
        entry.replies.next(bytes!);
        break;
      case Signal.Ack:
        entry.inFlight -= count;
        if (entry.paused && entry.inFlight <= MAX_IN_FLIGHT) {
          entry.paused = false;
          entry.conn.resume();
        }
        break;
      case Signal.Close:
        entry.replies.complete();
        break;
      case Signal.Destroy:
        entry.replies.error(new Error(detail as string));
        break;
    }
  };
}

const loop = currentLoop();
if (loop === null) throw new Error('loop-handler runs in the loops of startRedisServer({ loops }), not on its own');
const link = new KeyspaceLink(loop.data as MessagePort);

export function handler(conn: Connection): Observable<Buffer> {
  return link.serve(conn);
}
