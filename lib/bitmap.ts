// The allocator primitives over an on-media block bitmap (bit set = in use).
// Policy (goals, minimum runs, what to do on conflicts) belongs to the pool;
// this only finds, sets and clears, word at a time and persisted.
import type { FastCalls, NativeRegion } from './native.js';

export interface FreeRun {
  start: number;
  length: number;
}

export class Bitmap {
  /** Bytes a bitmap of `nbits` bits occupies (whole 64-bit words). */
  static bytesFor(nbits: number): number {
    return Math.ceil(nbits / 64) * 8;
  }

  constructor(
    private readonly region: NativeRegion,
    private readonly fast: FastCalls,
    readonly offset: number,
    readonly nbits: number,
  ) {}

  /**
   * A free run of `want` blocks at or after `goal` (wrapping around), or
   * failing that the longest free run of at least `minRun` blocks; null
   * when there is none.
   */
  find(goal: number, want: number, minRun = want): FreeRun | null {
    if (typeof this.offset === 'number' && typeof this.nbits === 'number' && typeof goal === 'number' && typeof want === 'number' && typeof minRun === 'number') {
      const a = this.fast.args;
      a[0] = this.offset;
      a[1] = this.nbits;
      a[2] = goal;
      a[3] = want;
      a[4] = minRun;
      const start = this.fast.bitmapFind();
      return start < 0 ? null : { start, length: a[5]! };
    }
    const run = this.region.bitmapFind(this.offset, this.nbits, goal, want, minRun);
    return run === null ? null : { start: run[0], length: run[1] };
  }

  /**
   * Marks [start, start + count) in use, durably. Returns 0 on success, or
   * the number of bits that were already set, in which case nothing changed
   * (a double allocation caught).
   */
  set(start: number, count: number): number {
    return this.region.bitmapSet(this.offset, this.nbits, start, count);
  }

  /** Marks [start, start + count) free; like set(), returns the conflicts (double frees). */
  clear(start: number, count: number): number {
    return this.region.bitmapClear(this.offset, this.nbits, start, count);
  }

  /** Number of blocks in use. */
  countSet(): number {
    return this.region.bitmapCount(this.offset, this.nbits);
  }
}
