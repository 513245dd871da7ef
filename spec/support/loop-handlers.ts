// Handler modules for the several-loops spec: each loop's worker thread loads this file.
import { threadId } from 'node:worker_threads';

import { type Observable, concat, of, tap } from 'rxjs';

import type { Connection, Datagram } from '../../lib';

/** Echoes; the default a worker picks. */
export function handler(conn: Connection): Observable<Buffer> {
  return conn.input$;
}

/** Says which thread serves the connection, then echoes. */
export function whoami(conn: Connection): Observable<Buffer | string> {
  return concat(of(`${threadId}\n`), conn.input$);
}

/** Echoes, and ends its whole loop when asked to: a loop that dies. */
export function dieOnRequest(conn: Connection): Observable<Buffer> {
  return conn.input$.pipe(
    tap((chunk) => {
      if (chunk.includes('die')) process.exit(3);
    }),
  );
}

/** Answers each datagram with the serving thread's id. */
export function datagramWhoami(datagram: Datagram): void {
  datagram.reply(`${threadId}`);
}
