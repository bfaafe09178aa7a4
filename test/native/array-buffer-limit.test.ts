// How large one ArrayBuffer over region memory may be depends on the engine:
// 4 GiB on Node 20; on later versions more than a process can map. The
// tests ask the running engine and check against what it allows.
import { constants } from 'node:buffer';
import { describe, expect, it } from 'vitest';

import { maxArrayBufferLength, Region } from '../../lib/index.js';
import { addon } from '../../lib/native.js';
import { expectCode, tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
const GiB = 2 ** 30;
// Node 20 declares 4 GiB; later versions 2^53 - 1, beyond any address space.
const declared = constants.MAX_LENGTH;
const boundedByNode = declared <= 2 ** 47;

describe('the ArrayBuffer limit', () => {
  it('is what this engine takes: Node\'s declared limit, or the most a process can reserve when that is larger', () => {
    const limit = maxArrayBufferLength();
    if (boundedByNode) {
      expect(limit).toBe(declared);
    } else {
      // Found by halving from the 47-bit address space.
      expect(Number.isInteger(Math.log2(limit))).toBe(true);
      expect(limit).toBeGreaterThanOrEqual(2 ** 40);
      expect(limit).toBeLessThanOrEqual(2 ** 47);
    }
    expect(maxArrayBufferLength()).toBe(limit); // learnt once
  });

  it('decides whether a large region is one buffer and how long a mapping may be', () => {
    const size = 6 * GiB;
    const r = Region.create(uniquePath(shm), size); // sparse on tmpfs
    if (maxArrayBufferLength() >= size) {
      const whole = r.view(0, size);
      expect(whole.length).toBe(size);
      whole[size - 1] = 5;
      expect(r.view(size - 1, 1)[0]).toBe(5);
      const m = r.createMapping(8 * GiB);
      expect(m.buffer.byteLength).toBe(8 * GiB);
    } else {
      expectCode(() => r.view(0, size), 'ERANGE', /larger than one view may be \(2147483648 bytes\)/);
      expectCode(() => r.createMapping(8 * GiB), 'EINVAL', /ArrayBuffer limit \(4294967296 bytes\)/);
    }
    r.close();
  });

  it('past it, a region is seen through overlapping windows, all detached on close', () => {
    // The declared limit lowered to Node 20's, so that every version lays
    // windows out; restored after.
    addon.setMaxArrayBufferLength(4 * GiB);
    try {
      const r = Region.create(uniquePath(shm), 6 * GiB);
      const a = r.view(5 * GiB + 100, 64);
      a.fill(7);
      const b = r.view(2 * GiB - 10, 20); // straddles a window start: still one view
      b.fill(9);
      const back = Buffer.alloc(64);
      r.read(5 * GiB + 100, back);
      expect(back.every((x) => x === 7)).toBe(true);
      expect(r.view(2 * GiB - 10, 20).every((x) => x === 9)).toBe(true);
      expect(r.view(6 * GiB, 0).length).toBe(0);
      expect(r.view(0, 2 * GiB).length).toBe(2 * GiB);
      expectCode(() => r.view(0, 2 * GiB + 1), 'ERANGE', /larger than one view may be \(2147483648 bytes\)/);
      expectCode(() => r.createMapping(8 * GiB), 'EINVAL', /ArrayBuffer limit \(4294967296 bytes\)/);
      r.close();
      expect(a.length).toBe(0);
      expect(b.length).toBe(0);
    } finally {
      addon.setMaxArrayBufferLength(declared);
    }
  });
});
