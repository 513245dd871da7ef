/** Every error rxloop raises carries a stable `code`, as Node's own errors do. */
export class RxloopError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** An address string that cannot be used: bad scheme, port, path or option. */
export class AddressError extends RxloopError {
  constructor(
    message: string,
    readonly address: string,
  ) {
    super(`${message}: ${address}`, 'ERR_RXLOOP_ADDRESS');
  }
}

/** Binding or listening failed (EADDRINUSE, EACCES, ENOTFOUND, ...). */
export class ListenError extends RxloopError {
  constructor(
    readonly address: string,
    code: string,
    readonly syscall: string,
    detail: string,
  ) {
    super(`cannot listen on ${address}: ${detail}`, code);
  }
}

/** A dial that failed: ECONNREFUSED, ETIMEDOUT, ENOTFOUND (the name did not resolve), ... */
export class ConnectError extends RxloopError {
  constructor(
    readonly address: string,
    code: string,
    detail: string,
  ) {
    super(`cannot connect to ${address}: ${detail}`, code);
  }
}

/** A socket-level failure of one connection (ECONNRESET, EPIPE, ETIMEDOUT, ...). */
export class ConnectionError extends RxloopError {
  constructor(code: string, message: string) {
    super(message, code);
  }
}

/** A connection went past one of its server's limits: idle too long, too much queued output. */
export class LimitError extends RxloopError {
  constructor(
    code: 'ERR_RXLOOP_IDLE_TIMEOUT' | 'ERR_RXLOOP_OUTPUT_LIMIT',
    message: string,
    readonly limit: number,
  ) {
    super(message, code);
  }
}

/** A loop of a server that runs several failed: its worker could not start, threw, or exited. */
export class LoopError extends RxloopError {
  constructor(
    /** The loop's index, from 0. */
    readonly loop: number,
    message: string,
  ) {
    super(`loop ${loop}: ${message}`, 'ERR_RXLOOP_LOOP');
  }
}
