import type { Observable } from 'rxjs';

import { type Connection, type Datagram, type DatagramServer, serve, serveDatagrams } from '../lib';
import { type Example, type ExampleServer, listenUrl } from './cli';

/** Writes back whatever the peer sends, in order, and closes after the peer does. */
export function handler(conn: Connection): Observable<Buffer> {
  return conn.input$;
}

/** Sends each datagram back to its sender. */
export function datagramHandler(datagram: Datagram): void {
  datagram.reply(datagram.data);
}

export const example: Example = {
  accepts: ['port', 'host', 'unix', 'udpPort', 'loops', 'balance'],
  defaultPort: 5000,
  start: (args) => {
    // Several loops run in worker threads, which load this very module for its handlers.
    const several = args.loops !== undefined && args.loops !== 1;
    const servers: (ExampleServer | DatagramServer)[] = [
      serve(listenUrl(args), several ? __filename : handler, { backend: args.backend, loops: args.loops, balance: args.balance }),
    ];
    if (args.udpPort !== undefined) {
      const host = args.host.includes(':') ? `[${args.host}]` : args.host;
      servers.push(serveDatagrams(`udp://${host}:${args.udpPort}`, several ? __filename : datagramHandler, { backend: args.backend, loops: args.loops }));
    }
    return servers;
  },
};
