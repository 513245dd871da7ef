import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import type { Balance, DatagramServer, Server } from '../lib';

/** The options every example understands; each example says which of them it uses. */
export interface ExampleArgs {
  port?: number;
  host: string;
  unix?: string;
  backend?: 'native' | 'node' | 'auto';
  /** --to: where the proxy connects. */
  to?: string;
  /** --tls-port, with the PEM files --cert and --key. */
  tlsPort?: number;
  cert?: string;
  key?: string;
  /** --loops: loops in worker threads (-1: one per core); --balance: how they share connections. */
  loops?: number;
  balance?: Balance;
  /** --udp-port: also serve datagrams. */
  udpPort?: number;
}

/** A server an example started; `scheme: 'tls'` announces its addresses as tls://. */
export type ExampleServer = Server & { readonly scheme?: 'tls' };

export interface Example {
  /** Options this example accepts besides --backend. */
  readonly accepts: readonly (keyof ExampleArgs)[];
  readonly defaultPort: number;
  start(args: ExampleArgs): (ExampleServer | DatagramServer)[];
}

const examples: Record<string, () => Example> = {
  echo: () => require('./echo').example as Example,
  http: () => require('./http').example as Example,
  redis: () => require('./redis').example as Example,
  proxy: () => require('./proxy').example as Example,
};

const USAGE = `usage: rxloop <${Object.keys(examples).join('|')}> [--port N] [--host H] [--unix PATH] [--udp-port N] [--tls-port N --cert FILE --key FILE] [--to URL] [--loops N] [--balance NAME] [--backend native|node|auto]`;
const BALANCES = ['round-robin', 'least-connections', 'random', 'source-hash', 'reuseport'];

function fail(message: string): never {
  process.stderr.write(`rxloop: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parsePort(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`${name} must be a port number, not '${text}'`);
  return port;
}

/**
 * Runs an example until SIGINT or SIGTERM, then drains its connections and exits 0. SIGUSR2
 * prints the servers' stats; a loop that fails is reported on stderr.
 */
export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || !(name in examples)) fail(name ? `unknown example '${name}'` : 'which example?');
  const example = examples[name]();
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        unix: { type: 'string' },
        backend: { type: 'string' },
        'tls-port': { type: 'string' },
        cert: { type: 'string' },
        to: { type: 'string' },
        key: { type: 'string' },
        loops: { type: 'string' },
        balance: { type: 'string' },
        'udp-port': { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  const optionArgs = [
    ['port', 'port'],
    ['host', 'host'],
    ['unix', 'unix'],
    ['tls-port', 'tlsPort'],
    ['cert', 'cert'],
    ['key', 'key'],
    ['to', 'to'],
    ['loops', 'loops'],
    ['balance', 'balance'],
    ['udp-port', 'udpPort'],
  ] as const;
  for (const [option, arg] of optionArgs) {
    if (values[option] !== undefined && !example.accepts.includes(arg)) fail(`${name} does not take --${option}`);
  }
  if ((values['tls-port'] === undefined) !== (values.cert === undefined) || (values.cert === undefined) !== (values.key === undefined)) {
    fail('--tls-port, --cert and --key go together');
  }
  const backend = values.backend as string | undefined;
  if (backend !== undefined && !['native', 'node', 'auto'].includes(backend)) fail(`unknown backend '${backend}'`);
  const loops = values.loops === undefined ? undefined : Number(values.loops);
  if (loops !== undefined && !(Number.isInteger(loops) && (loops >= 1 || loops === -1))) fail(`--loops must be a positive integer or -1, not '${values.loops}'`);
  const balance = values.balance as string | undefined;
  if (balance !== undefined && !BALANCES.includes(balance)) fail(`unknown balance '${balance}' (expected ${BALANCES.join(', ')})`);
  if (balance !== undefined && (loops ?? 1) === 1) fail('--balance needs --loops N with N other than 1');
  const args: ExampleArgs = {
    port: parsePort(values.port as string | undefined, '--port') ?? (values.unix ? undefined : example.defaultPort),
    host: (values.host as string | undefined) ?? '127.0.0.1',
    unix: values.unix as string | undefined,
    backend: backend as ExampleArgs['backend'],
    tlsPort: parsePort(values['tls-port'] as string | undefined, '--tls-port'),
    cert: values.cert as string | undefined,
    to: values.to as string | undefined,
    key: values.key as string | undefined,
    loops,
    balance: balance as Balance | undefined,
    udpPort: parsePort(values['udp-port'] as string | undefined, '--udp-port'),
  };

  let servers: (ExampleServer | DatagramServer)[] = [];
  try {
    servers = example.start(args);
    for (const server of servers) {
      for (const address of await server.listening) {
        const scheme = 'scheme' in server ? server.scheme : undefined;
        process.stdout.write(`listening ${scheme ? String(address).replace(/^tcp:/, `${scheme}:`) : address}\n`);
      }
    }
  } catch (error) {
    process.stderr.write(`rxloop: ${(error as Error).message}\n`);
    process.exit(1);
  }

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Connections that will not finish closing do not hold the exit forever.
    setTimeout(() => process.exit(0), 5000).unref();
    Promise.all(servers.map((server) => server.close())).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // SIGUSR2 asks for the counters (each loop's, for a server that runs several) as one JSON line.
  process.on('SIGUSR2', () => process.stdout.write(`${JSON.stringify({ stats: servers.map((server) => server.stats()) })}\n`));
  for (const server of servers) server.errors$.subscribe((error) => process.stderr.write(`rxloop: ${error.message}\n`));
}

/** The address URL for --host/--port or --unix. */
export function listenUrl(args: ExampleArgs): string {
  if (args.unix !== undefined) return `unix://${args.unix.startsWith('@') ? args.unix : resolve(args.unix)}`;
  return args.host.includes(':') ? `tcp://[${args.host}]:${args.port}` : `tcp://${args.host}:${args.port}`;
}
