import * as tls from 'node:tls';

import { TranslationError, type Translator } from './translate';

/**
 * Options of tlsServer: those of tls.createServer() that apply to one connection — key/cert/pfx,
 * ca, ciphers, minVersion, ..., requestCert, rejectUnauthorized, ALPNProtocols or ALPNCallback,
 * SNICallback, ticketKeys, sessionTimeout — or a ready `secureContext`.
 */
export type TlsServerOptions = tls.TlsOptions & {
  secureContext?: tls.SecureContext;
  /** Milliseconds a handshake may take before the connection is dropped (default 30 s). */
  handshakeTimeout?: number;
};

export type TlsClientOptions = tls.ConnectionOptions & {
  /** Milliseconds a handshake may take before the connection is dropped (default 30 s). */
  handshakeTimeout?: number;
};

const established = new WeakSet<tls.TLSSocket>();

const DEFAULT_HANDSHAKE_TIMEOUT = 30_000;

/** Destroys `socket` unless the returned function (the handshake is done) is called within `ms`. */
function limitHandshake(socket: tls.TLSSocket, ms = DEFAULT_HANDSHAKE_TIMEOUT): () => void {
  const timer = setTimeout(() => {
    socket.destroy(new TranslationError('ERR_RXLOOP_TLS_HANDSHAKE', `TLS handshake not done after ${ms} ms`));
  }, ms);
  timer.unref();
  const done = (): void => clearTimeout(timer);
  socket.once('close', done);
  return done;
}

/** Names a TLS failure: during the handshake (bad certificate, not TLS at all) or after it. */
function describeTlsError(error: Error, socket: tls.TLSSocket): Error {
  if (error instanceof TranslationError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const reason = (error as { reason?: string }).reason ?? error.message;
  const detail = code ? `${reason} (${code})` : reason;
  return established.has(socket)
    ? new TranslationError('ERR_RXLOOP_TLS', `TLS error: ${detail}`, { cause: error })
    : new TranslationError('ERR_RXLOOP_TLS_HANDSHAKE', `TLS handshake failed: ${detail}`, { cause: error });
}

/**
 * The server side of TLS (node:tls, so OpenSSL): the handshake, then decrypted input and
 * encrypted output. One secure context serves every connection, so TLS session tickets resume
 * across connections. A handshake that fails — or, with requestCert and rejectUnauthorized, a
 * client certificate that does not verify against `ca` — destroys that connection with a
 * TranslationError (ERR_RXLOOP_TLS_HANDSHAKE) in its closed$. After the handshake,
 * `conn.stream` has alpnProtocol, servername, authorized and getPeerCertificate().
 */
export function tlsServer(options: TlsServerOptions): Translator<tls.TLSSocket> {
  const secureContext = options.secureContext ?? tls.createSecureContext(options);
  return {
    open(raw) {
      const socket = new tls.TLSSocket(raw, { ...options, isServer: true, secureContext });
      const handshaken = limitHandshake(socket, options.handshakeTimeout);
      socket.once('secure', () => {
        handshaken();
        if (options.requestCert && !verifyClient(socket, options.rejectUnauthorized ?? true)) return;
        established.add(socket);
      });
      return socket;
    },
    describeError: describeTlsError,
  };
}

/**
 * A TLSSocket made by hand, unlike one a tls.Server makes, leaves the client certificate
 * unchecked (OpenSSL is told to accept, and tls.Server judges afterwards): judge it here the
 * same way. `ssl` is the TLSSocket's native handle, which tls.Server consults; without it,
 * refuse.
 */
function verifyClient(socket: tls.TLSSocket, rejectUnauthorized: boolean): boolean {
  const handle = (socket as unknown as { ssl?: { verifyError?(): Error | null } }).ssl;
  const verifyError = handle?.verifyError ? handle.verifyError() : new Error('cannot verify the client certificate');
  if (verifyError === null || verifyError === undefined) {
    socket.authorized = true;
    return true;
  }
  const code = (verifyError as NodeJS.ErrnoException).code ?? verifyError.message;
  socket.authorizationError = verifyError;
  if (!rejectUnauthorized) return true;
  socket.destroy(
    new TranslationError('ERR_RXLOOP_TLS_HANDSHAKE', `TLS handshake failed: client certificate rejected (${code})`, {
      cause: verifyError,
    }),
  );
  return false;
}

/**
 * The client side of TLS, for a connection on which this end speaks first: `servername` (SNI,
 * and the name the server's certificate is checked against), `ca`, a client `key`/`cert`,
 * `ALPNProtocols`, and a `session` to resume (listen for 'session' on `conn.stream`). The
 * server certificate is verified (rejectUnauthorized defaults to true); a failure, or a server
 * that does not finish the handshake within `handshakeTimeout` (30 s), destroys the connection
 * with a TranslationError (ERR_RXLOOP_TLS_HANDSHAKE).
 */
export function tlsClient(options: TlsClientOptions = {}): Translator<tls.TLSSocket> {
  return {
    open(raw) {
      const socket = tls.connect({ ...options, socket: raw });
      const handshaken = limitHandshake(socket, options.handshakeTimeout);
      socket.once('secureConnect', () => {
        handshaken();
        established.add(socket);
      });
      return socket;
    },
    describeError: describeTlsError,
  };
}
