// A set of pool blocks kept as disjoint, merged runs. The pool keeps one of
// the blocks files own (kept in step with every commit) so that the
// allocator can check, without a scan, that a run the bitmap calls free is
// really nobody's. Runs live in buckets of 2^11 blocks (8 MiB): adding or
// removing a run costs a binary search and a splice within one bucket, not
// within every run of the pool, and a bucket only exists while it holds a
// block. The bucket is small because a fragmented file can own every other
// block: a bucket then holds half its span in runs, and each edit of such a
// file moves the rest of the bucket's list (at 2^16 blocks, 32k runs — tens
// of microseconds a transaction); a large run costs one entry per bucket.
import type { Run } from './extents.js';

const SHIFT = 11;
const SPAN = 1 << SHIFT;

export class BlockSet {
  /** Bucket number → [start0, end0, start1, end1, …]: sorted, disjoint, not adjacent, inside the bucket. */
  private readonly buckets = new Map<number, number[]>();
  private blocks = 0;
  private runs = 0;

  /** Blocks in the set. */
  get size(): number {
    return this.blocks;
  }

  /** Runs in the set (a run crossing a bucket boundary counts once per bucket). */
  get runCount(): number {
    return this.runs;
  }

  /** Adds [start, start + length) (a union: blocks already in the set stay). */
  add(start: number, length: number): void {
    if (!(length > 0)) return;
    const end = start + length;
    for (let b = Math.floor(start / SPAN), last = Math.floor((end - 1) / SPAN); b <= last; b++) this.addIn(b, Math.max(start, b * SPAN), Math.min(end, (b + 1) * SPAN));
  }

  /** Removes [start, start + length) (blocks not in the set are ignored). */
  remove(start: number, length: number): void {
    if (!(length > 0)) return;
    const end = start + length;
    for (let b = Math.floor(start / SPAN), last = Math.floor((end - 1) / SPAN); b <= last; b++) this.removeIn(b, Math.max(start, b * SPAN), Math.min(end, (b + 1) * SPAN));
  }

  /** add() within bucket b: [s, e) inside it. */
  private addIn(b: number, s: number, e: number): void {
    let list = this.buckets.get(b);
    if (!list) this.buckets.set(b, (list = []));
    // pairs from i to j (exclusive) touch [s, e) or are adjacent to it: merged into one
    const i = firstEndingAtOrAfter(list, s);
    let j = i;
    let from = s;
    let to = e;
    while (j * 2 < list.length && list[j * 2]! <= e) {
      from = Math.min(from, list[j * 2]!);
      to = Math.max(to, list[j * 2 + 1]!);
      this.blocks -= list[j * 2 + 1]! - list[j * 2]!;
      j++;
    }
    if (j - i === 1) {
      // one run grows (the common case): in place
      list[i * 2] = from;
      list[i * 2 + 1] = to;
    } else {
      list.splice(i * 2, (j - i) * 2, from, to);
    }
    this.blocks += to - from;
    this.runs += 1 - (j - i);
  }

  /** remove() within bucket b: [s, e) inside it. */
  private removeIn(b: number, s: number, e: number): void {
    const list = this.buckets.get(b);
    if (!list) return;
    const i = firstEndingAfter(list, s);
    let j = i;
    const pieces: number[] = [];
    while (j * 2 < list.length && list[j * 2]! < e) {
      const rs = list[j * 2]!;
      const re = list[j * 2 + 1]!;
      if (rs < s) pieces.push(rs, s);
      if (re > e) pieces.push(e, re);
      this.blocks -= Math.min(re, e) - Math.max(rs, s);
      j++;
    }
    if (j === i) return;
    list.splice(i * 2, (j - i) * 2, ...pieces);
    this.runs += pieces.length / 2 - (j - i);
    if (list.length === 0) this.buckets.delete(b);
  }

  /** Whether every block of [start, start + length) is in the set. */
  covers(start: number, length: number): boolean {
    return this.gaps(start, length).length === 0;
  }

  /** The first run of the set (as stored) that meets [start, start + length), or undefined. */
  firstOverlap(start: number, length: number): Run | undefined {
    const end = start + length;
    if (length <= 0) return undefined;
    for (let b = Math.floor(start / SPAN), last = Math.floor((end - 1) / SPAN); b <= last; b++) {
      const list = this.buckets.get(b);
      if (!list) continue;
      const i = firstEndingAfter(list, start);
      if (i * 2 < list.length && list[i * 2]! < end) return { start: list[i * 2]!, length: list[i * 2 + 1]! - list[i * 2]! };
    }
    return undefined;
  }

  /** The parts of [start, start + length) that are not in the set, in order. */
  gaps(start: number, length: number): Run[] {
    return this.split(start, length).outside;
  }

  /** The parts of [start, start + length) that are in the set, in order. */
  within(start: number, length: number): Run[] {
    return this.split(start, length).inside;
  }

  /** [start, start + length) cut into the runs in the set and those not, each in order. */
  private split(start: number, length: number): { inside: Run[]; outside: Run[] } {
    const inside: Run[] = [];
    const outside: Run[] = [];
    let at = start;
    const end = start + length;
    while (at < end) {
      const hit = this.firstOverlap(at, end - at);
      if (!hit) break;
      const from = Math.max(at, hit.start);
      const to = Math.min(end, hit.start + hit.length);
      if (from > at) outside.push({ start: at, length: from - at });
      inside.push({ start: from, length: to - from });
      at = to;
    }
    if (at < end) outside.push({ start: at, length: end - at });
    return { inside, outside };
  }

  /** Every run, in block order (runs meeting at a bucket boundary are joined). */
  toRuns(): Run[] {
    const out: Run[] = [];
    for (const b of [...this.buckets.keys()].sort((x, y) => x - y)) {
      const list = this.buckets.get(b)!;
      for (let k = 0; k < list.length; k += 2) {
        const last = out[out.length - 1];
        if (last && last.start + last.length === list[k]) last.length += list[k + 1]! - list[k]!;
        else out.push({ start: list[k]!, length: list[k + 1]! - list[k]! });
      }
    }
    return out;
  }

  clear(): void {
    this.buckets.clear();
    this.blocks = 0;
    this.runs = 0;
  }
}

/** Index of the first pair whose end is at or after `at` (a run ending exactly at `at` is adjacent). */
function firstEndingAtOrAfter(list: number[], at: number): number {
  let lo = 0;
  let hi = list.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid * 2 + 1]! < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first pair whose end is after `at` (the one holding `at`, or the next). */
function firstEndingAfter(list: number[], at: number): number {
  let lo = 0;
  let hi = list.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid * 2 + 1]! <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
