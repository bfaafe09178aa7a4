import { describe, expect, it } from 'vitest';

import { BlockSet } from '../../lib/pool/block-set.js';
import { rng } from './crash-model.js';

/** The set as sorted runs, from a plain set of blocks. */
function runsOf(blocks: Set<number>): { start: number; length: number }[] {
  const out: { start: number; length: number }[] = [];
  for (const b of [...blocks].sort((x, y) => x - y)) {
    const last = out[out.length - 1];
    if (last && last.start + last.length === b) last.length++;
    else out.push({ start: b, length: 1 });
  }
  return out;
}

describe('BlockSet', () => {
  it('adds, removes and answers like a plain set of blocks, across bucket boundaries', () => {
    const rand = rng(7);
    const set = new BlockSet();
    const model = new Set<number>();
    const SPAN = 2 * 65536 + 5000; // many buckets, runs across their boundaries
    for (let step = 0; step < 800; step++) {
      const start = rand(SPAN);
      const length = 1 + (rand(8) === 0 ? rand(70_000) : rand(40));
      if (rand(3) === 0) {
        set.remove(start, length);
        for (let b = start; b < start + length; b++) model.delete(b);
      } else {
        set.add(start, length);
        for (let b = start; b < start + length; b++) model.add(b);
      }
      expect(set.size, `step ${step}`).toBe(model.size);
      const qs = rand(SPAN);
      const ql = 1 + rand(3000);
      const inside = [...Array(ql).keys()].map((k) => qs + k).filter((b) => model.has(b));
      const hit = set.firstOverlap(qs, ql);
      expect(hit !== undefined, `step ${step}`).toBe(inside.length > 0);
      if (hit) expect(Math.max(hit.start, qs), `step ${step}`).toBe(inside[0]);
      expect(set.within(qs, ql).reduce((n, r) => n + r.length, 0)).toBe(inside.length);
      expect(set.gaps(qs, ql).reduce((n, r) => n + r.length, 0)).toBe(ql - inside.length);
    }
    expect(set.toRuns()).toEqual(runsOf(model));
  });

  it('merges adjacent runs, splits on removal, and forgets empty buckets', () => {
    const set = new BlockSet();
    set.add(10, 5);
    set.add(15, 5);
    set.add(5, 5);
    expect(set.toRuns()).toEqual([{ start: 5, length: 15 }]);
    expect(set.runCount).toBe(1);
    set.remove(8, 4);
    expect(set.toRuns()).toEqual([
      { start: 5, length: 3 },
      { start: 12, length: 8 },
    ]);
    expect(set.covers(12, 8)).toBe(true);
    expect(set.covers(11, 2)).toBe(false);
    set.add(65530, 20); // across a bucket boundary: one run to the reader
    expect(set.toRuns()[2]).toEqual({ start: 65530, length: 20 });
    expect(set.firstOverlap(65540, 1)).toEqual({ start: 65536, length: 14 });
    set.remove(0, 2 ** 20);
    expect(set.size).toBe(0);
    expect(set.runCount).toBe(0);
    expect(set.toRuns()).toEqual([]);
  });
});
