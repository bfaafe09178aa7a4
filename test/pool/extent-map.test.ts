import { describe, expect, it } from 'vitest';

import { ExtentMap, EXTENTS_PER_BLOCK, INLINE_EXTENTS } from '../../lib/pool/extent-map.js';
import { insert, lookup, removeRange, runAt, runsIn, setUnwritten, type Extent } from '../../lib/pool/extents.js';
import { ChunkIndex, StartIndex } from '../../lib/pool/start-index.js';

function rng(seed: number): (n: number) => number {
  return (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
}

/** The chunking rules: inline first (full when others follow), blocks of 1..255, extents sorted. */
function checkChunks(map: ExtentMap): void {
  const chunks = map.chunks();
  expect(chunks[0]!.n).toBeLessThanOrEqual(INLINE_EXTENTS);
  if (chunks.length > 1) expect(chunks[0]!.n).toBe(INLINE_EXTENTS);
  let count = 0;
  for (let k = 1; k < chunks.length; k++) {
    expect(chunks[k]!.n).toBeGreaterThanOrEqual(1);
    expect(chunks[k]!.n).toBeLessThanOrEqual(EXTENTS_PER_BLOCK);
  }
  for (const c of chunks) count += c.n;
  expect(count).toBe(map.length);
}

/** A map of `n` one-block extents at even file blocks, and the same as an array. */
function fragmented(n: number): { map: ExtentMap; ref: Extent[] } {
  const ref: Extent[] = [];
  for (let k = 0; k < n; k++) ref.push({ fileBlock: 2 * k, poolBlock: 1000 + 3 * k, length: 1, unwritten: k % 3 === 0 });
  return { map: ExtentMap.from(ref), ref: ref.map((e) => ({ ...e })) };
}

describe('ExtentMap', () => {
  it('packs an array densely: 11 inline, then full blocks', () => {
    const { map } = fragmented(11 + 2 * EXTENTS_PER_BLOCK + 7);
    expect(map.chunks().map((c) => c.n)).toEqual([INLINE_EXTENTS, EXTENTS_PER_BLOCK, EXTENTS_PER_BLOCK, 7]);
    expect(map.length).toBe(11 + 2 * EXTENTS_PER_BLOCK + 7);
    expect(map.mappedBlocks()).toBe(map.length);
  });

  it('an insert or removal in the middle of a 10k-extent map replaces one chunk (two when it splits a full one)', () => {
    const { map } = fragmented(10_000);
    const before = map.chunks().slice();
    const next = map.clone();
    next.removeRange(5000 * 2, 5000 * 2 + 1);
    const changed = next.chunks().filter((c) => !before.includes(c));
    expect(changed.length).toBe(1);
    // the old version is untouched
    expect(map.chunks()).toEqual(before);
    expect(map.lookup(10_000)).toEqual({ fileBlock: 10_000, poolBlock: 1000 + 3 * 5000, length: 1, unwritten: false });
    expect(next.lookup(10_000)).toBeUndefined();
    // a full chunk split by an insert: two new chunks
    const again = map.clone();
    again.insert({ fileBlock: 5000 * 2 + 1, poolBlock: 1, length: 1, unwritten: false });
    const made = again.chunks().filter((c) => !before.includes(c));
    expect(made.map((c) => c.n).sort((a, b) => a - b)).toEqual([128, 128]);
    checkChunks(again);
  });

  it('agrees with the array reference under random operations on 10k extents (lookup, runAt, runsIn, at, findIndex)', () => {
    const rand = rng(99);
    const { map, ref } = fragmented(10_000);
    let nextPool = 100_000;
    let versions = 0;
    let current = map;
    for (let round = 0; round < 1500; round++) {
      // every few rounds, edit a clone (a new version), as transactions do
      if (round % 5 === 0) {
        current = current.clone();
        versions++;
      }
      const start = rand(20_100);
      const len = 1 + (rand(10) === 0 ? rand(3000) : rand(8));
      const end = start + len;
      const op = rand(3);
      if (op === 0) {
        for (const run of runsIn(ref, start, end)) {
          if (run.poolBlock >= 0) continue;
          const e = { fileBlock: run.fileBlock, poolBlock: nextPool, length: run.length, unwritten: rand(2) === 0 };
          nextPool += run.length + rand(2);
          insert(ref, e);
          current.insert(e);
        }
      } else if (op === 1) {
        expect(current.removeRange(start, end)).toEqual(removeRange(ref, start, end));
      } else {
        const unwritten = rand(2) === 0;
        setUnwritten(ref, start, end, unwritten);
        current.setUnwritten(start, end, unwritten);
      }
      expect(current.length).toBe(ref.length);
      expect(current.mappedBlocks()).toBe(ref.reduce((n, e) => n + e.length, 0));
      for (let probe = 0; probe < 20; probe++) {
        const fb = rand(20_200);
        expect(current.lookup(fb)).toEqual(lookup(ref, fb));
        expect(current.runAt(fb)).toEqual(runAt(ref, fb));
        const i = current.findIndex(fb);
        expect(current.at(i)).toEqual(ref[i]);
      }
      const from = rand(20_000);
      const to = from + rand(500);
      expect(current.runsIn(from, to)).toEqual(runsIn(ref, from, to));
      if (round % 100 === 0) {
        checkChunks(current);
        expect(current.toArray()).toEqual(ref);
      }
    }
    checkChunks(current);
    expect(current.toArray()).toEqual(ref);
    expect(current.last()).toEqual(ref[ref.length - 1]);
    expect(versions).toBe(300);
    // the first version never changed
    expect(map.toArray()).toEqual(fragmented(10_000).ref);
  });

  it('keeps chunks from degenerating: removing most extents leaves few, well-filled blocks', () => {
    const { map } = fragmented(5000);
    for (let k = 0; k < 5000; k++) if (k % 10 !== 0) map.removeRange(2 * k, 2 * k + 1);
    expect(map.length).toBe(500);
    checkChunks(map);
    // 500 extents fit 2 blocks; merging small chunks keeps it within a few times that
    expect(map.chunks().length - 1).toBeLessThanOrEqual(8);
  });
});

describe('StartIndex', () => {
  it('finds the last key at or before x like a linear scan, for even, clustered and huge-gapped keys', () => {
    const rand = rng(3);
    const shapes: number[][] = [
      [0],
      [7],
      Array.from({ length: 255 }, (_, k) => 2 * k),
      // clusters far apart
      [...Array.from({ length: 100 }, (_, k) => k), ...Array.from({ length: 100 }, (_, k) => 2 ** 31 + k), 2 ** 32 - 1],
      // random
      [...new Set(Array.from({ length: 200 }, () => rand(1 << 20)))].sort((a, b) => a - b),
    ];
    for (const keys of shapes) {
      const index = new StartIndex(Uint32Array.from(keys), keys.length);
      // the same keys searched in place as every 4th u32 (a chunk's extents), the rest noise
      const quads = Uint32Array.from(keys.flatMap((k) => [k, 2 ** 32 - 1, 0, 2 ** 31]));
      const inPlace = new StartIndex(quads, keys.length, 4);
      const chunk = keys.length <= 255 ? new ChunkIndex(quads, keys.length) : null;
      const probes = [0, 1, keys[0]! - 1, 2 ** 32 - 1, ...keys, ...keys.map((k) => k + 1), ...keys.map((k) => k - 1), ...Array.from({ length: 200 }, () => rand(2 ** 32))];
      for (const x of probes) {
        if (x < 0 || x >= 2 ** 32) continue;
        let want = 0;
        for (let i = 0; i < keys.length; i++) if (keys[i]! <= x) want = i;
        expect(index.lastAtOrBefore(x)).toBe(want);
        expect(inPlace.lastAtOrBefore(x)).toBe(want);
        if (chunk) expect(chunk.lastAtOrBefore(x)).toBe(want);
      }
    }
    expect(new StartIndex(new Uint32Array(0), 0).lastAtOrBefore(5)).toBe(0);
    expect(new ChunkIndex(new Uint32Array(0), 0).lastAtOrBefore(5)).toBe(0);
    expect(() => new ChunkIndex(new Uint32Array(256 * 4), 256)).toThrow(RangeError);
  });
});
