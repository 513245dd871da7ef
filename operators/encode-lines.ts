import type { OperatorFunction } from 'rxjs';
import { encodeDelimited } from './encode-delimited';

/** Terminates each line with `delimiter` (default '\n'): the encoder that `lines` decodes. */
export function encodeLines({ delimiter = '\n' }: { readonly delimiter?: string | Uint8Array } = {}): OperatorFunction<string | Uint8Array, Buffer> {
  return encodeDelimited(delimiter);
}
