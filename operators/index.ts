// rxloop/operators: framing and Redis-protocol operators for any Observable<Buffer>.
export { FramingError, RespProtocolError, RespReplyError } from './errors';
export type { FramingErrorCode, FramingErrorDetails, RespProtocolErrorCode, RespProtocolErrorDetails } from './errors';

export { delimited, type DelimitedOptions } from './delimited';
export { lines, type LinesOptions } from './lines';
export { encodeDelimited } from './encode-delimited';
export { encodeLines } from './encode-lines';
export { lengthPrefixed, type LengthPrefixOptions } from './length-prefixed';
export { encodeLengthPrefixed } from './encode-length-prefixed';
export { varintPrefixed, type VarintPrefixOptions } from './varint-prefixed';
export { encodeVarintPrefixed } from './encode-varint-prefixed';
export { fixed } from './fixed';

export { respCommands, type RespCommandsOptions } from './resp-commands';
export { respCommandBatches } from './resp-command-batches';
export { respReplies, type RespRepliesOptions } from './resp-replies';
export { encodeResp, type EncodeRespOptions } from './encode-resp';
export { encodeReply, encodeReplies } from './encode-reply';
export { resp } from './resp';
export type {
  RespBigNumber,
  RespDouble,
  RespNullArray,
  RespProtocol,
  RespPush,
  RespReply,
  RespSimpleString,
  RespTagged,
  RespValue,
  RespVerbatimString,
} from './resp';

export { translate, TranslatedConnection, TranslationError, type Translator, type TranslateOptions } from './translate';
export { tlsServer, tlsClient, type TlsClientOptions, type TlsServerOptions } from './tls';
export { deflate, gzip } from './compression';
export { offload, type OffloadOptions, type Pausable } from './offload';
export { httpRequests, type HttpRequest, type HttpRequestsOptions } from './http-requests';
export { HttpRequestError, type HttpRequestErrorCode } from './http-error';
