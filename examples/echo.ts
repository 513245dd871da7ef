import type { Observable } from 'rxjs';

import { type Connection, serve } from '../lib';
import { type Example, listenUrl } from './cli';

/** Writes back whatever the peer sends, in order, and closes after the peer does. */
export function handler(conn: Connection): Observable<Buffer> {
  return conn.input$;
}

export const example: Example = {
  accepts: ['port', 'host', 'unix', 'loops', 'balance'],
  defaultPort: 5000,
  start: (args) => [
    serve(listenUrl(args), args.loops !== undefined && args.loops !== 1 ? __filename : handler, {
      backend: args.backend,
      loops: args.loops,
      balance: args.balance,
    }),
  ],
};
