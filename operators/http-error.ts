/** What was wrong with an HTTP/1.1 request, each with the status a server answers it with. */
export type HttpRequestErrorCode =
  /** Malformed: request line, header field, framing headers, chunked framing (400). */
  | 'BAD_REQUEST'
  /** The input ended inside a request (400). */
  | 'TRUNCATED'
  /** The request line is longer than maxRequestLineLength (414). */
  | 'URI_TOO_LONG'
  /** The header section (or a chunked body's trailer section) is longer than maxHeadersLength (431). */
  | 'HEADERS_TOO_LARGE'
  /** The body is longer than maxBodyLength (413). */
  | 'PAYLOAD_TOO_LARGE'
  /** A transfer coding other than chunked (501). */
  | 'NOT_IMPLEMENTED'
  /** An HTTP version other than 1.0 and 1.1 (505). */
  | 'VERSION_NOT_SUPPORTED';

const STATUS: Record<HttpRequestErrorCode, number> = {
  BAD_REQUEST: 400,
  TRUNCATED: 400,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  PAYLOAD_TOO_LARGE: 413,
  NOT_IMPLEMENTED: 501,
  VERSION_NOT_SUPPORTED: 505,
};

/**
 * A request that cannot be framed. After it the connection's input cannot be trusted to be in
 * step: answer `status` with `Connection: close`, and close.
 */
export class HttpRequestError extends Error {
  override readonly name = 'HttpRequestError';
  /** The HTTP status code to answer with. */
  readonly status: number;

  constructor(
    readonly code: HttpRequestErrorCode,
    message: string,
    /** Byte offset in the stream of the request (or line) at fault. */
    readonly offset: number,
    /** The limit that was exceeded, when one was. */
    readonly limit?: number,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}
