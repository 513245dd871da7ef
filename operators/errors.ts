/** What went wrong in a framing decoder or encoder. */
export type FramingErrorCode =
  /** A frame is longer than the decoder's or encoder's maxLength. */
  | 'FRAME_TOO_LONG'
  /** A length prefix that cannot be right (shorter than its own header, or not a valid varint). */
  | 'INVALID_LENGTH'
  /** The input completed in the middle of a frame. */
  | 'TRUNCATED'
  /** An encoder was given a frame that would not decode back to itself (it contains the delimiter). */
  | 'DELIMITER_IN_FRAME';

export interface FramingErrorDetails {
  /** Byte offset in the stream where the offending frame starts (decoders only). */
  readonly offset?: number;
  /** The limit that was exceeded, when one was. */
  readonly limit?: number;
}

/** A framing decoder met input it cannot frame, or an encoder met a frame it cannot encode. */
export class FramingError extends Error {
  override readonly name = 'FramingError';
  readonly offset: number | undefined;
  readonly limit: number | undefined;

  constructor(readonly code: FramingErrorCode, message: string, details: FramingErrorDetails = {}) {
    super(message);
    this.offset = details.offset;
    this.limit = details.limit;
  }
}

/** What was wrong with RESP input. The command codes match one redis-server reply each. */
export type RespProtocolErrorCode =
  | 'INVALID_MULTIBULK_LENGTH'
  | 'INVALID_BULK_LENGTH'
  | 'TOO_BIG_INLINE_REQUEST'
  | 'TOO_BIG_MBULK_COUNT_STRING'
  | 'TOO_BIG_BULK_COUNT_STRING'
  | 'EXPECTED_DOLLAR'
  | 'UNBALANCED_QUOTES'
  // Replies (what a client reads): no server answers these, so their messages are ours.
  | 'UNKNOWN_TYPE'
  | 'INVALID_LENGTH'
  | 'INVALID_INTEGER'
  | 'INVALID_DOUBLE'
  | 'INVALID_BOOLEAN'
  | 'INVALID_NULL'
  | 'INVALID_BIG_NUMBER'
  | 'INVALID_VERBATIM'
  | 'INVALID_LINE_END'
  | 'LINE_TOO_LONG'
  | 'NESTING_TOO_DEEP';

export interface RespProtocolErrorDetails {
  /** Byte offset in the stream of the line or element that is wrong. */
  readonly offset: number;
  readonly limit?: number;
}

/**
 * Malformed or over-limit RESP. For commands, `message` is exactly the text redis-server uses, so a
 * server can answer `-ERR ${message}` (an Error given to encodeReply becomes exactly that) and close.
 */
export class RespProtocolError extends Error {
  override readonly name = 'RespProtocolError';
  readonly offset: number;
  readonly limit: number | undefined;

  constructor(readonly code: RespProtocolErrorCode, message: string, details: RespProtocolErrorDetails) {
    super(message);
    this.offset = details.offset;
    this.limit = details.limit;
  }
}

/**
 * An error reply (`-WRONGTYPE ...`, or a RESP3 blob error): a value in the reply stream, not a failure
 * of it. `message` is the whole text after the `-`; `code` is its first word, by Redis convention.
 */
export class RespReplyError extends Error {
  override readonly name = 'RespReplyError';

  get code(): string {
    const space = this.message.indexOf(' ');
    return space < 0 ? this.message : this.message.slice(0, space);
  }
}
