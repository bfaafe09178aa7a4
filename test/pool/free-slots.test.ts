import { setImmediate as yieldToLoop } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { FreeSlots } from '../../lib/pool/free-slots.js';
import { rng } from './crash-model.js';
import { newPool } from './helpers.js';

describe('FreeSlots', () => {
  it('hands out the lowest free slot, like a sorted list, across growth', () => {
    const rand = rng(11);
    const slots = new FreeSlots(32);
    const model = new Set<number>();
    for (let step = 0; step < 20_000; step++) {
      if (rand(3) === 0) {
        const got = slots.take();
        const lowest = model.size === 0 ? undefined : Math.min(...model);
        expect(got).toBe(lowest);
        if (lowest !== undefined) model.delete(lowest);
      } else {
        const slot = rand(4) === 0 ? rand(200_000) : rand(300);
        slots.add(slot);
        model.add(slot);
      }
      expect(slots.size).toBe(model.size);
    }
    for (const slot of [...model].sort((a, b) => a - b)) expect(slots.take()).toBe(slot);
    expect(slots.take()).toBeUndefined();
    expect(slots.size).toBe(0);
  });

  it('adding a free slot again changes nothing', () => {
    const slots = new FreeSlots();
    slots.add(5);
    slots.add(5);
    expect(slots.size).toBe(1);
    expect(slots.has(5)).toBe(true);
    expect(slots.take()).toBe(5);
    expect(slots.has(5)).toBe(false);
    expect(slots.take()).toBeUndefined();
  });

  it('refuses a slot that is no slot number', () => {
    const slots = new FreeSlots();
    expect(() => slots.add(-1)).toThrow(RangeError);
    expect(() => slots.add(1.5)).toThrow(RangeError);
  });

  it('touches one word per level at most twice per operation, however many slots are free', () => {
    const slots = new FreeSlots();
    const n = 1 << 20;
    for (let i = 0; i < n; i++) slots.add(i);
    expect(slots.depth).toBe(4); // 2^20 slots: 32768, 1024, 32, 1 words
    let worst = 0;
    // the worst case of a scan: free slots far apart, the lowest taken each time
    for (let i = 0; i < n; i++) {
      slots.take();
      worst = Math.max(worst, slots.touched);
    }
    for (let i = n - 1; i >= 0; i -= 4099) {
      slots.add(i);
      worst = Math.max(worst, slots.touched);
    }
    for (let k = 0; k < 300; k++) {
      slots.take();
      worst = Math.max(worst, slots.touched);
    }
    expect(worst).toBeLessThanOrEqual(2 * slots.depth);
  });
});

describe('free inodes in a pool', () => {
  it('100k files: an unlinked low inode is reused first, found in a bounded number of words', { timeout: 300_000 }, async () => {
    const { pool } = newPool(1024 * 2 ** 20, { sparse: true });
    try {
      const n = 100_000;
      for (let i = 0; i < n; i++) {
        pool.open(`f${i}`, { create: true }).close();
        if (i % 5000 === 4999) await yieldToLoop(); // keep the test runner's RPC alive
      }
      expect(pool.info().files).toBe(n);
      const free = (pool as unknown as { state: { freeInodes: FreeSlots } }).state.freeInodes;
      for (const i of [99_999, 70_001, 3, 41_000]) pool.unlink(`f${i}`);
      expect(free.size).toBe(4);
      const inos = [0, 1, 2, 3].map((k) => {
        const f = pool.open(`g${k}`, { create: true });
        const ino = f.stat().ino;
        f.close();
        expect(free.touched).toBeLessThanOrEqual(2 * free.depth);
        return ino;
      });
      expect(inos).toEqual([3, 41_000, 70_001, 99_999]);
      expect(free.size).toBe(0);
    } finally {
      pool.close();
    }
  });
});
