// One loop of a server that runs several: a worker thread with its own native loop, serving the
// connections its acceptor hands over (or, with reuseport, those of its own listener) with the
// handler module. lib/loops.ts is the other side of these messages.
import { parentPort, workerData } from 'node:worker_threads';

import { type DatagramHandler, type DatagramOptions, type DatagramServer, serveDatagrams } from './datagrams';
import { enterLoop } from './current-loop';
import { RxloopError } from './errors';
import { type FromLoop, type LoopWorkerData, PUBLISHED, type ToLoop } from './loops';
import { type NativeLoop, nativeLoop } from './native/loop';
import { ConnectionsObservable, type Handler, type Server, type ServerOptions, serve, serveConnections } from './server';

const PUBLISH_INTERVAL_MS = 100;

const data = workerData as LoopWorkerData;
const port = parentPort!;
const post = (message: FromLoop): void => port.postMessage(message);

/** The handler module's export: the one named, else the first of `names`, the default, or the module itself. */
function loadHandler<T>(names: string[]): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const module = require(data.handler.path) as Record<string, unknown> & { default?: unknown };
  const candidates = data.handler.export !== undefined ? [module[data.handler.export]] : [...names.map((name) => module[name]), module.default, module];
  const handler = candidates.find((candidate) => typeof candidate === 'function');
  if (handler === undefined) {
    const wanted = data.handler.export !== undefined ? `an export '${data.handler.export}'` : `a ${names.map((n) => `'${n}'`).join(' or ')} or default export`;
    throw new RxloopError(`${data.handler.path} has no ${wanted} that is a function`, 'ERR_RXLOOP_HANDLER_MODULE');
  }
  return handler as T;
}

/** Serves what the acceptor sends to one inbox per address; answers with the inboxes' fds. */
function serveInboxes(loop: NativeLoop, handler: Handler, schemes: ('tcp' | 'unix')[]): { server: Server; fds: number[] } {
  const fds: number[] = [];
  const source = new ConnectionsObservable(
    (state) =>
      schemes.map((scheme, a) => {
        const inbox = loop.openInbox(state, data.closedCounts, a * data.loops + data.index, scheme);
        fds.push(inbox.fd);
        return Promise.resolve(inbox.listener);
      }),
    data.options,
  );
  return { server: serveConnections(source, handler), fds };
}

function start(): void {
  enterLoop({ index: data.index, count: data.loops, data: data.loopData });
  const loop = nativeLoop();
  if (loop instanceof Error) throw loop;
  let server: Server | DatagramServer | null = null;
  const publish = (): void => {
    const stats = server?.stats() as Partial<Record<(typeof PUBLISHED)[number], number>> | null | undefined;
    if (stats) PUBLISHED.forEach((name, i) => (data.published[i] = stats[name] ?? 0));
  };
  const failed = (error: Error & { code?: string }): void => post({ type: 'failed', message: error.message, code: error.code });
  setInterval(publish, PUBLISH_INTERVAL_MS).unref();

  const answer = (message: ToLoop): void => {
    switch (message.type) {
      case 'inbox': {
        const inboxes = serveInboxes(loop, loadHandler<Handler>(['handler']), message.schemes);
        server = inboxes.server;
        server.listening.then(() => post({ type: 'inbox', fds: inboxes.fds }), failed);
        break;
      }
      case 'listen':
        server = serve(message.addresses, loadHandler<Handler>(['handler']), { ...(data.options as ServerOptions), backend: 'native' });
        server.listening.then((addresses) => post({ type: 'listening', addresses: addresses.map(String) }), failed);
        break;
      case 'datagrams':
        server = serveDatagrams(message.address, loadHandler<DatagramHandler>(['datagramHandler', 'handler']), {
          ...(data.options as DatagramOptions),
          backend: 'native',
        });
        server.listening.then((addresses) => post({ type: 'listening', addresses: addresses.map(String) }), failed);
        break;
      case 'close':
        // Drains this loop's connections (each within closeTimeout), then ends the thread.
        (server?.close() ?? Promise.resolve()).finally(() => {
          publish();
          process.exit(0);
        });
        break;
    }
  };
  port.on('message', (message: ToLoop) => {
    try {
      answer(message);
    } catch (error) {
      failed(error as Error); // a handler module that does not load, a bad address
    }
  });
  post({ type: 'started', stats: loop.statsBuffer });
}

try {
  start();
} catch (error) {
  const e = error as Error & { code?: string };
  post({ type: 'failed', message: e.message, code: e.code });
}

