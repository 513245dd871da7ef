import type { OperatorFunction } from 'rxjs';
import { decoderOperator } from './internal/decoder-operator';
import { commandLimits, RespCommandParser, type RespCommandLimits } from './internal/resp-command-parser';

export type RespCommandsOptions = RespCommandLimits;

/**
 * What a Redis server reads: emits each command as its arguments (`[name, ...args]`), from RESP
 * multibulk arrays and inline commands, exactly as redis-server 7 accepts them. Arguments are
 * zero-copy subarrays of the input chunk when they lie in one.
 *
 * Errors with RespProtocolError (message = redis-server's text: answer `-ERR ${message}` and close)
 * after emitting every command before the bad input, or with FramingError TRUNCATED if the input
 * completes inside a command.
 */
export function respCommands(options: RespCommandsOptions = {}): OperatorFunction<Buffer, Buffer[]> {
  const limits = commandLimits(options);
  return decoderOperator(() => new RespCommandParser(limits));
}
