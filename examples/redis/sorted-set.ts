export interface ScoredMember {
  readonly member: string;
  readonly score: number;
}

/** Ordered as redis-server orders a sorted set: by score, then by the member's bytes. */
function compare(a: ScoredMember, b: ScoredMember): number {
  if (a.score !== b.score) return a.score < b.score ? -1 : 1;
  // Members are latin1 strings, one character per byte: comparing them compares the bytes.
  return a.member < b.member ? -1 : a.member > b.member ? 1 : 0;
}

/** Blocks are split past this size: inserts move at most this many entries. */
const BLOCK_LIMIT = 512;

/**
 * A sorted set: each member's score in a Map, and the members in order in a list of sorted blocks
 * (a B-tree of height one), so that inserts and removals cost O(√n)-ish moves rather than O(n),
 * and a range by rank walks the blocks' lengths. Simpler than redis-server's skip list and, for
 * the sizes a JavaScript example meets, as quick.
 */
export class SortedSet {
  private readonly scores = new Map<string, number>();
  private blocks: ScoredMember[][] = [];

  get size(): number {
    return this.scores.size;
  }

  score(member: string): number | undefined {
    return this.scores.get(member);
  }

  /** Gives `member` this score, adding it if it is new. */
  set(member: string, score: number): void {
    const old = this.scores.get(member);
    if (old === score) return;
    if (old !== undefined) this.removeEntry({ member, score: old });
    this.scores.set(member, score);
    this.insertEntry({ member, score });
  }

  /** Removes `member`; false if it was not there. */
  delete(member: string): boolean {
    const score = this.scores.get(member);
    if (score === undefined) return false;
    this.scores.delete(member);
    this.removeEntry({ member, score });
    return true;
  }

  /** Members by rank, first..last inclusive, lowest first; 0 <= first <= last < size. */
  range(first: number, last: number): ScoredMember[] {
    const entries: ScoredMember[] = [];
    let skip = first;
    let blockIndex = 0;
    while (skip >= this.blocks[blockIndex]!.length) skip -= this.blocks[blockIndex++]!.length;
    for (let wanted = last - first + 1; wanted > 0; blockIndex++, skip = 0) {
      const block = this.blocks[blockIndex]!;
      const end = Math.min(block.length, skip + wanted);
      for (let index = skip; index < end; index++) entries.push(block[index]!);
      wanted -= end - skip;
    }
    return entries;
  }

  /**
   * The rank of the first member for which `reached` holds, or size if none does; `reached` must
   * be false and then true along the order (e.g. "score >= min").
   */
  rankWhere(reached: (entry: ScoredMember) => boolean): number {
    let rank = 0;
    for (const block of this.blocks) {
      if (!reached(block[block.length - 1]!)) {
        rank += block.length;
        continue;
      }
      let low = 0;
      let high = block.length - 1;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (reached(block[middle]!)) high = middle;
        else low = middle + 1;
      }
      return rank + low;
    }
    return rank;
  }

  /** Removes and returns the `count` lowest members (fewer if there are fewer). */
  popMin(count: number): ScoredMember[] {
    const popped: ScoredMember[] = [];
    while (popped.length < count && this.blocks.length > 0) {
      const block = this.blocks[0]!;
      const taken = block.splice(0, Math.min(block.length, count - popped.length));
      for (const entry of taken) {
        this.scores.delete(entry.member);
        popped.push(entry);
      }
      if (block.length === 0) this.blocks.shift();
    }
    return popped;
  }

  private insertEntry(entry: ScoredMember): void {
    if (this.blocks.length === 0) {
      this.blocks.push([entry]);
      return;
    }
    const blockIndex = this.blockFor(entry);
    const block = this.blocks[blockIndex]!;
    block.splice(this.indexIn(block, entry), 0, entry);
    if (block.length > BLOCK_LIMIT) this.blocks.splice(blockIndex + 1, 0, block.splice(BLOCK_LIMIT >>> 1));
  }

  private removeEntry(entry: ScoredMember): void {
    const blockIndex = this.blockFor(entry);
    const block = this.blocks[blockIndex]!;
    block.splice(this.indexIn(block, entry), 1);
    if (block.length === 0) this.blocks.splice(blockIndex, 1);
  }

  /** The block that holds `entry`, or where it belongs: the first whose last entry is not below it, else the last. */
  private blockFor(entry: ScoredMember): number {
    let low = 0;
    let high = this.blocks.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const block = this.blocks[middle]!;
      if (compare(block[block.length - 1]!, entry) >= 0) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** The index of `entry` in `block`, or where it would go. */
  private indexIn(block: ScoredMember[], entry: ScoredMember): number {
    let low = 0;
    let high = block.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compare(block[middle]!, entry) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
