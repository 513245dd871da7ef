import { map, type OperatorFunction } from 'rxjs';
import { encodeReply } from './encode-reply';
import type { RespProtocol, RespValue } from './resp';

export interface EncodeRespOptions {
  /** 2 (default) or 3: under 2, RESP3-only types are downgraded as redis-server does. */
  readonly protocol?: RespProtocol;
}

/** Encodes each reply value as RESP, one exactly-sized Buffer per reply (see encodeReplies for batches). */
export function encodeResp({ protocol = 2 }: EncodeRespOptions = {}): OperatorFunction<RespValue, Buffer> {
  return map((value) => encodeReply(value, protocol));
}
