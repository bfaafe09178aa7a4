import { describe, expect, it } from 'vitest';

import { findIndex, FILE_BLOCKS_END, insert, lookup, mappedBlocks, nextMapped, removeRange, runAt, runsIn, setUnwritten, type Extent } from '../../lib/pool/extents.js';

/** Model: file block → [pool block, unwritten] */
function model(extents: Extent[]): Map<number, [number, boolean]> {
  const m = new Map<number, [number, boolean]>();
  for (const e of extents) for (let k = 0; k < e.length; k++) m.set(e.fileBlock + k, [e.poolBlock + k, e.unwritten]);
  return m;
}

function wellFormed(extents: Extent[]): void {
  for (let i = 0; i < extents.length; i++) {
    const e = extents[i]!;
    expect(e.length).toBeGreaterThan(0);
    if (i > 0) {
      const p = extents[i - 1]!;
      expect(p.fileBlock + p.length).toBeLessThanOrEqual(e.fileBlock);
      const mergeable = p.fileBlock + p.length === e.fileBlock && p.poolBlock + p.length === e.poolBlock && p.unwritten === e.unwritten;
      expect(mergeable).toBe(false);
    }
  }
}

describe('extents', () => {
  it('insert merges contiguous neighbours; lookup finds by binary search', () => {
    const x: Extent[] = [];
    insert(x, { fileBlock: 10, poolBlock: 100, length: 5, unwritten: false });
    insert(x, { fileBlock: 0, poolBlock: 50, length: 2, unwritten: false });
    insert(x, { fileBlock: 15, poolBlock: 105, length: 5, unwritten: false });
    expect(x).toEqual([
      { fileBlock: 0, poolBlock: 50, length: 2, unwritten: false },
      { fileBlock: 10, poolBlock: 100, length: 10, unwritten: false },
    ]);
    expect(lookup(x, 12)).toEqual(x[1]);
    expect(lookup(x, 5)).toBeUndefined();
    expect(findIndex(x, 5)).toBe(1);
    expect(nextMapped(x, 5)).toBe(10);
    expect(nextMapped(x, 25)).toBe(Infinity);
    expect(mappedBlocks(x)).toBe(12);
  });

  it('removeRange splits and returns the freed pool runs', () => {
    const x: Extent[] = [{ fileBlock: 0, poolBlock: 100, length: 10, unwritten: false }];
    expect(removeRange(x, 3, 5)).toEqual([{ start: 103, length: 2 }]);
    expect(x).toEqual([
      { fileBlock: 0, poolBlock: 100, length: 3, unwritten: false },
      { fileBlock: 5, poolBlock: 105, length: 5, unwritten: false },
    ]);
    expect(removeRange(x, 0, 100)).toEqual([{ start: 100, length: 3 }, { start: 105, length: 5 }]);
    expect(x).toEqual([]);
  });

  it('agrees with a block-by-block model under random operations', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const x: Extent[] = [];
    let nextPool = 1000;
    for (let round = 0; round < 2000; round++) {
      const before = model(x);
      const start = rand(200);
      const end = start + 1 + rand(30);
      const op = rand(3);
      const expected = new Map(before);
      if (op === 0) {
        // fill the holes of the range with fresh pool blocks
        for (let fb = start; fb < end; fb++) {
          if (lookup(x, fb)) continue;
          let len = 1;
          while (fb + len < end && !lookup(x, fb + len)) len++;
          const unwritten = rand(2) === 0;
          insert(x, { fileBlock: fb, poolBlock: nextPool, length: len, unwritten });
          for (let k = 0; k < len; k++) expected.set(fb + k, [nextPool + k, unwritten]);
          nextPool += len + rand(2);
          fb += len - 1;
        }
      } else if (op === 1) {
        const freed = removeRange(x, start, end);
        let freedBlocks = 0;
        for (const r of freed) freedBlocks += r.length;
        let mappedInRange = 0;
        for (let fb = start; fb < end; fb++) if (expected.delete(fb)) mappedInRange++;
        expect(freedBlocks).toBe(mappedInRange);
      } else {
        const unwritten = rand(2) === 0;
        setUnwritten(x, start, end, unwritten);
        for (let fb = start; fb < end; fb++) {
          const v = expected.get(fb);
          if (v) expected.set(fb, [v[0], unwritten]);
        }
      }
      wellFormed(x);
      expect(model(x)).toEqual(expected);
      checkRuns(x, expected, rand(220), rand(40));
    }
  });

  it('runAt gives the whole extent or hole; runsIn tiles a range exactly', () => {
    const x: Extent[] = [];
    insert(x, { fileBlock: 10, poolBlock: 100, length: 5, unwritten: false });
    insert(x, { fileBlock: 15, poolBlock: 300, length: 2, unwritten: true });
    expect(runAt(x, 3)).toEqual({ fileBlock: 0, length: 10, poolBlock: -1, unwritten: false });
    expect(runAt(x, 12)).toEqual({ fileBlock: 10, length: 5, poolBlock: 100, unwritten: false });
    expect(runAt(x, 16)).toEqual({ fileBlock: 15, length: 2, poolBlock: 300, unwritten: true });
    expect(runAt(x, 17)).toEqual({ fileBlock: 17, length: FILE_BLOCKS_END - 17, poolBlock: -1, unwritten: false });
    expect(runsIn(x, 12, 20)).toEqual([
      { fileBlock: 12, length: 3, poolBlock: 102, unwritten: false },
      { fileBlock: 15, length: 2, poolBlock: 300, unwritten: true },
      { fileBlock: 17, length: 3, poolBlock: -1, unwritten: false },
    ]);
    expect(runsIn(x, 5, 5)).toEqual([]);
    expect(runsIn([], 0, 4)).toEqual([{ fileBlock: 0, length: 4, poolBlock: -1, unwritten: false }]);
  });
});

/** runsIn over [from, from + n) and runAt at `from` agree with the block model. */
function checkRuns(x: Extent[], m: Map<number, [number, boolean]>, from: number, n: number): void {
  let fb = from;
  for (const run of runsIn(x, from, from + n)) {
    expect(run.fileBlock).toBe(fb);
    expect(run.length).toBeGreaterThan(0);
    for (let k = 0; k < run.length; k++) {
      const v = m.get(fb + k);
      expect(run.poolBlock < 0 ? undefined : [run.poolBlock + k, run.unwritten]).toEqual(v);
    }
    fb += run.length;
  }
  expect(fb).toBe(from + n);
  const whole = runAt(x, from);
  expect(whole.fileBlock).toBeLessThanOrEqual(from);
  expect(whole.fileBlock + whole.length).toBeGreaterThan(from);
  const kind = (b: number) => (m.has(b) ? `${m.get(b)![0] - b}/${m.get(b)![1]}` : 'hole');
  for (let b = whole.fileBlock; b < Math.min(whole.fileBlock + whole.length, 260); b++) expect(kind(b)).toBe(kind(from));
}
