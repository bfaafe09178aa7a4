import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { BLOCK } from '../../lib/pool/layout.js';
import { expectCode, pattern } from '../helpers.js';
import { newPool } from './helpers.js';

const MiB = 1 << 20;

describe('promise-returning transfers', () => {
  it('writeAsync and readAsync move large data off the main thread, exactly', async () => {
    const { pool, path } = newPool(64 * MiB);
    const f = pool.open('big', { create: true });
    const data = pattern(20 * MiB + 123, 4);
    expect(await f.writeAsync(data, 77)).toBe(data.length);
    expect(f.size).toBe(data.length + 77);
    const back = Buffer.alloc(f.size);
    expect(await f.readAsync(back, 0)).toBe(f.size);
    expect(back.subarray(77).equals(data)).toBe(true);
    expect(back.subarray(0, 77).every((b) => b === 0)).toBe(true);
    f.close();
    expect(pool.check().ok).toBe(true);
    pool.close();
    const again = Pool.open(path);
    const g = again.open('big');
    const check = Buffer.alloc(g.size);
    g.read(check, 0);
    expect(check.equals(back)).toBe(true);
    again.close();
  });

  it('a file is busy while its transfer runs; other files are not, and allocations never collide', async () => {
    const { pool } = newPool(64 * MiB);
    const a = pool.open('a', { create: true });
    const b = pool.open('b', { create: true });
    const pending = a.writeAsync(pattern(8 * MiB, 1), 0);
    expectCode(() => a.truncate(0), 'EBUSY', /in progress/);
    expectCode(() => a.write(Buffer.from('x'), 0), 'EBUSY');
    await expect(a.readAsync(Buffer.alloc(10), 0)).rejects.toMatchObject({ code: 'EBUSY' });
    // another file allocates meanwhile: it must not get the blocks the transfer reserved
    b.write(pattern(8 * MiB, 2), 0);
    expect(await pending).toBe(8 * MiB);
    const ra = a.getBlock(0);
    const rb = b.getBlock(0);
    expect(ra.poolBlock + ra.count <= rb.poolBlock || rb.poolBlock + rb.count <= ra.poolBlock).toBe(true);
    a.truncate(BLOCK);
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('an unlinked file stays allocated until its transfer and its handles are done', async () => {
    const { pool } = newPool(64 * MiB);
    const f = pool.open('gone', { create: true });
    const pending = f.writeAsync(pattern(4 * MiB, 3), 0);
    pool.unlink('gone');
    f.close();
    expect(pool.list()).toEqual([]);
    await pending;
    expect(pool.info().freeBlocks).toBe(pool.info().dataBlocks);
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('arguments are checked before anything starts (rejected promises with typed errors)', async () => {
    const { pool } = newPool();
    const f = pool.open('x', { create: true });
    await expect(f.writeAsync(Buffer.alloc(1), -1)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(f.readAsync('no' as unknown as Buffer, 0)).rejects.toMatchObject({ code: 'EINVAL' });
    f.close();
    await expect(f.writeAsync(Buffer.alloc(1), 0)).rejects.toMatchObject({ code: 'EBADF' });
    pool.close();
  });
});
