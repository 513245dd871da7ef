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

/** A socket-level failure of one connection (ECONNRESET, EPIPE, ETIMEDOUT, ...). */
export class ConnectionError extends RxloopError {
  constructor(code: string, message: string) {
    super(message, code);
  }
}
