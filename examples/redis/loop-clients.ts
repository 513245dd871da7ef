import type { MessagePort } from 'node:worker_threads';

import { type Observable, Subject, type Subscription } from 'rxjs';

import { LoopChannel, type Receiver, Signal } from './loop-channel';
import type { RedisServerState } from './server-state';
import type { ClientIdentity, PeerAddress } from './session';

/** Serves one client's input: its replies, completing when the connection should close. */
export type ClientServer = (input$: Observable<Buffer>, identity: ClientIdentity, state: RedisServerState) => Observable<Buffer>;

interface RemoteClient {
  readonly input: Subject<Buffer>;
  replies: Subscription | null;
}

/**
 * The keyspace thread's side of one loop (loop-handler.ts is the other): runs the commands of
 * that loop's connections as a one-loop server runs its own, and sends back their replies.
 */
export class LoopClients {
  private readonly clients = new Map<number, RemoteClient>();
  private readonly channel: LoopChannel;

  constructor(
    port: MessagePort,
    private readonly state: RedisServerState,
    private readonly serveClient: ClientServer,
  ) {
    this.channel = new LoopChannel(port, this.receive);
    // A loop whose thread ended took its connections with it.
    this.channel.onClose(() => {
      for (const client of this.clients.values()) client.replies?.unsubscribe();
      this.clients.clear();
    });
  }

  close(): void {
    this.channel.close();
  }

  private readonly receive: Receiver = (signal, id, count, bytes, detail) => {
    switch (signal) {
      case Signal.Open: {
        const [remote, local] = detail as [PeerAddress, PeerAddress];
        const client: RemoteClient = { input: new Subject<Buffer>(), replies: null };
        this.clients.set(id, client);
        client.replies = this.serveClient(client.input, { id, remote, local }, this.state).subscribe({
          next: (reply) => this.channel.sendBytes(Signal.Output, id, reply),
          error: (error: Error) => this.channel.send(Signal.Destroy, id, 0, error.message),
          complete: () => this.channel.send(Signal.Close, id),
        });
        break;
      }
      case Signal.Input:
        this.clients.get(id)?.input.next(bytes!);
        this.channel.send(Signal.Ack, id, count);
        break;
      case Signal.InputEnded:
        this.clients.get(id)?.input.complete();
        break;
      case Signal.Gone:
        this.clients.get(id)?.replies?.unsubscribe();
        this.clients.delete(id);
        break;
    }
  };
}
