// Region.populate: filling the page tables of a range ahead of use
// (madvise MADV_POPULATE_WRITE), and the pool's use of it.
import { describe, expect, it } from 'vitest';

import { Pool, Region } from '../../lib/index.js';
import { expectCode, pattern, tmpfsDir, uniquePath } from '../helpers.js';

const MiB = 1 << 20;
const shm = tmpfsDir();

describe('Region.populate', () => {
  it('bad input: typed errors naming the argument, nothing done', () => {
    const r = Region.create(uniquePath(shm), 4 * MiB);
    expectCode(() => r.populate(100, 4096), 'EINVAL', /offset/);
    expectCode(() => r.populate(4096, 100), 'EINVAL', /length/);
    expectCode(() => r.populate(-4096, 4096), 'EINVAL', /offset/);
    expectCode(() => r.populate(0, Number.NaN), 'EINVAL', /length/);
    expectCode(() => r.populate(4 * MiB - 4096, 8192), 'ERANGE', /region/);
    expectCode(() => r.populate(8 * MiB, 4096), 'ERANGE', /region/);
    expectCode(() => r.populate('0' as unknown as number, 4096), 'EINVAL', /offset/);
    expect(r.backedBytes()).toBe(0); // a new region file is sparse, and still is
    r.close();
    expectCode(() => r.populate(0, 4096), 'EBADF');
  });

  it('refuses a read-only region (EROFS)', () => {
    const p = uniquePath(shm);
    Region.create(p, MiB).close();
    const r = Region.open(p, { readOnly: true });
    expectCode(() => r.populate(0, 4096), 'EROFS');
    r.close();
  });

  it('keeps the bytes of the range; on a hole of a sparse backing it allocates the hole (the probe: false only where the kernel lacks the advice)', () => {
    const r = Region.create(uniquePath(shm), 4 * MiB);
    const data = pattern(64 * 1024, 7);
    r.write(MiB, data);
    const before = r.backedBytes();
    expect(before).toBe(64 * 1024);
    const populated = r.populate(MiB, MiB); // 64 KiB written, the rest a hole
    expect(r.populate(0, 0)).toBe(true); // nothing to do
    const back = Buffer.alloc(64 * 1024);
    r.read(MiB, back);
    expect(back.equals(data)).toBe(true);
    const zeros = Buffer.alloc(MiB - 64 * 1024, 1);
    r.read(MiB + 64 * 1024, zeros);
    expect(zeros.every((b) => b === 0)).toBe(true);
    // What populating did to the backing says whether it happened.
    expect(r.backedBytes()).toBe(populated ? MiB : before);
    expect(r.backedUntil(MiB)).toBe(populated ? 2 * MiB : MiB + 64 * 1024);
    r.close();
  });
});

describe('the pool populates ahead of allocation only what is reserved', () => {
  it('a sparse pool: allocation populates nothing beyond the blocks it reserves', () => {
    const p = uniquePath(shm);
    const pool = Pool.format(p, { size: 64 * MiB, sparse: true });
    const before = pool.info().backedBytes;
    const f = pool.open('f', { create: true });
    f.write(Buffer.alloc(4096, 1), 0);
    // one data block reserved: a populated 2 MiB window would have backed 2 MiB
    expect(pool.info().backedBytes - before).toBe(4096);
    f.close();
    pool.close();
  });

  it('a fully reserved pool: files written after the population read back what was written', () => {
    const pool = Pool.format(uniquePath(shm), { size: 64 * MiB });
    const data = pattern(3 * MiB, 3);
    const f = pool.open('f', { create: true });
    expect(f.write(data, 0)).toBe(data.length);
    const back = Buffer.alloc(data.length);
    expect(f.read(back, 0)).toBe(data.length);
    expect(back.equals(data)).toBe(true);
    expect(pool.check().problems).toEqual([]);
    f.close();
    pool.close();
  });
});
