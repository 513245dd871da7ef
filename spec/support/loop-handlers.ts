// Handler modules for the several-loops spec: each loop's worker thread loads this file.
import { type MessagePort, threadId } from 'node:worker_threads';

import { type Observable, concat, defer, of, tap } from 'rxjs';

import { type Connection, type Datagram, currentLoop } from '../../lib';

/** Echoes; the default a worker picks. */
export function handler(conn: Connection): Observable<Buffer> {
  return conn.input$;
}

/** Says which thread serves the connection, then echoes. */
export function whoami(conn: Connection): Observable<Buffer | string> {
  return concat(of(`${threadId}\n`), conn.input$);
}

/**
 * Says which loop of how many serves the connection, and what the thread that started the server
 * answers to this loop's question on the MessagePort its loopData carried; then closes.
 */
export function askHome(_conn: Connection): Observable<string> {
  return defer(async () => {
    const loop = currentLoop()!;
    const { port, question } = loop.data as { port: MessagePort; question: string };
    const answer = new Promise<string>((resolve) => port.once('message', resolve));
    port.postMessage(question);
    return `loop ${loop.index} of ${loop.count}: ${await answer}`;
  });
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
