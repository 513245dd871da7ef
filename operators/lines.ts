import type { OperatorFunction } from 'rxjs';
import { delimited, type DelimitedOptions } from './delimited';

export interface LinesOptions extends DelimitedOptions {
  /** Default '\n'; use '\r\n' for CRLF protocols. Lines do not include it. */
  readonly delimiter?: string | Uint8Array;
}

/** Splits a byte stream into lines: `delimited` with '\n' as the default delimiter. */
export function lines(options?: LinesOptions & { encoding?: undefined }): OperatorFunction<Buffer, Buffer>;
export function lines(options: LinesOptions & { encoding: BufferEncoding }): OperatorFunction<Buffer, string>;
export function lines(options?: LinesOptions): OperatorFunction<Buffer, Buffer | string>;
export function lines({ delimiter = '\n', ...options }: LinesOptions = {}): OperatorFunction<Buffer, Buffer | string> {
  return delimited(delimiter, options);
}
