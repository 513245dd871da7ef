import { Buffer } from 'node:buffer';

import { view } from './buffer-view';

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const DOUBLE_QUOTE = 34;
const SINGLE_QUOTE = 39;
const BACKSLASH = 92;

/** C's isspace() in the "C" locale, which redis-server runs in. */
function isSpace(byte: number): boolean {
  return byte === SPACE || (byte >= TAB && byte <= CR);
}

/** What ends an unquoted argument: fewer bytes than isspace() (not \v or \f), as in sdssplitargs. */
function endsArgument(byte: number): boolean {
  return byte === SPACE || byte === LF || byte === CR || byte === TAB;
}

function isHexDigit(byte: number): boolean {
  return (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102) || (byte >= 65 && byte <= 70);
}

function hexValue(byte: number): number {
  return byte <= 57 ? byte - 48 : (byte | 0x20) - 87;
}

/**
 * Splits an inline command line the way redis-server's sdssplitargs does: arguments are separated by
 * whitespace; "double quotes" understand \n \r \t \b \a \xHH and \<any>; 'single quotes' understand
 * only \'; a closing quote must be followed by whitespace or the end of the line. Returns null where
 * redis-server answers "unbalanced quotes". Arguments without quotes are zero-copy subarrays.
 * One difference: a NUL byte is an ordinary byte here. (redis-server's C strings stop at it, and
 * its strchr() looking for the end of the line does too, so it stalls until 64 KiB arrive.)
 */
export function splitInlineArgs(line: Buffer, start: number, end: number): Buffer[] | null {
  const args: Buffer[] = [];
  let position = start;
  for (;;) {
    while (position < end && isSpace(line[position]!)) position++;
    if (position >= end) return args;
    const argumentStart = position;
    let byte = line[position]!;
    while (!endsArgument(byte) && byte !== DOUBLE_QUOTE && byte !== SINGLE_QUOTE) {
      if (++position === end) break;
      byte = line[position]!;
    }
    if (position === end || endsArgument(byte)) {
      args.push(view(line, argumentStart, position));
      continue;
    }
    const quoted = readQuotedArgument(line, argumentStart, position, end);
    if (quoted === null) return null;
    args.push(quoted.argument);
    position = quoted.next;
  }
}

/** The rare path: an argument with quotes in it, from `quoteAt` (the first quote) on. */
function readQuotedArgument(line: Buffer, argumentStart: number, quoteAt: number, end: number): { argument: Buffer; next: number } | null {
  const bytes: number[] = [];
  for (let index = argumentStart; index < quoteAt; index++) bytes.push(line[index]!);
  let inDoubleQuotes = false;
  let inSingleQuotes = false;
  let position = quoteAt;
  for (let done = false; !done; ) {
    const byte = position < end ? line[position]! : -1;
    const hasNext = position + 1 < end;
    if (inDoubleQuotes) {
      if (byte === BACKSLASH && position + 3 < end && line[position + 1] === 0x78 && isHexDigit(line[position + 2]!) && isHexDigit(line[position + 3]!)) {
        bytes.push(hexValue(line[position + 2]!) * 16 + hexValue(line[position + 3]!));
        position += 3;
      } else if (byte === BACKSLASH && hasNext) {
        position++;
        bytes.push(unescape(line[position]!));
      } else if (byte === DOUBLE_QUOTE) {
        if (hasNext && !isSpace(line[position + 1]!)) return null;
        done = true;
      } else if (byte === -1) {
        return null;
      } else {
        bytes.push(byte);
      }
    } else if (inSingleQuotes) {
      if (byte === BACKSLASH && hasNext && line[position + 1] === SINGLE_QUOTE) {
        position++;
        bytes.push(SINGLE_QUOTE);
      } else if (byte === SINGLE_QUOTE) {
        if (hasNext && !isSpace(line[position + 1]!)) return null;
        done = true;
      } else if (byte === -1) {
        return null;
      } else {
        bytes.push(byte);
      }
    } else if (byte === -1 || endsArgument(byte)) {
      done = true;
    } else if (byte === DOUBLE_QUOTE) {
      inDoubleQuotes = true;
    } else if (byte === SINGLE_QUOTE) {
      inSingleQuotes = true;
    } else {
      bytes.push(byte);
    }
    if (position < end) position++;
  }
  return { argument: Buffer.from(bytes), next: position };
}

function unescape(byte: number): number {
  switch (byte) {
    case 0x6e: return LF; // n
    case 0x72: return CR; // r
    case 0x74: return TAB; // t
    case 0x62: return 8; // b
    case 0x61: return 7; // a
    default: return byte;
  }
}
