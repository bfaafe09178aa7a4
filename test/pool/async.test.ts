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

  it('a second asynchronous transfer on the file is never EBUSY; synchronous changes on the blocks a write holds are, others go ahead', async () => {
    const { pool } = newPool(64 * MiB);
    const a = pool.open('a', { create: true });
    const before = pattern(16 * MiB, 9);
    a.write(before, 0);
    const first = pattern(8 * MiB, 1);
    const pending = a.writeAsync(first, 0); // holds file blocks 0..2047
    for (const change of [
      () => a.write(Buffer.from('x'), 8 * MiB - 1),
      () => a.truncate(4 * MiB),
      () => a.punchHole(0, BLOCK),
      () => a.zeroRange(BLOCK, 10),
      () => a.allocate(0, 20 * MiB),
    ])
      expectCode(change, 'EBUSY', /asynchronous write on 'a' holds file blocks 0\.\.2047/);
    // outside its blocks the file is usable
    a.write(Buffer.from('tail'), 12 * MiB);
    a.punchHole(14 * MiB, MiB);
    // a second write and a read on the same blocks queue behind it
    const second = pattern(MiB, 2);
    const again = a.writeAsync(second, 4 * MiB);
    const back = Buffer.alloc(8 * MiB);
    const read = a.readAsync(back, 0);
    expect(await pending).toBe(8 * MiB);
    expect(await again).toBe(MiB);
    expect(await read).toBe(8 * MiB);
    const expected = Buffer.concat([first.subarray(0, 4 * MiB), second, first.subarray(5 * MiB)]);
    expect(back.equals(expected)).toBe(true);
    const whole = Buffer.alloc(16 * MiB);
    a.read(whole, 0);
    const want = Buffer.from(before);
    expected.copy(want, 0);
    want.write('tail', 12 * MiB);
    want.fill(0, 14 * MiB, 15 * MiB);
    expect(whole.equals(want)).toBe(true);
    // settled: the blocks are free to change again
    a.truncate(BLOCK);
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('overlapping writeAsync calls run in submission order: the later one is what stays', async () => {
    const { pool, path } = newPool(64 * MiB);
    const f = pool.open('f', { create: true });
    const x = pattern(4 * MiB + 100, 1); // allocates, moves EOF
    const y = pattern(2 * MiB, 2);
    const z = pattern(3000, 3);
    const settled: string[] = [];
    const all = [
      f.writeAsync(x, 0).then((n) => settled.push(`x${n}`)),
      f.writeAsync(y, MiB + 7).then((n) => settled.push(`y${n}`)),
      f.writeAsync(z, 2 * MiB).then((n) => settled.push(`z${n}`)),
    ];
    await Promise.all(all);
    expect(settled).toEqual([`x${x.length}`, `y${y.length}`, `z${z.length}`]);
    const want = Buffer.from(x);
    y.copy(want, MiB + 7);
    z.copy(want, 2 * MiB);
    expect(f.size).toBe(x.length);
    const back = Buffer.alloc(f.size);
    f.read(back, 0);
    expect(back.equals(want)).toBe(true);
    f.close();
    expect(pool.check().ok).toBe(true);
    pool.close();
    const again = Pool.open(path);
    const g = again.open('f');
    const reread = Buffer.alloc(g.size);
    g.read(reread, 0);
    expect(reread.equals(want)).toBe(true);
    again.close();
  });

  it('disjoint writeAsync calls that allocate run together and both land, with a synchronous allocation between them', async () => {
    const { pool, path } = newPool(64 * MiB);
    const f = pool.open('f', { create: true });
    f.truncate(16 * MiB); // all holes
    const p = pattern(3 * MiB, 4);
    const q = pattern(2 * MiB + 5, 5);
    const one = f.writeAsync(p, 100);
    const two = f.writeAsync(q, 8 * MiB);
    // between them, a synchronous write allocates too, and commits first;
    // allocating in a hole the first one holds is EBUSY
    f.write(Buffer.from('middle'), 6 * MiB);
    expectCode(() => f.getBlock(10, { create: true }), 'EBUSY', /holds file blocks 0\.\.768/);
    expect(await Promise.all([one, two])).toEqual([p.length, q.length]);
    const want = Buffer.alloc(16 * MiB);
    p.copy(want, 100);
    q.copy(want, 8 * MiB);
    want.write('middle', 6 * MiB);
    const back = Buffer.alloc(16 * MiB);
    f.read(back, 0);
    expect(back.equals(want)).toBe(true);
    expect(f.stat().allocated).toBe((Math.ceil((3 * MiB + 100) / BLOCK) + 1 + Math.ceil((2 * MiB + 5) / BLOCK)) * BLOCK);
    f.close();
    expect(pool.check().ok).toBe(true);
    pool.close();
    const again = Pool.open(path);
    const g = again.open('f');
    const reread = Buffer.alloc(16 * MiB);
    g.read(reread, 0);
    expect(reread.equals(want)).toBe(true);
    again.close();
  });

  it('readAsync sees an overlapping writeAsync made before it whole, and one made after it not at all', async () => {
    const { pool } = newPool(64 * MiB);
    const f = pool.open('f', { create: true });
    const old = pattern(4 * MiB, 6);
    f.write(old, 0);
    const neu = pattern(4 * MiB, 7);
    const early = Buffer.alloc(4 * MiB);
    const late = Buffer.alloc(4 * MiB);
    const reads = [f.readAsync(early, 0)];
    const write = f.writeAsync(neu, 0);
    reads.push(f.readAsync(late, 0));
    expect(await Promise.all([...reads, write])).toEqual([4 * MiB, 4 * MiB, 4 * MiB]);
    expect(early.equals(old)).toBe(true);
    expect(late.equals(neu)).toBe(true);
    // past EOF: a read waits for the append before it and sees its bytes
    const tail = pattern(MiB, 8);
    const append = f.writeAsync(tail, 4 * MiB);
    const t = Buffer.alloc(MiB);
    expect(await f.readAsync(t, 4 * MiB)).toBe(MiB);
    await append;
    expect(t.equals(tail)).toBe(true);
    pool.close();
  });

  it('allocation never hands out blocks an in-flight write holds', async () => {
    const { pool } = newPool(64 * MiB);
    const a = pool.open('a', { create: true });
    const b = pool.open('b', { create: true });
    const data = pattern(8 * MiB, 1);
    const pending = a.writeAsync(data, 0);
    // every allocating path, on another file, while the write's blocks are uncommitted
    b.write(pattern(4 * MiB, 2), 0);
    b.allocate(4 * MiB, 2 * MiB);
    b.zeroRange(8 * MiB, MiB);
    b.getBlock(10 * 256, { create: true, maxBlocks: 256 });
    expect(await pending).toBe(8 * MiB);
    const blocks = (f: typeof a) => {
      const out = new Set<number>();
      for (let fb = 0; fb * BLOCK < f.size; ) {
        const m = f.getBlock(fb);
        if (m.mapped) for (let k = 0; k < m.count; k++) out.add(m.poolBlock + k);
        fb += m.count;
      }
      return out;
    };
    const inA = blocks(a);
    const inB = blocks(b);
    expect(inA.size).toBe(2048);
    expect([...inA].filter((x) => inB.has(x))).toEqual([]);
    const back = Buffer.alloc(8 * MiB);
    a.read(back, 0);
    expect(back.equals(data)).toBe(true);
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('close with transfers in flight and queued: each rejects EBADF, nothing uncommitted shows after reopening', async () => {
    const { pool, path } = newPool(64 * MiB);
    const f = pool.open('f', { create: true });
    f.write(pattern(MiB, 3), 0);
    const running = f.writeAsync(pattern(4 * MiB, 4), MiB); // an append: allocates
    const queued = f.writeAsync(pattern(MiB, 5), 2 * MiB);
    const reading = f.readAsync(Buffer.alloc(MiB), 2 * MiB);
    pool.close();
    await expect(running).rejects.toMatchObject({ code: 'EBADF' });
    await expect(queued).rejects.toMatchObject({ code: 'EBADF' });
    await expect(reading).rejects.toMatchObject({ code: 'EBADF' });
    const again = Pool.open(path);
    const g = again.open('f');
    expect(g.size).toBe(MiB);
    const back = Buffer.alloc(MiB);
    g.read(back, 0);
    expect(back.equals(pattern(MiB, 3))).toBe(true);
    expect(again.check().ok).toBe(true);
    again.close();
  });

  it('an overwrite inside EOF lands exactly and changes no metadata; one in flight at close rejects EBADF', async () => {
    const { pool, path } = newPool(64 * MiB);
    const f = pool.open('f', { create: true });
    const base = pattern(4 * MiB, 6);
    f.write(base, 0);
    const before = f.stat();
    const over = pattern(MiB + 5, 7);
    const reading = Buffer.alloc(4 * MiB);
    expect(await Promise.all([f.writeAsync(over, 1000), f.writeAsync(over, 2 * MiB, 5, MiB)])).toEqual([MiB + 5, MiB]);
    expect(await f.readAsync(reading, 0)).toBe(4 * MiB);
    const expected = Buffer.from(base);
    over.copy(expected, 1000);
    over.copy(expected, 2 * MiB, 5, MiB + 5);
    expect(reading.equals(expected)).toBe(true);
    expect(f.stat()).toEqual(before);
    const late = f.writeAsync(pattern(MiB, 8), MiB);
    pool.close();
    await expect(late).rejects.toMatchObject({ code: 'EBADF' });
    const again = Pool.open(path);
    const g = again.open('f');
    expect(g.size).toBe(4 * MiB);
    expect(again.check().ok).toBe(true);
    again.close();
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
