import { Buffer } from 'node:buffer';

import { resp, type RespProtocol, type RespReplyError, type RespValue } from '../../operators';

// Replies and error replies used by many commands, made once: an error value captures a stack
// trace when it is created, which would cost more than the command itself.

export const OK = resp.simple('OK');
export const PONG = resp.simple('PONG');
export const EMPTY_ARRAY: readonly never[] = Object.freeze([]);

export const WRONGTYPE = resp.error('WRONGTYPE Operation against a key holding the wrong kind of value');
export const NOT_AN_INTEGER = resp.error('ERR value is not an integer or out of range');
export const NOT_A_FLOAT = resp.error('ERR value is not a valid float');
export const NOT_POSITIVE = resp.error('ERR value is out of range, must be positive');
export const SYNTAX_ERROR = resp.error('ERR syntax error');
export const OVERFLOW = resp.error('ERR increment or decrement would overflow');

/** Text for people (INFO, CLIENT LIST): a verbatim string under RESP3, a bulk string under RESP2, as redis-server sends it. */
export function textReply(protocol: RespProtocol, text: string): RespValue {
  return protocol === 3 ? resp.verbatim(text) : text;
}

/** redis-server's reply to a command given the wrong number of arguments; `name` as in its table, e.g. 'client|setname'. */
export function arityError(name: string): RespReplyError {
  return resp.error(`ERR wrong number of arguments for '${name}' command`);
}

export function invalidExpireTime(command: string): RespReplyError {
  return resp.error(`ERR invalid expire time in '${command}' command`);
}

export function unknownSubcommand(subcommand: Buffer, command: string): RespReplyError {
  return resp.error(`ERR unknown subcommand '${text(clip(subcommand))}'. Try ${command.toUpperCase()} HELP.`);
}

/** `ERR unknown command 'foo', with args beginning with: 'a' 'b' `, exactly as redis-server 7 words and clips it. */
export function unknownCommand(args: readonly Buffer[]): RespReplyError {
  const quoted: Buffer[] = [];
  let length = 0;
  for (let index = 1; index < args.length && length < 128; index++) {
    const argument = clip(args[index]!, 128 - length);
    quoted.push(QUOTE, argument, QUOTE_SPACE);
    length += argument.length + 3;
  }
  return resp.error(`ERR unknown command '${text(clip(args[0]!))}', with args beginning with: ${text(Buffer.concat(quoted))}`);
}

const QUOTE = Buffer.from("'");
const QUOTE_SPACE = Buffer.from("' ");

/** An argument as printf's `%.128s` shows it: at most `limit` bytes, cut at a NUL (C strings end there). */
function clip(argument: Buffer, limit = 128): Buffer {
  const nul = argument.indexOf(0);
  return argument.subarray(0, Math.min(nul < 0 ? argument.length : nul, limit));
}

/**
 * Bytes for an error text. The encoder writes text as UTF-8, so this is exact for UTF-8 input;
 * it turns CR and LF into spaces, as redis-server does in error replies.
 */
function text(bytes: Buffer): string {
  return bytes.toString('utf8');
}
