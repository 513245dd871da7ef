import { resp, type RespValue } from '../../../operators';
import { bytesOf, countArgument, doubleArgument, formatDouble, integerArgument, isOption, keyOf, optionFlag, optionFlags, strtod } from '../arguments';
import { commandGroup, ONE_KEY } from '../command';
import { EMPTY_ARRAY, SYNTAX_ERROR } from '../replies';
import type { ClientSession } from '../session';
import { SortedSet, type ScoredMember } from '../sorted-set';
import { ofType, removeMembers } from '../values';

const NX_WITH_XX = resp.error('ERR XX and NX options at the same time are not compatible');
const NX_WITH_GT_OR_LT = resp.error('ERR GT, LT, and/or NX options at the same time are not compatible');
const INCR_WITH_MANY = resp.error('ERR INCR option supports a single increment-element pair');
const NAN_SCORE = resp.error('ERR resulting score is not a number (NaN)');
const LIMIT_NEEDS_BY = resp.error('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
const WITHSCORES_WITH_BYLEX = resp.error('ERR syntax error, WITHSCORES not supported in combination with BYLEX');
const NOT_A_FLOAT_RANGE = resp.error('ERR min or max is not a float');
const NOT_A_LEX_RANGE = resp.error('ERR min or max not valid string range item');

/**
 * A score as redis-server 7.0 replies with it: under RESP2 a bulk string in %.17g, under RESP3 a
 * double (which the encoder writes in the shortest form that reads back the same, as
 * redis-server 7.2 does; 7.0 writes %.17g there too).
 */
function scoreReply(client: ClientSession, score: number): RespValue {
  return client.protocol === 2 ? formatDouble(score) : resp.double(score);
}

/** Members with their scores: flat under RESP2, [member, score] pairs under RESP3. */
function withScoresReply(client: ClientSession, entries: readonly ScoredMember[]): RespValue {
  const reply: RespValue[] = [];
  for (const { member, score } of entries) {
    if (client.protocol === 2) reply.push(bytesOf(member), scoreReply(client, score));
    else reply.push([bytesOf(member), scoreReply(client, score)]);
  }
  return reply;
}

const ZADD_OPTIONS = optionFlags('nx', 'xx', 'gt', 'lt', 'ch', 'incr');
const { nx: NX, xx: XX, gt: GT, lt: LT, ch: CH, incr: INCR } = ZADD_OPTIONS;

/** ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...], as redis-server 7's zaddGenericCommand. */
function zadd(client: ClientSession, args: Buffer[], options = 0): RespValue {
  let first = 2; // the first score
  for (; first < args.length; first++) {
    const option = optionFlag(args[first]!, ZADD_OPTIONS);
    if (!option) break;
    options |= option;
  }
  const pairs = (args.length - first) / 2;
  if (pairs === 0 || !Number.isInteger(pairs)) throw SYNTAX_ERROR;
  if (options & NX && options & XX) throw NX_WITH_XX;
  if ((options & NX && options & (GT | LT)) || (options & GT && options & LT)) throw NX_WITH_GT_OR_LT;
  if (options & INCR && pairs > 1) throw INCR_WITH_MANY;
  // Every score is read before anything changes: the command applies wholly or not at all.
  const scores: number[] = [];
  for (let pair = 0; pair < pairs; pair++) scores.push(doubleArgument(args[first + pair * 2]!) + 0); // + 0: -0 is stored as 0

  const key = keyOf(args[1]!);
  let set = ofType(client.db.get(key), SortedSet);
  if (set === undefined) {
    if (options & XX) return options & INCR ? null : 0;
    set = new SortedSet();
    client.db.set(key, set);
  }
  let added = 0;
  let changed = 0;
  let result: number | null = null; // INCR's new score; stays null if nothing was done
  for (let pair = 0; pair < pairs; pair++) {
    const member = keyOf(args[first + pair * 2 + 1]!);
    let score = scores[pair]!;
    const current = set.score(member);
    if (current === undefined) {
      if (options & XX) continue;
      set.set(member, score);
      added++;
    } else {
      if (options & NX) continue;
      if (options & INCR) {
        score += current;
        if (Number.isNaN(score)) throw NAN_SCORE;
      }
      if ((options & LT && score >= current) || (options & GT && score <= current)) continue;
      if (score !== current) {
        set.set(member, score);
        changed++;
      }
    }
    result = score;
  }
  if (options & INCR) return result === null ? null : scoreReply(client, result);
  return options & CH ? added + changed : added;
}

function zscore(client: ClientSession, args: Buffer[]): RespValue {
  const score = ofType(client.db.read(keyOf(args[1]!)), SortedSet)?.score(keyOf(args[2]!));
  return score === undefined ? null : scoreReply(client, score);
}

function zcard(client: ClientSession, args: Buffer[]): RespValue {
  return ofType(client.db.read(keyOf(args[1]!)), SortedSet)?.size ?? 0;
}

/** One end of a BYSCORE range: `(` before the number makes it exclusive. */
interface ScoreBound {
  readonly score: number;
  readonly exclusive: boolean;
}

/** zslParseRange's reading of one end: strtod, so " 5", "" (0) and "1e999" (inf) pass. */
function scoreBound(argument: Buffer): ScoreBound {
  const text = argument.toString('latin1');
  const exclusive = text.startsWith('(');
  const score = strtod(exclusive ? text.slice(1) : text);
  if (Number.isNaN(score)) throw NOT_A_FLOAT_RANGE;
  return { score, exclusive };
}

/** One end of a BYLEX range: `-` and `+` are the ends of all strings, `[m` includes m, `(m` does not. */
interface LexBound {
  readonly member: string;
  readonly exclusive: boolean;
  /** -1 for `-`, 1 for `+`, 0 for a member. */
  readonly infinity: -1 | 0 | 1;
}

function lexBound(argument: Buffer): LexBound {
  const text = argument.toString('latin1');
  if (text === '-') return { member: '', exclusive: false, infinity: -1 };
  if (text === '+') return { member: '', exclusive: false, infinity: 1 };
  if (text.startsWith('[') || text.startsWith('(')) return { member: text.slice(1), exclusive: text[0] === '(', infinity: 0 };
  throw NOT_A_LEX_RANGE;
}

/** Whether `member` is past the lower bound `min` (false then true along a lexically ordered set). */
function reachesLexMin(member: string, min: LexBound): boolean {
  if (min.infinity !== 0) return min.infinity < 0;
  return min.exclusive ? member > min.member : member >= min.member;
}

function passesLexMax(member: string, max: LexBound): boolean {
  if (max.infinity !== 0) return max.infinity < 0;
  return max.exclusive ? member >= max.member : member > max.member;
}

/**
 * ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES], as redis-server
 * 7's zrangeGenericCommand: options first, then the range, then the key.
 */
function zrange(client: ClientSession, args: Buffer[]): RespValue {
  let withScores = false;
  let reverse = false;
  let by: 'rank' | 'score' | 'lex' | undefined;
  let offset = 0;
  let limit = -1;
  for (let index = 4; index < args.length; index++) {
    const option = args[index]!;
    if (isOption(option, 'withscores')) withScores = true;
    else if (isOption(option, 'limit') && index + 2 < args.length) {
      offset = integerArgument(args[index + 1]!);
      limit = integerArgument(args[index + 2]!);
      index += 2;
    } else if (!reverse && isOption(option, 'rev')) reverse = true;
    else if (by === undefined && isOption(option, 'bylex')) by = 'lex';
    else if (by === undefined && isOption(option, 'byscore')) by = 'score';
    else throw SYNTAX_ERROR;
  }
  by ??= 'rank';
  if (limit !== -1 && by === 'rank') throw LIMIT_NEEDS_BY;
  if (withScores && by === 'lex') throw WITHSCORES_WITH_BYLEX;
  // BYSCORE and BYLEX take the range highest first under REV.
  const [low, high] = reverse && by !== 'rank' ? [args[3]!, args[2]!] : [args[2]!, args[3]!];

  let select: (set: SortedSet) => ScoredMember[];
  if (by === 'rank') {
    const start = integerArgument(low);
    const stop = integerArgument(high);
    select = (set) => byRank(set, start, stop, reverse);
  } else if (by === 'score') {
    const min = scoreBound(low);
    const max = scoreBound(high);
    select = (set) =>
      limited(
        set,
        set.rankWhere((entry) => (min.exclusive ? entry.score > min.score : entry.score >= min.score)),
        set.rankWhere((entry) => (max.exclusive ? entry.score >= max.score : entry.score > max.score)),
        reverse,
        offset,
        limit,
      );
  } else {
    const min = lexBound(low);
    const max = lexBound(high);
    select = (set) =>
      limited(set, set.rankWhere((entry) => reachesLexMin(entry.member, min)), set.rankWhere((entry) => passesLexMax(entry.member, max)), reverse, offset, limit);
  }

  const set = ofType(client.db.read(keyOf(args[1]!)), SortedSet);
  if (set === undefined) return EMPTY_ARRAY;
  const entries = select(set);
  return withScores ? withScoresReply(client, entries) : entries.map(({ member }) => bytesOf(member));
}

/** Ranks start..stop (negative from the end), counted from the top under REV. */
function byRank(set: SortedSet, start: number, stop: number, reverse: boolean): ScoredMember[] {
  const size = set.size;
  if (start < 0) start = Math.max(0, size + start);
  if (stop < 0) stop = size + stop;
  if (start > stop || start >= size) return [];
  stop = Math.min(stop, size - 1);
  if (!reverse) return set.range(start, stop);
  return set.range(size - 1 - stop, size - 1 - start).reverse();
}

/** Ranks first..end (exclusive), in the requested direction, after LIMIT's offset and count (-1: all). */
function limited(set: SortedSet, first: number, end: number, reverse: boolean, offset: number, limit: number): ScoredMember[] {
  // redis-server skips `offset` entries with `while (offset--)`: a negative offset skips them all.
  if (offset < 0 || first >= end) return [];
  const available = end - first - offset;
  const count = limit < 0 ? available : Math.min(limit, available);
  if (count <= 0) return [];
  if (!reverse) return set.range(first + offset, first + offset + count - 1);
  return set.range(end - offset - count, end - offset - 1).reverse();
}

/** ZPOPMIN key [count]: under RESP3 with a count, [member, score] pairs; otherwise flat. */
function zpopmin(client: ClientSession, args: Buffer[]): RespValue {
  if (args.length > 3) throw SYNTAX_ERROR;
  const hasCount = args.length === 3;
  const count = hasCount ? countArgument(args[2]!) : 1;
  if (count === 0) return EMPTY_ARRAY; // before the key is looked at, as in redis-server
  const key = keyOf(args[1]!);
  const set = ofType(client.db.get(key), SortedSet);
  if (set === undefined) return EMPTY_ARRAY;
  const popped = set.popMin(count);
  if (set.size === 0) client.db.delete(key);
  if (client.protocol === 3 && !hasCount) return [bytesOf(popped[0]!.member), scoreReply(client, popped[0]!.score)];
  return withScoresReply(client, popped);
}

export const sortedSetCommands = commandGroup('sorted-set', [
  [{ name: 'zadd', arity: -4, flags: ['write', 'denyoom', 'fast'], keys: ONE_KEY, since: '1.2.0', summary: 'Add one or more members to a sorted set, or update its score if it already exists', complexity: 'O(log(N)) for each item added, where N is the number of elements in the sorted set.' }, (client, args) => zadd(client, args)],
  [
    { name: 'zincrby', arity: 4, flags: ['write', 'denyoom', 'fast'], keys: ONE_KEY, since: '1.2.0', summary: 'Increment the score of a member in a sorted set', complexity: 'O(log(N)) where N is the number of elements in the sorted set.' },
    (client, args) => zadd(client, args, INCR),
  ],
  [{ name: 'zscore', arity: 3, flags: ['readonly', 'fast'], keys: ONE_KEY, since: '1.2.0', summary: 'Get the score associated with the given member in a sorted set', complexity: 'O(1)' }, zscore],
  [{ name: 'zcard', arity: 2, flags: ['readonly', 'fast'], keys: ONE_KEY, since: '1.2.0', summary: 'Get the number of members in a sorted set', complexity: 'O(1)' }, zcard],
  [{ name: 'zrem', arity: -3, flags: ['write', 'fast'], keys: ONE_KEY, since: '1.2.0', summary: 'Remove one or more members from a sorted set', complexity: 'O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.' }, (client, args) => removeMembers(client.db, args, SortedSet)],
  [{ name: 'zrange', arity: -4, flags: ['readonly'], keys: ONE_KEY, since: '1.2.0', summary: 'Return a range of members in a sorted set', complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.' }, zrange],
  [{ name: 'zpopmin', arity: -2, flags: ['write', 'fast'], keys: ONE_KEY, since: '5.0.0', summary: 'Remove and return members with the lowest scores in a sorted set', complexity: 'O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.' }, zpopmin],
]);
