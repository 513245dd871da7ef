import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { Piscina } from 'piscina';
import { type Observable, catchError, ignoreElements, map, of, takeWhile, throwError } from 'rxjs';

import { type Chunk, type Connection, type ServerOptions, serve } from '../../lib';
import { type HttpRequest, HttpRequestError, httpRequests, offload, tlsServer, translate } from '../../operators';
import { type Example, type ExampleServer, listenUrl } from '../cli';
import type { ComputeJob } from './compute-worker';
import { helloResponse, textResponse } from './responses';

/** The longest computation a request may ask for. */
const MAX_COMPUTE_MS = 10_000;

/** A request's answer: ready now (a response), or work for the pool. */
type Answer = Chunk | ComputeJob;

function isResponse(answer: Answer): answer is Chunk {
  return typeof answer === 'string' || answer instanceof Uint8Array;
}

function pathOf(target: string): string | null {
  if (target.startsWith('/')) {
    const query = target.indexOf('?');
    return query < 0 ? target : target.slice(0, query);
  }
  // absolute-form ('http://host/path'), which a server must accept too (RFC 9112 §3.2.2)
  return URL.canParse(target) ? new URL(target).pathname : null;
}

function route(request: HttpRequest): Answer {
  const { method, target } = request;
  const answering = { version: request.version, keepAlive: request.keepAlive, headOnly: method === 'HEAD' };
  const path = pathOf(target);
  if (path === '/') {
    if (method === 'GET' || method === 'HEAD') return helloResponse(answering);
    return textResponse(405, 'use GET or HEAD\n', answering, 'Allow: GET, HEAD\r\n');
  }
  if (path === '/compute') {
    if (method !== 'GET') return textResponse(405, 'use GET\n', answering, 'Allow: GET\r\n');
    const ms = Number(new URL(target, 'http://x').searchParams.get('ms') ?? NaN);
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_COMPUTE_MS) {
      return textResponse(400, `ms must be an integer from 0 to ${MAX_COMPUTE_MS}\n`, answering);
    }
    return { ms, version: request.version, keepAlive: request.keepAlive };
  }
  return textResponse(404, 'not found\n', answering);
}

/** The answer to a request that cannot be framed: its status, then the connection closes. */
function refusal(error: HttpRequestError): string {
  return textResponse(error.status, `${error.message}\n`, { version: '1.1', keepAlive: false });
}

/**
 * The responses to the requests on `conn`, in request order: `GET /` at once on the loop,
 * `/compute` in the worker pool. It completes — and the connection closes — after a request
 * that does not keep the connection alive, or after the response to one that cannot be framed.
 * Requests pipelined in one read are answered in the same turn, so their responses leave in one
 * write.
 */
export function answerHttp(conn: Connection, pool: Piscina): Observable<Chunk> {
  return conn.input$.pipe(
    httpRequests(),
    takeWhile((request) => request.keepAlive, true),
    map(route),
    catchError((error: unknown) => (error instanceof HttpRequestError ? of(refusal(error)) : throwError(() => error))),
    offload<Answer, Chunk>(pool, {
      connection: conn,
      bypass: (answer) => (isResponse(answer) ? answer : undefined),
      onError: (_error, job) => textResponse(500, 'the computation failed\n', job as ComputeJob),
      highWaterMark: 64,
    }),
  );
}

/** The pool that runs /compute: one thread per core, at a lower priority than the loop. */
export function computePool(): Piscina {
  const threads = availableParallelism();
  return new Piscina({
    filename: join(__dirname, 'compute-worker.js'),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    // GET / must not queue behind CPU work: let the loop's thread win the core.
    niceIncrement: 10,
  });
}

export interface HttpServerOptions extends ServerOptions {
  /** Also serve HTTPS here, with `cert` and `key` (PEM). */
  tls?: { address: string; cert: Buffer; key: Buffer };
}

/**
 * Serves the example on `address` (and HTTPS on `options.tls.address`); closing the last server
 * also stops the pool.
 */
export function startHttp(address: string, options: HttpServerOptions = {}): ExampleServer[] {
  const { tls, ...serverOptions } = options;
  const pool = computePool();
  const servers: ExampleServer[] = [serve(address, (conn) => answerHttp(conn, pool), serverOptions)];
  if (tls) {
    const translator = tlsServer({ cert: tls.cert, key: tls.key, ALPNProtocols: ['http/1.1'] });
    const secure = serve(
      tls.address,
      (conn) => {
        const decrypted = translate(conn, translator);
        decrypted.writeFrom(answerHttp(decrypted, pool));
        return decrypted.closed$.pipe(ignoreElements());
      },
      serverOptions,
    );
    servers.push({ ...secure, scheme: 'tls' });
  }
  let open = servers.length;
  return servers.map((server) => ({
    ...server,
    close: async () => {
      await server.close();
      if (--open === 0) await pool.destroy();
    },
  }));
}

export const example: Example = {
  accepts: ['port', 'host', 'unix', 'tlsPort', 'cert', 'key'],
  defaultPort: 8080,
  start(args): ExampleServer[] {
    const tls =
      args.tlsPort === undefined
        ? undefined
        : {
            address: listenUrl({ ...args, unix: undefined, port: args.tlsPort }),
            cert: readFileSync(args.cert!),
            key: readFileSync(args.key!),
          };
    return startHttp(listenUrl(args), { backend: args.backend, tls });
  },
};
