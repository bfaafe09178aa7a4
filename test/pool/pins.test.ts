import { describe, expect, it } from 'vitest';

import { changeSpan, END, PinRegistry, refuseIfPinned } from '../../lib/pool/pins.js';
import { expectCode } from '../helpers.js';

const BLOCK = 4096;

describe('the pin registry', () => {
  it('a transfer waits only for earlier overlapping ones that conflict: reads share, writes queue, disjoint ranges go ahead', async () => {
    const pins = new PinRegistry();
    const r1 = pins.acquire(1, 'read', 0, 10);
    expect(r1.wait).toBeUndefined();
    expect(pins.acquire(1, 'read', 5, 15).wait).toBeUndefined(); // reads share
    expect(pins.acquire(2, 'write', 0, 10).wait).toBeUndefined(); // another file
    expect(pins.acquire(1, 'write', 10, 20).wait).toBeDefined(); // overlaps the second read at 10..14
    const w = pins.acquire(1, 'write', 20, 30);
    expect(w.wait).toBeUndefined();
    const r3 = pins.acquire(1, 'read', 25, 26); // behind the write
    expect(r3.wait).toBeDefined();
    let readable = false;
    void r3.wait!.then(() => (readable = true));
    await Promise.resolve();
    expect(readable).toBe(false);
    expect(pins.release(w.pin)).toBe(false); // not the file's last
    await r3.wait;
    expect(readable).toBe(true);
    expect(pins.pinsOf(1).map((p) => [p.id, p.kind, p.from, p.to])).toEqual([
      [1, 'read', 0, 10],
      [2, 'read', 5, 15],
      [4, 'write', 10, 20],
      [6, 'read', 25, 26],
    ]);
  });

  it('held blocks are listed from hold() until release, once; the last release says so', () => {
    const pins = new PinRegistry();
    const a = pins.acquire(7, 'write', 0, END).pin;
    const b = pins.acquire(8, 'write', 0, 4).pin;
    pins.hold(a, [{ start: 100, length: 8 }]);
    pins.hold(b, [{ start: 200, length: 1 }, { start: 300, length: 2 }]);
    expect(pins.held).toEqual([
      { start: 100, length: 8 },
      { start: 200, length: 1 },
      { start: 300, length: 2 },
    ]);
    expect(pins.has(7)).toBe(true);
    expect(pins.release(a)).toBe(true);
    expect(pins.release(a)).toBe(false);
    expect(pins.has(7)).toBe(false);
    expect(pins.held).toEqual([
      { start: 200, length: 1 },
      { start: 300, length: 2 },
    ]);
    expect(pins.release(b)).toBe(true);
    expect(pins.held).toEqual([]);
    expect(() => pins.acquire(1, 'read', 3, 3)).toThrow(/empty range/);
  });

  it('synchronous changes are refused only where a write holds the blocks', () => {
    const pins = new PinRegistry();
    pins.acquire(3, 'read', 0, 100);
    const w = pins.acquire(3, 'write', 200, END).pin;
    refuseIfPinned(pins, 3, 'f', 0, 200); // a read does not refuse
    refuseIfPinned(pins, 4, 'g', 0, END); // another file
    expectCode(() => refuseIfPinned(pins, 3, 'f', 199, 201), 'EBUSY', /'f' holds file blocks 200\.\.EOF and beyond/);
    pins.release(w);
    refuseIfPinned(pins, 3, 'f', 0, END);
  });

  it('changeSpan: a write inside EOF holds its blocks; one that moves EOF holds from the old EOF block on', () => {
    expect(changeSpan(10 * BLOCK, BLOCK + 1, 3 * BLOCK)).toEqual([1, 3]);
    expect(changeSpan(10 * BLOCK, 0, 10 * BLOCK)).toEqual([0, 10]);
    expect(changeSpan(10 * BLOCK, 9 * BLOCK, 10 * BLOCK + 1)).toEqual([9, END]);
    expect(changeSpan(10 * BLOCK + 5, 20 * BLOCK, 21 * BLOCK)).toEqual([10, END]);
    expect(changeSpan(0, 0, 1)).toEqual([0, END]);
  });
});
