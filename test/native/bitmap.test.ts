import { describe, expect, it } from 'vitest';

import { Bitmap, Region } from '../../lib/index.js';
import { expectCode, tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();

function withBitmap(nbits: number, fn: (bm: Bitmap, region: Region) => void): void {
  const region = Region.create(uniquePath(shm), 1 << 20);
  try {
    fn(region.bitmap(4096, nbits), region);
  } finally {
    region.close();
  }
}

/** Reference model: the same search, bit by bit. */
function modelFind(bits: boolean[], goal: number, want: number, minRun: number): [number, number] | null {
  const n = bits.length;
  const runs: [number, number][] = [];
  let i = 0;
  while (i < n) {
    if (bits[i]) { i++; continue; }
    let j = i;
    while (j < n && !bits[j]) j++;
    runs.push([i, j - i]);
    i = j;
  }
  // runs in search order: those starting at or after goal (the one containing goal starts at goal), then the rest
  const ordered: [number, number][] = [];
  for (const [s, l] of runs) if (s + l > goal && s <= goal) ordered.push([goal, s + l - goal]);
  for (const [s, l] of runs) if (s > goal) ordered.push([s, l]);
  for (const [s, l] of runs) if (s < goal) ordered.push([s, l]);
  for (const [s, l] of ordered) if (l >= want) return [s, want];
  let best: [number, number] | null = null;
  for (const [s, l] of ordered) if (!best || l > best[1]) best = [s, l];
  return best && best[1] >= minRun ? best : null;
}

describe('bitmap allocator primitives', () => {
  it('finds a run at the goal in an empty bitmap, and sets it durably', () => {
    withBitmap(1000, (bm, region) => {
      expect(bm.find(100, 10)).toEqual({ start: 100, length: 10 });
      const fences = region.stats().fences;
      expect(bm.set(100, 10)).toBe(0);
      expect(region.stats().fences).toBe(fences + 1);
      expect(bm.countSet()).toBe(10);
      expect(bm.find(100, 10)).toEqual({ start: 110, length: 10 });
      // bits are LSB-first in little-endian words
      expect(region.load64(4096 + 8)).toBe(((1n << 10n) - 1n) << 36n);
    });
  });

  it('wraps around to before the goal when nothing fits after it', () => {
    withBitmap(256, (bm) => {
      expect(bm.set(200, 56)).toBe(0);
      expect(bm.find(210, 8)).toEqual({ start: 0, length: 8 });
    });
  });

  it('falls back to the longest run of at least minRun in a fragmented bitmap', () => {
    withBitmap(512, (bm) => {
      bm.set(0, 512);
      bm.clear(10, 3);
      bm.clear(100, 7);
      bm.clear(300, 5);
      expect(bm.find(0, 16, 1)).toEqual({ start: 100, length: 7 });
      expect(bm.find(0, 16, 8)).toBeNull();
      expect(bm.find(200, 5)).toEqual({ start: 300, length: 5 });
      expect(bm.find(200, 16, 4)).toEqual({ start: 100, length: 7 });
    });
  });

  it('returns null on a full bitmap, and finds the last bit when it is the only one free', () => {
    withBitmap(130, (bm) => {
      expect(bm.set(0, 130)).toBe(0);
      expect(bm.find(0, 1)).toBeNull();
      expect(bm.clear(129, 1)).toBe(0);
      expect(bm.find(5, 1)).toEqual({ start: 129, length: 1 });
      expect(bm.find(5, 2, 1)).toEqual({ start: 129, length: 1 });
    });
  });

  it('never returns bits past nbits, even when the word has room', () => {
    withBitmap(70, (bm) => {
      bm.set(0, 66);
      expect(bm.find(0, 8, 1)).toEqual({ start: 66, length: 4 });
      expect(bm.find(0, 8, 5)).toBeNull();
    });
  });

  it('detects a double allocation and a double free, and changes nothing then', () => {
    withBitmap(300, (bm, region) => {
      expect(bm.set(60, 10)).toBe(0);
      const before = region.view(4096, 40).toString('hex');
      expect(bm.set(65, 20)).toBe(5);
      expect(region.view(4096, 40).toString('hex')).toBe(before);
      expect(bm.clear(50, 15)).toBe(10);
      expect(region.view(4096, 40).toString('hex')).toBe(before);
      expect(bm.clear(60, 10)).toBe(0);
      expect(bm.clear(60, 1)).toBe(1);
      expect(bm.countSet()).toBe(0);
    });
  });

  it('handles runs that span many words and partial words at both ends', () => {
    withBitmap(10_000, (bm) => {
      expect(bm.set(63, 1000)).toBe(0);
      expect(bm.countSet()).toBe(1000);
      expect(bm.find(63, 1)).toEqual({ start: 1063, length: 1 });
      expect(bm.find(0, 63)).toEqual({ start: 0, length: 63 });
      expect(bm.find(0, 64)).toEqual({ start: 1063, length: 64 });
      expect(bm.clear(64, 998)).toBe(0);
      expect(bm.countSet()).toBe(2);
    });
  });

  it('agrees with a bit-by-bit model on random bitmaps', () => {
    withBitmap(777, (bm) => {
      let seed = 12345;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const bits: boolean[] = new Array(777).fill(false);
      for (let round = 0; round < 400; round++) {
        const start = rand(777);
        const count = 1 + rand(Math.min(40, 777 - start));
        const slice = bits.slice(start, start + count);
        if (rand(2) === 0) {
          const already = slice.filter((b) => b).length;
          expect(bm.set(start, count)).toBe(already);
          if (already === 0) bits.fill(true, start, start + count);
        } else {
          const already = slice.filter((b) => !b).length;
          expect(bm.clear(start, count)).toBe(already);
          if (already === 0) bits.fill(false, start, start + count);
        }
        const goal = rand(777);
        const want = 1 + rand(30);
        const minRun = 1 + rand(want);
        const got = bm.find(goal, want, minRun);
        const expected = modelFind(bits, goal, want, minRun);
        expect(got === null ? null : [got.start, got.length]).toEqual(expected);
        expect(bm.countSet()).toBe(bits.filter((b) => b).length);
      }
    });
  });

  it('rejects bad geometry and arguments with typed errors', () => {
    withBitmap(100, (bm, region) => {
      expectCode(() => region.bitmap(4, 64).find(0, 1), 'EINVAL', /bitmapOffset/);
      expectCode(() => region.bitmap(0, 0).find(0, 1), 'EINVAL', /nbits/);
      expectCode(() => region.bitmap((1 << 20) - 8, 65).find(0, 1), 'ERANGE', /bitmap bytes/);
      expectCode(() => bm.find(100, 1), 'EINVAL', /goal/);
      expectCode(() => bm.find(0, 0), 'EINVAL', /want/);
      expectCode(() => bm.find(0, 4, 5), 'EINVAL', /minRun/);
      expectCode(() => bm.find(0, 4, 0), 'EINVAL', /minRun/);
      expectCode(() => bm.set(99, 2), 'ERANGE', /start/);
      expectCode(() => bm.set(0, 0), 'EINVAL', /count/);
      expectCode(() => bm.clear(-1, 1), 'EINVAL', /start/);
      expectCode(() => bm.set(2 ** 53, 1), 'EINVAL', /start/);
      expect(bm.countSet()).toBe(0);
    });
  });

  it('bytesFor rounds up to whole words', () => {
    expect(Bitmap.bytesFor(1)).toBe(8);
    expect(Bitmap.bytesFor(64)).toBe(8);
    expect(Bitmap.bytesFor(65)).toBe(16);
  });
});
