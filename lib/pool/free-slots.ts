// The free inode slots, lowest first: a bitmap with summary levels above
// it. Level 0 has a bit per slot (1 = free); each level above has a bit per
// word of the level below that has any bit set. Taking the lowest free slot
// descends from the top, one word per level; freeing a slot climbs while a
// word goes from empty to non-empty. Both are O(log32 capacity) — four
// words per level at most for a million slots — where a sorted array cost
// a shift() or splice() over every free slot.

export class FreeSlots {
  /** levels[0]: a bit per slot; levels[k]: a bit per word of levels[k - 1]; the last has one word. */
  private levels: Uint32Array[] = [];
  /** Slots the levels can hold (a power of two: growth doubles, so it is O(1) amortized). */
  private capacity = 0;
  /** Free slots held. */
  size = 0;
  /** Words read or written by the last add() or take(): the cost the tests bound. */
  touched = 0;

  constructor(initialCapacity = 1024) {
    this.resize(Math.max(32, initialCapacity));
  }

  /** Summary levels above level 0 (how deep take() descends). */
  get depth(): number {
    return this.levels.length;
  }

  has(slot: number): boolean {
    if (slot >= this.capacity) return false;
    return ((this.levels[0]![slot >>> 5]! >>> (slot & 31)) & 1) === 1;
  }

  /** Marks `slot` free (a no-op when it is already). */
  add(slot: number): void {
    if (!Number.isSafeInteger(slot) || slot < 0) throw new RangeError(`free slot ${slot} is not a slot number`);
    if (slot >= this.capacity) {
      let cap = this.capacity;
      while (cap <= slot) cap *= 2;
      this.resize(cap);
    }
    this.touched = 0;
    let index = slot;
    for (const level of this.levels) {
      const w = index >>> 5;
      const before = level[w]!;
      level[w] = (before | (1 << (index & 31))) >>> 0;
      this.touched++;
      if (level === this.levels[0] && before === level[w]) return; // already free
      if (level === this.levels[0]) this.size++;
      if (before !== 0) return; // the levels above already show this word
      index = w;
    }
  }

  /** The lowest free slot, no longer free; undefined when none is. */
  take(): number | undefined {
    this.touched = 0;
    const top = this.levels.length - 1;
    let index = 0;
    for (let l = top; l >= 0; l--) {
      const word = this.levels[l]![index]!;
      this.touched++;
      if (word === 0) return undefined; // only the top word can be empty here
      index = index * 32 + (31 - Math.clz32(word & -word));
    }
    const slot = index;
    // clear upwards while a word empties
    for (const level of this.levels) {
      const w = index >>> 5;
      level[w] = (level[w]! & ~(1 << (index & 31))) >>> 0;
      this.touched++;
      if (level[w] !== 0) break;
      index = w;
    }
    this.size--;
    return slot;
  }

  private resize(capacity: number): void {
    const old = this.levels[0];
    const levels: Uint32Array[] = [];
    let words = Math.ceil(capacity / 32);
    levels.push(new Uint32Array(words));
    while (words > 1) {
      words = Math.ceil(words / 32);
      levels.push(new Uint32Array(words));
    }
    if (old) {
      levels[0]!.set(old);
      for (let l = 1; l < levels.length; l++) {
        const below = levels[l - 1]!;
        const level = levels[l]!;
        for (let w = 0; w < below.length; w++) if (below[w] !== 0) level[w >>> 5] = (level[w >>> 5]! | (1 << (w & 31))) >>> 0;
      }
    }
    this.levels = levels;
    this.capacity = capacity;
  }
}
