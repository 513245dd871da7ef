const STAR = 42; // *
const QUESTION = 63; // ?
const OPEN = 91; // [
const CLOSE = 93; // ]
const CARET = 94; // ^
const DASH = 45; // -
const BACKSLASH = 92;

function lower(code: number, noCase: boolean): number {
  return noCase && code >= 65 && code <= 90 ? code + 32 : code;
}

/**
 * redis-server's stringmatchlen: glob-style matching of `text` against `pattern` (both one
 * character per byte) with `*`, `?`, `[abc]`, `[^abc]`, `[a-z]` and `\` escapes; used by KEYS
 * (with case) and CONFIG GET (without).
 */
export function globMatch(pattern: string, text: string, noCase = false): boolean {
  return matchFrom(pattern, 0, text, 0, noCase) === MATCH;
}

const MATCH = 1;
const NO_MATCH = 0;
/** A `*` failed against every rest of the text: no later `*` can do better (redis-server's skipLongerMatches). */
const NEVER = -1;

function matchFrom(pattern: string, p: number, text: string, t: number, noCase: boolean): number {
  while (p < pattern.length && t < text.length) {
    const code = pattern.charCodeAt(p);
    if (code === STAR) {
      while (p + 1 < pattern.length && pattern.charCodeAt(p + 1) === STAR) p++;
      if (p + 1 === pattern.length) return MATCH;
      for (; t < text.length; t++) {
        const result = matchFrom(pattern, p + 1, text, t, noCase);
        if (result === MATCH) return MATCH;
        if (result === NEVER) return NEVER;
      }
      return NEVER;
    } else if (code === QUESTION) {
      t++;
    } else if (code === OPEN) {
      p++;
      const negate = pattern.charCodeAt(p) === CARET;
      if (negate) p++;
      const actual = lower(text.charCodeAt(t), noCase);
      let matched = false;
      for (;;) {
        if (p >= pattern.length) {
          p--; // an unclosed class: the last character stands as its end
          break;
        }
        const member = pattern.charCodeAt(p);
        if (member === BACKSLASH && p + 1 < pattern.length) {
          p++;
          if (pattern.charCodeAt(p) === text.charCodeAt(t)) matched = true;
        } else if (member === CLOSE) {
          break;
        } else if (p + 2 < pattern.length && pattern.charCodeAt(p + 1) === DASH) {
          let start = lower(member, noCase);
          let end = lower(pattern.charCodeAt(p + 2), noCase);
          if (start > end) [start, end] = [end, start];
          if (actual >= start && actual <= end) matched = true;
          p += 2;
        } else if (lower(member, noCase) === actual) {
          matched = true;
        }
        p++;
      }
      if (matched === negate) return NO_MATCH;
      t++;
    } else {
      if (code === BACKSLASH && p + 1 < pattern.length) p++;
      if (lower(pattern.charCodeAt(p), noCase) !== lower(text.charCodeAt(t), noCase)) return NO_MATCH;
      t++;
    }
    p++;
    if (t === text.length) {
      while (p < pattern.length && pattern.charCodeAt(p) === STAR) p++;
      break;
    }
  }
  return p === pattern.length && t === text.length ? MATCH : NO_MATCH;
}
