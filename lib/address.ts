import { Buffer } from 'node:buffer';

import { AddressError } from './errors';

export type Scheme = 'tcp' | 'unix' | 'udp';

/** Options an address may carry in its query string, e.g. `tcp://0.0.0.0:80?reuseport=true`. */
export interface AddressOptions {
  reuseport?: boolean;
  backlog?: number;
}

/** Where to listen, parsed from an address URL. */
export interface ListenAddress {
  readonly url: string;
  readonly scheme: Scheme;
  /** tcp, udp: a host name or IP address (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** unix: an absolute path, or '@name' for a Linux abstract socket. */
  readonly path: string;
  readonly options: AddressOptions;
}

/** A bound or connected socket address. */
export class SocketAddress {
  constructor(
    readonly scheme: Scheme,
    /** tcp, udp: the IP address; unix: '' */
    readonly host: string,
    /** tcp, udp: the port; unix: 0 */
    readonly port: number,
    /** unix: the path, '@name' when abstract, '' when unnamed; tcp: '' */
    readonly path = '',
  ) {}

  toString(): string {
    if (this.scheme === 'unix') return `unix://${this.path}`;
    return this.host.includes(':') ? `${this.scheme}://[${this.host}]:${this.port}` : `${this.scheme}://${this.host}:${this.port}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

const booleanWords: Record<string, boolean> = { true: true, '1': true, yes: true, false: false, '0': false, no: false };

function parseOptions(query: string, url: string): AddressOptions {
  const options: AddressOptions = {};
  for (const [key, value] of new URLSearchParams(query)) {
    if (key === 'reuseport') {
      const on = booleanWords[value === '' ? 'true' : value.toLowerCase()];
      if (on === undefined) throw new AddressError(`reuseport must be true or false, not '${value}'`, url);
      options.reuseport = on;
    } else if (key === 'backlog') {
      const backlog = Number(value);
      if (!Number.isInteger(backlog) || backlog < 1 || backlog > 65535) {
        throw new AddressError(`backlog must be an integer from 1 to 65535, not '${value}'`, url);
      }
      options.backlog = backlog;
    } else {
      throw new AddressError(`unknown address option '${key}'`, url);
    }
  }
  return options;
}

/**
 * Parses `tcp://host:port`, `tcp://[::1]:port`, `udp://host:port`, `unix:///abs/path` or `unix://@abstract`, each
 * optionally followed by `?reuseport=true&backlog=N`. Port 0 asks for any free port.
 */
export function parseAddress(url: string): ListenAddress {
  if (typeof url !== 'string') throw new AddressError('an address must be a string', String(url));
  const match = /^([a-z]+):\/\/([^?#]*)(?:\?([^#]*))?$/i.exec(url.trim());
  if (!match) throw new AddressError('expected scheme://location, e.g. tcp://127.0.0.1:5000', url);
  const scheme = match[1].toLowerCase();
  const location = match[2];
  const options = parseOptions(match[3] ?? '', url);

  if (scheme === 'unix') {
    if (!location.startsWith('/') && !location.startsWith('@')) {
      throw new AddressError('a unix address needs an absolute path (unix:///run/x.sock) or @name', url);
    }
    if (location === '@' || location === '/') throw new AddressError('empty unix socket name', url);
    if (location.startsWith('@') && process.platform !== 'linux') throw new AddressError('abstract unix sockets (@name) exist on Linux only', url);
    // sun_path holds 108 bytes on Linux, 104 on macOS and the BSDs: a path and its NUL, or an
    // abstract name after its leading NUL ('@').
    const size = process.platform === 'linux' ? 108 : 104;
    const limit = location.startsWith('@') ? size : size - 1;
    if (Buffer.byteLength(location) > limit) throw new AddressError('unix socket path too long for sun_path', url);
    return { url, scheme, host: '', port: 0, path: location, options };
  }
  if (scheme !== 'tcp' && scheme !== 'udp') throw new AddressError(`unsupported scheme '${scheme}' (expected tcp, udp or unix)`, url);

  const hostPort = /^(?:\[([0-9a-fA-F:.%a-zA-Z]+)\]|([^:[\]/]*)):(\d+)$/.exec(location);
  if (!hostPort) throw new AddressError(`expected ${scheme}://host:port (IPv6 in brackets)`, url);
  const host = hostPort[1] ?? hostPort[2];
  const port = Number(hostPort[3]);
  if (host === '') throw new AddressError('missing host (use 0.0.0.0 for every interface)', url);
  if (port > 65535) throw new AddressError('port out of range 0-65535', url);
  return { url, scheme, host, port, path: '', options };
}

/** parseAddress for a stream (tcp or unix): a udp:// address is for datagrams$. */
export function parseStreamAddress(url: string): ListenAddress {
  const address = parseAddress(url);
  if (address.scheme === 'udp') throw new AddressError('a udp:// address carries datagrams: use datagrams$', url);
  return address;
}
