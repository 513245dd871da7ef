import * as path from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';

import { catchError, EMPTY, finalize, map, type Observable, of, takeWhile, throwError } from 'rxjs';

import { type Server, type ServerOptions, serve } from '../../lib';
import { encodeReply, FramingError, RespProtocolError, respCommandBatches } from '../../operators';
import { CommandTable } from './command';
import { connectionCommands } from './commands/connection';
import { hashCommands } from './commands/hashes';
import { keyCommands } from './commands/keys';
import { listCommands } from './commands/lists';
import { serverCommands } from './commands/server';
import { setCommands } from './commands/sets';
import { sortedSetCommands } from './commands/sorted-sets';
import { stringCommands } from './commands/strings';
import { Keyspace } from './keyspace';
import { LoopClients } from './loop-clients';
import { RedisServerState } from './server-state';
import { type ClientIdentity, ClientSession } from './session';

export interface RedisServerOptions extends ServerOptions {
  /** Where to listen: a URL (`tcp://host:port`, `unix:///path`) or several. Default tcp://127.0.0.1:6380. */
  address?: string | string[];
}

export interface RedisServer extends Server {
  /** The data, for tests and embedding. */
  readonly keyspace: Keyspace;
}

/** Every command this server knows. */
export const COMMANDS = [
  ...connectionCommands,
  ...serverCommands,
  ...keyCommands,
  ...stringCommands,
  ...listCommands,
  ...setCommands,
  ...hashCommands,
  ...sortedSetCommands,
];

/**
 * A Redis server: RESP2 and RESP3, the commands in ./commands, one keyspace with expiry. Each
 * connection's input is cut into the batches of commands each read completed; a batch's replies
 * go out in one Buffer, so a pipeline of N commands costs one write, not N.
 *
 * With `loops` other than 1 the connections are served by loops in worker threads and the
 * commands still run here, on the one keyspace: each loop forwards its connections' input to
 * this thread and writes back the replies (as redis-server's io-threads do).
 */
export function startRedisServer(options: RedisServerOptions = {}): RedisServer {
  const { address = 'tcp://127.0.0.1:6380', ...serverOptions } = options;
  const keyspace = new Keyspace();
  let server: Server | undefined;
  const state = new RedisServerState(keyspace, new CommandTable(COMMANDS), () => server?.stats() ?? null);
  const loops: LoopClients[] = [];
  if ((serverOptions.loops ?? 1) === 1) {
    server = serve(address, (conn) => serveClient(conn.input$, conn, state), serverOptions);
  } else {
    const loopData = (): { data: unknown; transfer: MessagePort[] } => {
      const { port1, port2 } = new MessageChannel();
      loops.push(new LoopClients(port1, state, serveClient));
      return { data: port2, transfer: [port2] };
    };
    server = serve(address, { path: path.join(__dirname, 'loop-handler.js'), export: 'handler' }, { ...serverOptions, loopData });
  }
  server.listening.then((addresses) => (state.addresses = addresses), () => undefined);
  keyspace.startSweeping();
  const { listening, stats, errors$ } = server;
  const close = server.close;
  return {
    keyspace,
    listening,
    stats,
    errors$,
    close: async () => {
      keyspace.stopSweeping();
      await close();
      for (const loop of loops) loop.close();
    },
  };
}

function serveClient(input$: Observable<Buffer>, identity: ClientIdentity, state: RedisServerState): Observable<Buffer> {
  const client = new ClientSession(state, identity);
  state.clients.add(client);
  return input$.pipe(
    respCommandBatches(),
    map((batch) => client.execute(batch)),
    takeWhile(() => !client.closing, true), // QUIT: its +OK goes out, then the connection closes
    catchError(answerInputError),
    finalize(() => state.clients.delete(client)),
  );
}

/**
 * Malformed input gets redis-server's reply (`-ERR Protocol error: ...`), after the replies to the
 * commands before it, and then the connection closes. Input that ends inside a command is just
 * dropped, as redis-server drops it; anything else (a socket error) ends the connection.
 */
function answerInputError(error: unknown): Observable<Buffer> {
  if (error instanceof RespProtocolError) return of(encodeReply(error));
  if (error instanceof FramingError && error.code === 'TRUNCATED') return EMPTY;
  return throwError(() => error);
}
