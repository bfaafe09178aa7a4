import { describe, expect, it } from 'vitest';

import { Pool, Region } from '../../lib/index.js';
import { BLOCK } from '../../lib/pool/layout.js';
import { expectCode, pattern } from '../helpers.js';
import { newPool } from './helpers.js';

const MiB = 1 << 20;

function readAll(f: { size: number; read(b: Uint8Array, p: number): number }): Buffer {
  const b = Buffer.alloc(f.size);
  expect(f.read(b, 0)).toBe(f.size);
  return b;
}

describe('pool files', () => {
  it('create, write, read back, stat, list; sizes exact to the byte', () => {
    const { pool } = newPool();
    const f = pool.open('a', { create: true });
    expect(f.size).toBe(0);
    expect(f.write(Buffer.from('hello'), 0)).toBe(5);
    expect(f.write(pattern(10_000, 2), 3)).toBe(10_000);
    expect(f.size).toBe(10_003);
    const back = readAll(f);
    expect(back.subarray(0, 3).toString()).toBe('hel');
    expect(back.subarray(3).equals(pattern(10_000, 2))).toBe(true);
    expect(pool.stat('a')).toMatchObject({ name: 'a', size: 10_003, allocated: 3 * BLOCK });
    expect(pool.list().map((s) => s.name)).toEqual(['a']);
    // reads stop at EOF
    const tail = Buffer.alloc(100, 0xee);
    expect(f.read(tail, 10_000)).toBe(3);
    expect(f.read(tail, 10_003)).toBe(0);
    expect(f.read(tail, 50_000)).toBe(0);
    f.close();
    pool.close();
  });

  it("a write into new blocks makes only its transaction's fences (the data is fenced with the journal body); an overwrite makes one", () => {
    const { pool } = newPool();
    const f = pool.open('fenced', { create: true });
    const fences = () => pool.region.stats().fences;
    let before = fences();
    expect(f.write(pattern(2 * BLOCK, 3), 0)).toBe(2 * BLOCK);
    expect(fences() - before).toBe(4); // body and header (and the data), commit word, in place, clear
    before = fences();
    expect(f.write(pattern(BLOCK, 4), BLOCK)).toBe(BLOCK);
    expect(fences() - before).toBe(1);
    expect(readAll(f).equals(Buffer.concat([pattern(2 * BLOCK, 3).subarray(0, BLOCK), pattern(BLOCK, 4)]))).toBe(true);
    f.close();
    pool.close();
  });

  it('holes and unwritten extents read as zeros; new blocks are zeroed around a write', () => {
    const { pool } = newPool();
    const f = pool.open('sparse', { create: true });
    f.write(Buffer.from('x'), 100 * BLOCK + 7);
    expect(f.size).toBe(100 * BLOCK + 8);
    expect(f.stat().allocated).toBe(BLOCK);
    const all = readAll(f);
    expect(all[100 * BLOCK + 7]).toBe(0x78);
    all[100 * BLOCK + 7] = 0;
    expect(all.every((b) => b === 0)).toBe(true);
    f.allocate(200 * BLOCK, 3 * BLOCK);
    expect(f.size).toBe(203 * BLOCK);
    expect(f.getBlock(201)).toMatchObject({ mapped: true, unwritten: true, count: 2 });
    const z = Buffer.alloc(3 * BLOCK, 1);
    f.read(z, 200 * BLOCK);
    expect(z.every((b) => b === 0)).toBe(true);
    // a small write into an unwritten block converts it, the rest of the block still zero
    f.write(Buffer.from('abc'), 201 * BLOCK + 10);
    expect(f.getBlock(201)).toMatchObject({ unwritten: false, count: 1 });
    expect(f.getBlock(200)).toMatchObject({ unwritten: true });
    f.read(z, 200 * BLOCK);
    expect(z.subarray(BLOCK + 10, BLOCK + 13).toString()).toBe('abc');
    z.fill(0, BLOCK + 10, BLOCK + 13);
    expect(z.every((b) => b === 0)).toBe(true);
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('getBlock reports runs, holes and new allocations (the get_block of the DAX path)', () => {
    const { pool } = newPool();
    const f = pool.open('g', { create: true });
    f.write(pattern(5 * BLOCK), 0);
    const m = f.getBlock(1);
    expect(m).toMatchObject({ mapped: true, count: 4, new: false, unwritten: false });
    expect(f.getBlock(4).poolBlock).toBe(m.poolBlock + 3);
    expect(f.getBlock(10)).toEqual({ mapped: false, poolBlock: -1, count: 2 ** 32 - 10, new: false, unwritten: false });
    const created = f.getBlock(10, { create: true, maxBlocks: 4 });
    expect(created).toMatchObject({ mapped: true, new: true, count: 4 });
    // contiguity first: the new run follows the file's previous blocks' neighbourhood
    expect(created.poolBlock).toBeGreaterThan(m.poolBlock);
    expect(f.getBlock(5)).toMatchObject({ mapped: false, count: 5 });
    expect(f.getBlock(12)).toMatchObject({ mapped: true, count: 2, new: false });
    expectCode(() => f.getBlock(-1), 'EINVAL');
    expectCode(() => f.getBlock(2 ** 32), 'EINVAL');
    pool.close();
  });

  it('appends allocate contiguously', () => {
    const { pool } = newPool();
    const f = pool.open('log', { create: true });
    for (let i = 0; i < 64; i++) f.write(pattern(BLOCK, i), i * BLOCK);
    expect(f.stat().extents).toBe(1);
    pool.close();
  });

  it('truncate down frees blocks and the tail reads as zero after growing again; up makes a hole', () => {
    const { pool } = newPool();
    const f = pool.open('t', { create: true });
    f.write(pattern(10 * BLOCK, 5), 0);
    const free0 = pool.info().freeBlocks;
    f.truncate(2 * BLOCK + 100);
    expect(f.size).toBe(2 * BLOCK + 100);
    expect(pool.info().freeBlocks).toBe(free0 + 7);
    f.truncate(20 * BLOCK);
    const all = readAll(f);
    expect(all.subarray(0, 2 * BLOCK + 100).equals(pattern(10 * BLOCK, 5).subarray(0, 2 * BLOCK + 100))).toBe(true);
    expect(all.subarray(2 * BLOCK + 100).every((b) => b === 0)).toBe(true);
    f.truncate(0);
    expect(f.stat().allocated).toBe(0);
    expect(pool.info().freeBlocks).toBe(free0 + 10);
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('appends: the size is one checked word (no transaction); block appends preallocate ahead; the last close trims', () => {
    const { pool, path } = newPool();
    const free0 = pool.info().freeBlocks;
    const f = pool.open('log', { create: true });
    f.write(Buffer.alloc(4 * BLOCK, 1), 0); // 4 blocks: no preallocation yet
    expect(pool.info().freeBlocks).toBe(free0 - 4);
    const t0 = pool.info().transactions;
    f.write(Buffer.alloc(BLOCK, 2), 4 * BLOCK); // allocates block 4 and preallocates 5 more
    expect(pool.info().transactions).toBe(t0 + 1);
    expect(pool.info().freeBlocks).toBe(free0 - 10);
    for (let i = 5; i < 10; i++) f.write(Buffer.alloc(BLOCK, i), i * BLOCK); // into the preallocation
    f.write(Buffer.from('tail'), 10 * BLOCK - 0); // the next one allocates again (and preallocates)
    f.write(Buffer.from('+more'), 10 * BLOCK + 4); // inside the last block: the size word only
    expect(pool.info().transactions).toBe(t0 + 2);
    expect(f.size).toBe(10 * BLOCK + 9);
    expect(f.stat().allocated).toBe(11 * BLOCK); // preallocation past EOF is not counted
    f.close(); // trims the preallocation
    expect(pool.info().freeBlocks).toBe(free0 - 11);
    expect(pool.check().problems).toEqual([]);
    pool.close();
    const again = Pool.open(path);
    const g = again.open('log');
    expect(g.size).toBe(10 * BLOCK + 9);
    const b = Buffer.alloc(g.size);
    g.read(b, 0);
    const expected = Buffer.alloc(10 * BLOCK + 9);
    expected.fill(1, 0, 4 * BLOCK);
    expected.fill(2, 4 * BLOCK, 5 * BLOCK);
    for (let i = 5; i < 10; i++) expected.fill(i, i * BLOCK, (i + 1) * BLOCK);
    Buffer.from('tail+more').copy(expected, 10 * BLOCK);
    expect(b.equals(expected)).toBe(true);
    expect(again.check().problems).toEqual([]);
    again.close();
  });

  it('preallocated blocks are not zeroed, yet an earlier owner\'s bytes never show: not past a partial append, not through a mapping, not after growth or a crash', () => {
    const { pool, path } = newPool(2 * MiB);
    const old = pool.open('old', { create: true });
    old.write(Buffer.alloc(64 * BLOCK, 0x5e), 0);
    old.close();
    const filler = pool.open('filler', { create: true });
    filler.allocate(0, (pool.info().freeBlocks - 2) * BLOCK);
    filler.close();
    pool.unlink('old'); // its blocks are the free ones, full of 0x5e
    const f = pool.open('log', { create: true });
    for (let i = 0; i < 8; i++) f.write(Buffer.alloc(BLOCK, 1), i * BLOCK); // preallocation kicks in
    f.write(Buffer.from('partial'), 8 * BLOCK); // enters a preallocated block
    const m = f.map({ length: 9 * BLOCK });
    const page = m.view(8 * BLOCK, BLOCK); // the EOF page shows the block's bytes past EOF too
    expect(page.subarray(7).every((x) => x === 0)).toBe(true);
    m.unmap();
    const g = pool.open('log');
    g.write(Buffer.from('!'), 8 * BLOCK + 7); // appends inside that block: the size word only
    g.truncate(12 * BLOCK); // growth past the preallocation's start
    const b = Buffer.alloc(12 * BLOCK);
    g.read(b, 0);
    expect(b.subarray(8 * BLOCK + 8).every((x) => x === 0)).toBe(true);
    expect(b.includes(0x5e)).toBe(false);
    g.close();
    // a "crash" with preallocation in place: blocks past EOF are freed at mount
    const h = pool.open('log');
    for (let i = 12; i < 20; i++) h.write(Buffer.alloc(BLOCK, 2), i * BLOCK);
    const allocatedPastEof = (() => {
      let n = 0;
      for (let fb = 20; fb < 60; fb++) if (h.getBlock(fb).mapped) n++;
      return n;
    })();
    expect(allocatedPastEof).toBeGreaterThan(0);
    pool.close(); // without closing h: its preallocation stays on media, as after a crash
    const again = Pool.open(path);
    const k = again.open('log');
    for (let fb = 20; fb < 60; fb++) expect(k.getBlock(fb).mapped, `file block ${fb}`).toBe(false);
    k.truncate(40 * BLOCK);
    const c = Buffer.alloc(40 * BLOCK);
    k.read(c, 0);
    expect(c.includes(0x5e)).toBe(false);
    expect(again.check().problems).toEqual([]);
    again.close();
  });

  it('a write, truncate, allocate or zero range past EOF drops the preallocation first: holes stay holes', () => {
    const { pool } = newPool();
    const f = pool.open('f', { create: true });
    f.write(Buffer.alloc(4 * BLOCK, 1), 0);
    f.write(Buffer.alloc(BLOCK, 2), 4 * BLOCK); // preallocates blocks 5..9
    expect(f.getBlock(6)).toMatchObject({ mapped: true });
    f.truncate(12 * BLOCK);
    expect(f.getBlock(6)).toMatchObject({ mapped: false }); // a hole, as without preallocation
    expect(f.stat().allocated).toBe(5 * BLOCK);
    const b = Buffer.alloc(12 * BLOCK);
    f.read(b, 0);
    expect(b.subarray(5 * BLOCK).every((x) => x === 0)).toBe(true);
    f.close();
    expect(pool.check().problems).toEqual([]);
    pool.close();
  });

  it('bytes freed by truncate and then allocated to another file read as zeros there', () => {
    const { pool } = newPool(2 * MiB);
    const a = pool.open('a', { create: true });
    a.write(Buffer.alloc(64 * BLOCK, 0x5e), 0);
    const aStart = a.getBlock(0).poolBlock;
    // fill every other free block, so that a's blocks are the only ones left once freed
    const filler = pool.open('filler', { create: true });
    filler.allocate(0, pool.info().freeBlocks * BLOCK);
    a.truncate(0);
    expect(pool.info().freeBlocks).toBe(64);
    const b = pool.open('b', { create: true });
    b.allocate(0, 32 * BLOCK);
    b.write(Buffer.from('z'), 5);
    const c = pool.open('c', { create: true });
    expect(c.getBlock(0, { create: true, maxBlocks: 8 })).toMatchObject({ new: true, count: 8 });
    c.truncate(8 * BLOCK);
    const d = pool.open('d', { create: true });
    d.write(Buffer.from('tail'), 20 * BLOCK + 1); // a new block with bytes before and after the write
    for (const [file, bytes] of [[b, 32 * BLOCK], [c, 8 * BLOCK], [d, 20 * BLOCK + 5]] as const) {
      const m = file.getBlock(Math.floor((bytes - 1) / BLOCK));
      // every one of them reuses a's freed blocks ...
      expect(m.poolBlock >= aStart && m.poolBlock < aStart + 64).toBe(true);
      // ... and shows zeros wherever it was not written
      const all = Buffer.alloc(file.size);
      file.read(all, 0);
      const expected = Buffer.alloc(file.size);
      if (file === b) expected[5] = 0x7a;
      if (file === d) Buffer.from('tail').copy(expected, 20 * BLOCK + 1);
      expect(all.equals(expected)).toBe(true);
      // on media too, for the blocks the file holds
      const raw = pool.region.view(m.poolBlock * BLOCK, BLOCK);
      expect(raw.includes(0x5e)).toBe(false);
    }
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('punch hole frees whole blocks and zeroes partial ones; the size stays', () => {
    const { pool } = newPool();
    const f = pool.open('p', { create: true });
    f.write(Buffer.alloc(8 * BLOCK, 0xaa), 0);
    f.punchHole(BLOCK + 10, 3 * BLOCK);
    expect(f.size).toBe(8 * BLOCK);
    expect(f.getBlock(2)).toMatchObject({ mapped: false });
    expect(f.getBlock(3)).toMatchObject({ mapped: false });
    expect(f.getBlock(1)).toMatchObject({ mapped: true });
    const all = readAll(f);
    for (let i = 0; i < all.length; i++) {
      const inHole = i >= BLOCK + 10 && i < 4 * BLOCK + 10;
      if (all[i] !== (inHole ? 0 : 0xaa)) throw new Error(`byte ${i} is ${all[i]}`);
    }
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('zero range keeps blocks as unwritten, allocates holes, zeroes edges, may extend', () => {
    const { pool } = newPool();
    const f = pool.open('z', { create: true });
    f.write(Buffer.alloc(4 * BLOCK, 0xbb), 0);
    const before = f.stat().allocated;
    f.zeroRange(100, 2 * BLOCK);
    expect(f.stat().allocated).toBe(before);
    expect(f.getBlock(1)).toMatchObject({ mapped: true, unwritten: true });
    const all = readAll(f);
    for (let i = 0; i < all.length; i++) {
      const zeroed = i >= 100 && i < 2 * BLOCK + 100;
      if (all[i] !== (zeroed ? 0 : 0xbb)) throw new Error(`byte ${i} is ${all[i]}`);
    }
    f.zeroRange(6 * BLOCK, 2 * BLOCK);
    expect(f.size).toBe(8 * BLOCK);
    expect(f.getBlock(6)).toMatchObject({ mapped: true, unwritten: true });
    expect(readAll(f).subarray(4 * BLOCK).every((b) => b === 0)).toBe(true);
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('many extents spill into extent blocks and survive remount', () => {
    const { pool, path } = newPool();
    const f = pool.open('frag', { create: true });
    // every other block: 200 separate extents
    for (let i = 0; i < 200; i++) f.write(pattern(100, i), i * 2 * BLOCK);
    const filler = pool.open('filler', { create: true });
    expect(f.stat().extents).toBeGreaterThan(11);
    const snapshot = readAll(f);
    f.close();
    filler.close();
    pool.close();
    const again = Pool.open(path);
    const g = again.open('frag');
    expect(g.stat().extents).toBe(200);
    expect(readAll(g).equals(snapshot)).toBe(true);
    expect(again.check().ok).toBe(true);
    // shrinking frees the extent blocks again
    g.truncate(BLOCK);
    expect(again.check().ok).toBe(true);
    again.close();
  });

  it('rename moves a name and atomically replaces an existing one', () => {
    const { pool } = newPool();
    const a = pool.open('a', { create: true });
    a.write(Buffer.from('A'), 0);
    a.close();
    const b = pool.open('b', { create: true });
    b.write(Buffer.alloc(3 * BLOCK, 1), 0);
    b.close();
    const free = pool.info().freeBlocks;
    pool.rename('a', 'b');
    expect(pool.list().map((s) => s.name)).toEqual(['b']);
    expect(pool.stat('b').size).toBe(1);
    expect(pool.info().freeBlocks).toBe(free + 3);
    pool.rename('b', 'c');
    pool.rename('c', 'c');
    expect(pool.list().map((s) => s.name)).toEqual(['c']);
    expectCode(() => pool.rename('nope', 'x'), 'ENOENT');
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('unlink of an open file keeps its blocks until the last handle closes', () => {
    const { pool } = newPool();
    const f = pool.open('open', { create: true });
    f.write(Buffer.alloc(5 * BLOCK, 3), 0);
    const g = pool.open('open');
    const free = pool.info().freeBlocks;
    pool.unlink('open');
    expect(pool.list()).toEqual([]);
    expectCode(() => pool.stat('open'), 'ENOENT');
    expect(pool.info().freeBlocks).toBe(free);
    expect(f.write(Buffer.from('still'), 0)).toBe(5);
    const b = Buffer.alloc(5);
    g.read(b, 0);
    expect(b.toString()).toBe('still');
    expect(pool.check().ok).toBe(true); // an open orphan is not a problem
    f.close();
    expect(pool.info().freeBlocks).toBe(free);
    g.close();
    expect(pool.info().freeBlocks).toBe(free + 5);
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('an orphan left by a crash is freed at mount', () => {
    const { pool, path } = newPool();
    const f = pool.open('doomed', { create: true });
    f.write(Buffer.alloc(7 * BLOCK, 1), 0);
    pool.unlink('doomed');
    // simulate the process dying with the file open: drop the pool without closing handles
    pool.region.close();
    const again = Pool.open(path);
    expect(again.info().orphansFreedAtMount).toBe(1);
    expect(again.info().freeBlocks).toBe(again.info().dataBlocks);
    expect(again.check().ok).toBe(true);
    again.close();
  });

  it('ENOSPC: a short write reports exactly what was written; nothing leaks', () => {
    const { pool } = newPool(MiB);
    const f = pool.open('big', { create: true });
    const freeBytes = pool.info().freeBlocks * BLOCK;
    const data = pattern(freeBytes + 10 * BLOCK, 9);
    const n = f.write(data, 0);
    expect(n).toBe(freeBytes);
    expect(f.size).toBe(n);
    expect(readAll(f).equals(data.subarray(0, n))).toBe(true);
    expectCode(() => f.write(Buffer.from('x'), n), 'ENOSPC');
    expect(f.size).toBe(n);
    const g = pool.open('other', { create: true });
    expectCode(() => g.allocate(0, BLOCK), 'ENOSPC');
    expect(g.size).toBe(0);
    expect(pool.check().ok).toBe(true);
    f.truncate(0);
    expect(pool.info().freeBlocks * BLOCK).toBe(freeBytes);
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('names: UTF-8, 1 to 255 bytes, no slash, no NUL', () => {
    const { pool } = newPool();
    for (const bad of ['', 'a/b', 'nul\0', 'x'.repeat(256), 'é'.repeat(128)]) {
      expectCode(() => pool.open(bad, { create: true }), 'EINVAL', /name/);
    }
    expectCode(() => pool.open(42 as unknown as string, { create: true }), 'EINVAL');
    pool.open('é'.repeat(127), { create: true }).close();
    pool.open('x'.repeat(255), { create: true }).close();
    pool.open('ünïcødé 🚀', { create: true }).close();
    expect(pool.list().length).toBe(3);
    pool.close();
  });

  it('typed errors: ENOENT, EEXIST, EBADF, EROFS, EFBIG, EINVAL, ERANGE; data intact', () => {
    const { pool, path } = newPool();
    expectCode(() => pool.open('missing'), 'ENOENT');
    expectCode(() => pool.unlink('missing'), 'ENOENT');
    const f = pool.open('f', { create: true });
    f.write(Buffer.from('keep'), 0);
    expectCode(() => pool.open('f', { create: true, exclusive: true }), 'EEXIST');
    expectCode(() => f.write(Buffer.from('x'), 2 ** 53), 'EINVAL');
    expectCode(() => f.write(Buffer.from('x'), -1), 'EINVAL');
    expectCode(() => f.write(Buffer.from('x'), 1.5), 'EINVAL');
    expectCode(() => f.write(Buffer.from('x'), (2 ** 32) * BLOCK), 'EFBIG');
    expectCode(() => f.write('text' as unknown as Buffer, 0), 'EINVAL', /source/);
    expectCode(() => f.read(Buffer.alloc(4), 0, 2, 4), 'ERANGE');
    expectCode(() => f.truncate(-5), 'EINVAL');
    expectCode(() => f.truncate(NaN), 'EINVAL');
    expectCode(() => f.allocate(0, 0), 'EINVAL');
    f.close();
    expectCode(() => f.write(Buffer.from('x'), 0), 'EBADF');
    expectCode(() => f.size, 'EBADF');
    pool.close();
    const ro = Pool.open(path, { readOnly: true });
    const r = ro.open('f');
    const b = Buffer.alloc(4);
    r.read(b, 0);
    expect(b.toString()).toBe('keep');
    expectCode(() => r.write(Buffer.from('x'), 0), 'EROFS');
    expectCode(() => r.truncate(0), 'EROFS');
    expectCode(() => ro.open('new', { create: true }), 'EROFS');
    expectCode(() => ro.unlink('f'), 'EROFS');
    expectCode(() => ro.rename('f', 'g'), 'EROFS');
    expectCode(() => ro.check({ repair: true }), 'EROFS');
    expect(ro.check().ok).toBe(true);
    ro.close();
    expectCode(() => ro.list(), 'EBADF');
    expectCode(() => r.read(b, 0), 'EBADF');
  });

  it('data and metadata survive close and reopen', () => {
    const { pool, path } = newPool();
    for (let i = 0; i < 20; i++) {
      const f = pool.open(`file-${i}`, { create: true });
      f.write(pattern(1000 + i * 777, i), i * 13);
      f.close();
    }
    pool.close();
    const again = Pool.open(path);
    expect(again.list().length).toBe(20);
    for (let i = 0; i < 20; i++) {
      const f = again.open(`file-${i}`);
      const all = readAll(f);
      expect(all.subarray(i * 13).equals(pattern(1000 + i * 777, i))).toBe(true);
      expect(all.subarray(0, i * 13).every((b) => b === 0)).toBe(true);
      f.close();
    }
    again.close();
  });
});

describe('check and repair', () => {
  it('finds a leaked block, an unmarked block, a wrong free count, and repairs them', () => {
    const { pool, path } = newPool();
    const f = pool.open('f', { create: true });
    f.write(Buffer.alloc(2 * BLOCK, 1), 0);
    const owned = f.getBlock(0).poolBlock;
    f.close();
    const sb = pool.superblock();
    pool.close();
    // damage the bitmap behind the pool's back: leak block 900, clear an owned block
    const r = Region.open(path);
    const bm = r.bitmap(sb.bitmapStart * BLOCK, sb.nblocks);
    bm.set(900, 2);
    bm.clear(owned, 1);
    r.close();
    // read-only, nothing is changed at mount: check sees all three
    const ro = Pool.open(path, { readOnly: true });
    const report = ro.check();
    ro.close();
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind).sort()).toEqual(['free-count', 'leaked-blocks', 'unmarked-blocks'].sort());
    expect(report.problems.find((p) => p.kind === 'leaked-blocks')!.message).toMatch(/blocks 900\.\.901/);
    expect(report.problems.find((p) => p.kind === 'unmarked-blocks')!.message).toMatch(new RegExp(`blocks ${owned}\\.\\.${owned}`));
    // a writable mount marks the owned block in use before anything can allocate it
    const again = Pool.open(path);
    expect(again.info().blocksRemarkedAtMount).toBe(1);
    expect(again.check().problems.map((p) => p.kind).sort()).toEqual(['free-count', 'leaked-blocks']);
    const fixed = again.check({ repair: true });
    expect(fixed.repaired.length).toBe(2);
    expect(fixed.ok).toBe(true);
    expect(again.check().ok).toBe(true);
    again.close();
  });

  it('blocks owned twice make both files damaged; a repair gives the blocks to the first and sets both aside', () => {
    const { pool, path } = newPool();
    const a = pool.open('a', { create: true });
    a.write(Buffer.alloc(BLOCK, 1), 0);
    const b = pool.open('b', { create: true });
    b.write(Buffer.alloc(BLOCK, 2), 0);
    const c = pool.open('c', { create: true });
    c.write(Buffer.alloc(BLOCK, 3), 0);
    const sb = pool.superblock();
    const aBlock = a.getBlock(0).poolBlock;
    pool.close();
    // point b's inline extent at a's block, with a valid checksum
    const r = Region.open(path);
    const inodeB = sb.inodeStart * BLOCK + 1 * 512;
    const slot = Buffer.alloc(512);
    r.read(inodeB, slot);
    slot.writeUInt32LE(aBlock, 320 + 4);
    const { crc32 } = require('node:zlib') as typeof import('node:zlib');
    const covered = Buffer.from(slot.subarray(0, 508)).fill(0, 8, 16); // the CRC leaves out the size word
    slot.writeUInt32LE(crc32(covered), 508);
    r.write(inodeB, slot);
    r.close();
    // nothing says which one the block belongs to: neither is readable or writable, the rest is
    const again = Pool.open(path);
    expectCode(() => again.open('a'), 'EUCLEAN', new RegExp(`file 'a' \\(inode 0\\) is damaged: blocks ${aBlock}\\.\\.${aBlock} are also claimed by inode 1 \\('b'\\)`));
    expectCode(() => again.open('b'), 'EUCLEAN', /file 'b' \(inode 1\) is damaged: .*claimed by inode 0 \('a'\)/);
    expect(again.list().map((st) => [st.name, st.damaged !== undefined])).toEqual([['a', true], ['b', true], ['c', false]]);
    const report = again.check();
    expect(report.ok).toBe(false);
    expect(report.problems.filter((p) => p.kind === 'damaged').map((p) => p.ino)).toEqual([0, 1]);
    expect(report.problems.some((p) => p.kind === 'double-owner')).toBe(false);
    const fixed = again.check({ repair: true });
    expect(fixed.ok).toBe(true);
    expect(again.check().problems).toEqual([]);
    // the first claimant keeps the block; the second keeps its size, as a hole
    const read = (name: string) => {
      const f = again.open(name);
      const bytes = Buffer.alloc(f.size);
      f.read(bytes, 0);
      f.close();
      return bytes;
    };
    expect(again.list().map((st) => st.name)).toEqual(['c', 'lost+found.0', 'lost+found.1']);
    expect(read('lost+found.0').equals(Buffer.alloc(BLOCK, 1))).toBe(true);
    expect(read('lost+found.1').equals(Buffer.alloc(BLOCK))).toBe(true);
    expect(read('c').equals(Buffer.alloc(BLOCK, 3))).toBe(true);
    again.close();
  });
});

describe('allocation policy and limits', () => {
  it('falls back to fragments when the pool has no contiguous run left', () => {
    const { pool } = newPool(MiB);
    const files = Array.from({ length: 40 }, (_, i) => {
      const f = pool.open(`f${i}`, { create: true });
      f.write(Buffer.alloc(BLOCK, 1), 0);
      return f;
    });
    // the rest of the pool goes to one file: afterwards only the holes below are free
    const filler = pool.open('filler', { create: true });
    filler.allocate(0, pool.info().freeBlocks * BLOCK);
    expect(pool.info().freeBlocks).toBe(0);
    for (let i = 0; i < files.length; i += 2) files[i]!.truncate(0); // 20 one-block holes
    expect(pool.info().freeBlocks).toBe(20);
    const big = pool.open('big', { create: true });
    // 20 fragments would need a 21st block for the block map (more than 11
    // extents): the write fails whole, and nothing of it is visible
    expectCode(() => big.write(pattern(20 * BLOCK, 3), 0), 'ENOSPC', /block map/);
    expect(big.size).toBe(0);
    expect(pool.info().freeBlocks).toBe(20);
    // 19 fragments and their block map fit
    const data = pattern(19 * BLOCK, 3);
    expect(big.write(data, 0)).toBe(19 * BLOCK);
    expect(big.stat().extents).toBe(19); // one fragment per hole
    expect(pool.info().freeBlocks).toBe(0);
    const back = Buffer.alloc(19 * BLOCK);
    big.read(back, 0);
    expect(back.equals(data)).toBe(true);
    expectCode(() => big.write(Buffer.from('x'), 19 * BLOCK), 'ENOSPC');
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('the inode table grows until space runs out: then ENOSPC naming why, and nothing changes', () => {
    const { pool } = newPool(MiB);
    const fixed = pool.info().inodes.capacity;
    let created = 0;
    let error: unknown;
    try {
      for (; created < 100_000; created++) pool.open(`n${created}`, { create: true }).close();
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe('ENOSPC');
    expect((error as Error).message).toMatch(/inode table is full and the pool has no 16 contiguous free blocks/);
    const capacity = pool.info().inodes.capacity;
    // every block of the data area went to the table: its chunks (16 blocks, 128 inodes each) and its map block
    expect(capacity).toBe(fixed + 128 * Math.floor((pool.info().dataBlocks - 1) / 16));
    expect(created).toBe(capacity);
    expect(pool.info().freeBlocks).toBeLessThan(16);
    expectCode(() => pool.open('one-more', { create: true }), 'ENOSPC', /inode table is full/);
    expect(pool.list().length).toBe(capacity);
    pool.unlink('n7');
    pool.open('reuses-7', { create: true }).close();
    expect(pool.stat('reuses-7').ino).toBe(7);
    expect(pool.check().ok).toBe(true);
    pool.close();
  });
});
