// Pure helpers of pool.check(): who owns which blocks, and how that compares
// with the on-media bitmap. The bitmap is compared a window at a time, so
// checking a 16 TiB pool needs memory for one window, not for the pool.
import type { Run } from './extents.js';

export type ProblemKind =
  | 'superblock'
  | 'journal'
  | 'leaked-blocks'
  | 'unmarked-blocks'
  | 'double-owner'
  | 'out-of-range'
  | 'free-count'
  | 'orphan'
  | 'temporary'
  | 'directory';

export interface Problem {
  kind: ProblemKind;
  message: string;
  /** check({ repair: true }) fixes it without guessing. */
  repairable: boolean;
  run?: Run;
  ino?: number;
}

export interface CheckReport {
  ok: boolean;
  problems: Problem[];
  /** Problems fixed by this call (repair mode). */
  repaired: Problem[];
  blocksChecked: number;
  filesChecked: number;
}

export interface OwnedRun extends Run {
  owner: string;
}

/** Sorts runs and reports overlaps (blocks owned twice) and runs outside [0, nblocks). */
export function findOwnershipProblems(runs: OwnedRun[], nblocks: number): Problem[] {
  const problems: Problem[] = [];
  runs.sort((a, b) => a.start - b.start || a.length - b.length);
  let prev: OwnedRun | undefined;
  for (const r of runs) {
    if (r.start < 0 || r.start + r.length > nblocks) {
      problems.push({ kind: 'out-of-range', message: `${r.owner}: blocks ${r.start}..${r.start + r.length - 1} lie past the end of the pool (${nblocks} blocks)`, repairable: false, run: { start: r.start, length: r.length } });
    }
    if (prev && r.start < prev.start + prev.length) {
      const overlapEnd = Math.min(prev.start + prev.length, r.start + r.length);
      problems.push({
        kind: 'double-owner',
        message: `blocks ${r.start}..${overlapEnd - 1} are owned by both ${prev.owner} and ${r.owner}`,
        repairable: false,
        run: { start: r.start, length: overlapEnd - r.start },
      });
    }
    if (!prev || r.start + r.length > prev.start + prev.length) prev = r;
  }
  return problems;
}

/**
 * Compares bitmap words (32-bit, LSB first) covering blocks
 * [windowStart, windowStart + 32 * words.length) with the sorted owned runs.
 * Appends leaked (set, unowned) and unmarked (owned, clear) runs, and returns
 * the number of clear bits in the window below nblocks.
 */
export function compareWindow(
  words: Uint32Array,
  windowStart: number,
  nblocks: number,
  runs: readonly Run[],
  firstRun: { index: number },
  leaked: Run[],
  unmarked: Run[],
): number {
  const windowEnd = Math.min(windowStart + words.length * 32, nblocks);
  const expected = new Uint32Array(words.length);
  while (firstRun.index < runs.length && runs[firstRun.index]!.start + runs[firstRun.index]!.length <= windowStart) firstRun.index++;
  for (let i = firstRun.index; i < runs.length && runs[i]!.start < windowEnd; i++) {
    const r = runs[i]!;
    const from = Math.max(r.start, windowStart) - windowStart;
    const to = Math.min(r.start + r.length, windowEnd) - windowStart;
    for (let b = from; b < to; ) {
      const w = b >>> 5;
      const lo = b & 31;
      const hi = Math.min(32, to - w * 32);
      const mask = hi - lo === 32 ? 0xffffffff : ((1 << (hi - lo)) - 1) << lo;
      expected[w]! |= mask;
      b = w * 32 + hi;
    }
  }
  let free = 0;
  const push = (list: Run[], block: number) => {
    const last = list[list.length - 1];
    if (last && last.start + last.length === block) last.length++;
    else list.push({ start: block, length: 1 });
  };
  for (let w = 0; w < words.length; w++) {
    const base = windowStart + w * 32;
    if (base >= windowEnd) break;
    const valid = Math.min(32, windowEnd - base);
    const validMask = valid === 32 ? 0xffffffff : (1 << valid) - 1;
    const actual = words[w]! & validMask;
    const want = expected[w]! & validMask;
    free += valid - popcount(actual);
    if (actual === want) continue;
    const diff = (actual ^ want) >>> 0;
    for (let bit = 0; bit < valid; bit++) {
      if (!((diff >>> bit) & 1)) continue;
      if ((actual >>> bit) & 1) push(leaked, base + bit);
      else push(unmarked, base + bit);
    }
  }
  return free;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return (Math.imul(x, 0x01010101) >>> 24) & 0xff;
}
