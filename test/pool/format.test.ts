import { statSync, truncateSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { Pool, Region } from '../../lib/index.js';
import { computeGeometry, encodeSuperblock, decodeSuperblock, newSuperblock, BLOCK } from '../../lib/pool/layout.js';
import { diskDir, expectCode, pattern, uniquePath } from '../helpers.js';
import { newPool, poolPath } from './helpers.js';

const MiB = 1 << 20;
const disk = diskDir();

describe('a pool on a page-cache file system (msync mode)', () => {
  it('works end to end, and every data write and metadata commit reaches the file with msync', () => {
    const path = uniquePath(disk, 'pool');
    const pool = Pool.format(path, { size: 8 * MiB });
    expect(pool.info().persistence).toBe('msync');
    const stats = () => pool.region.stats();
    const f = pool.open('a', { create: true });
    let before = stats().msyncCalls;
    f.write(pattern(10_000, 1), 0); // allocates: data, then the journal's stage, apply and commit words
    expect(stats().msyncCalls - before).toBeGreaterThanOrEqual(4);
    before = stats().msyncCalls;
    f.write(pattern(4096, 2), 4096); // an overwrite: one msync for the data
    expect(stats().msyncCalls - before).toBeGreaterThanOrEqual(1);
    expect(stats().fences).toBe(0); // no flush instruction, no fence: msync does it
    f.truncate(5000);
    pool.rename('a', 'b');
    f.close();
    pool.close();
    const again = Pool.open(path);
    expect(again.check().problems).toEqual([]);
    const g = again.open('b');
    const back = Buffer.alloc(5000);
    expect(g.read(back, 0)).toBe(5000);
    const expected = pattern(10_000, 1).subarray(0, 5000);
    pattern(4096, 2).subarray(0, 904).copy(expected, 4096);
    expect(back.equals(expected)).toBe(true);
    g.close();
    again.close();
  });
});

describe('pool format', () => {
  it('lays out pools from 1 MiB to 16 TiB with small metadata', () => {
    const small = computeGeometry(MiB);
    expect(small.nblocks).toBe(256);
    expect(small.dataStart).toBeLessThan(64);
    const big = computeGeometry(2 ** 44); // 16 TiB: 2^32 blocks
    expect(big.nblocks).toBe(2 ** 32);
    expect(big.bitmapBlocks).toBe(2 ** 32 / (BLOCK * 8));
    expect(big.dataStart / big.nblocks).toBeLessThan(0.001);
    expectCode(() => computeGeometry(2 ** 44 + BLOCK), 'EFBIG');
    expectCode(() => computeGeometry(MiB - BLOCK), 'EINVAL');
  });

  it('superblock round-trips and every check names what is wrong', () => {
    const sb = newSuperblock(computeGeometry(16 * MiB));
    const enc = encodeSuperblock(sb);
    expect(decodeSuperblock(enc, 16 * MiB, 'primary')).toEqual(sb);
    const flipped = Buffer.from(enc);
    flipped[100]! ^= 1;
    expectCode(() => decodeSuperblock(flipped, 16 * MiB, 'primary'), 'EUCLEAN', /checksum/);
    expectCode(() => decodeSuperblock(enc, 32 * MiB, 'primary'), 'EUCLEAN', /backing holds/);
    expectCode(() => decodeSuperblock(Buffer.alloc(256), 16 * MiB, 'backup'), 'EUCLEAN', /backup superblock: bad magic/);
    const future = encodeSuperblock({ ...sb, version: 4 });
    expectCode(() => decodeSuperblock(future, 16 * MiB, 'primary'), 'EUCLEAN', /format version 4 is not supported/);
  });

  it('formats a 16 GiB sparse file in O(metadata): little space used, mounts again', () => {
    const path = poolPath();
    const pool = Pool.format(path, { size: 16 * 2 ** 30, sparse: true });
    const info = pool.info();
    const sb = pool.superblock();
    pool.close();
    expect(info.blocks).toBe(4 * 2 ** 20);
    expect(info.freeBlocks).toBe(info.dataBlocks);
    // only the metadata area is reserved: the sparse backing holds a few MiB
    expect(info.sparse).toBe(true);
    expect(info.backedBytes).toBe(statSync(path).blocks * 512);
    expect(info.backedBytes).toBe(sb.dataStart * BLOCK);
    const again = Pool.open(path);
    expect(again.info().files).toBe(0);
    expect(again.check().ok).toBe(true);
    again.close();
  });

  it('zeroAll zeroes the whole region and reports progress', () => {
    const path = poolPath();
    writeFileSync(path, Buffer.alloc(8 * MiB, 0xee));
    const seen: number[] = [];
    const pool = Pool.format(path, { zeroAll: true, onProgress: (done) => seen.push(done) });
    expect(seen[seen.length - 1]).toBe(8 * MiB);
    pool.close();
    const r = Region.open(path, { readOnly: true });
    expect(r.view(8 * MiB - 4096, 4096).every((b) => b === 0)).toBe(true);
    r.close();
  });

  it('mounts from the backup superblock when the primary is damaged, and restores the primary', () => {
    const { pool, path } = newPool();
    const f = pool.open('keep', { create: true });
    f.write(Buffer.from('data'), 0);
    f.close();
    pool.close();
    const r = Region.open(path);
    r.write(10, Buffer.from([0xff, 0xff]));
    r.close();
    const again = Pool.open(path);
    expect(again.list().map((s) => s.name)).toEqual(['keep']);
    expect(again.check().ok).toBe(true);
    again.close();
  });

  it('refuses damaged, foreign, truncated and newer-format images with EUCLEAN', () => {
    const { pool, path } = newPool();
    pool.close();
    const r = Region.open(path);
    r.zero(0, 2 * BLOCK);
    r.close();
    expectCode(() => Pool.open(path), 'EUCLEAN', /primary superblock: bad magic/);

    const foreign = poolPath();
    writeFileSync(foreign, Buffer.alloc(2 * MiB, 0x41));
    expectCode(() => Pool.open(foreign), 'EUCLEAN', /not a daxfs pool/);

    const { pool: p2, path: truncated } = newPool();
    p2.close();
    truncateSync(truncated, 8 * MiB);
    expectCode(() => Pool.open(truncated), 'EUCLEAN', /truncated or resized/);
  });

  it('format of an existing file of another size than asked is EINVAL, and a pool too small is EINVAL', () => {
    const path = poolPath();
    writeFileSync(path, Buffer.alloc(2 * MiB));
    expectCode(() => Pool.format(path, { size: 4 * MiB }), 'EINVAL', /not the 4194304/);
    expectCode(() => Pool.format(poolPath(), { size: 512 * 1024 }), 'EINVAL', /at least/);
  });

  it('one writer at a time: a second open is EBUSY naming the holder; read-only opens share', () => {
    const { pool, path } = newPool();
    expectCode(() => Pool.open(path), 'EBUSY', new RegExp(`process ${process.pid}`));
    expectCode(() => Pool.open(path, { readOnly: true }), 'EBUSY');
    pool.close();
    const ro1 = Pool.open(path, { readOnly: true });
    const ro2 = Pool.open(path, { readOnly: true });
    expectCode(() => Pool.open(path), 'EBUSY', /read-only/);
    ro1.close();
    ro2.close();
    Pool.open(path).close();
  });
});

describe('damaged metadata makes that file unavailable, with a message naming it', () => {
  it('an inode with a bad checksum, a free slot that is not zero, an extent block with a bad checksum', () => {
    const { pool, path } = newPool();
    const f = pool.open('victim', { create: true });
    for (let i = 0; i < 30; i++) f.write(Buffer.alloc(100, 1), i * 2 * BLOCK); // 30 extents: a block map block
    const bystander = pool.open('bystander', { create: true });
    bystander.write(Buffer.alloc(3 * BLOCK, 7), 0);
    bystander.close();
    const extentBlock = (pool as unknown as { state: { inodes: { get(ino: number): { extentBlocks: number[] } } } }).state.inodes.get(0).extentBlocks[0]!;
    const sb = pool.superblock();
    f.close();
    pool.close();
    const inodeAt = sb.inodeStart * BLOCK;
    const flip = (offset: number, fn: () => void) => {
      const r = Region.open(path);
      const byte = r.view(offset, 1)[0]!;
      r.write(offset, Buffer.from([byte ^ 0x40]));
      r.close();
      try {
        fn();
      } finally {
        const w = Region.open(path);
        w.write(offset, Buffer.from([byte]));
        w.close();
      }
    };
    const damagedOnly = (name: string, why: RegExp) => {
      const p = Pool.open(path, { readOnly: true });
      try {
        expectCode(() => p.open(name), 'EUCLEAN', why);
        expectCode(() => p.stat(name), 'EUCLEAN', why);
        expect(p.list().find((st) => st.name === name)?.damaged).toBeDefined();
        const g = p.open('bystander');
        const b = Buffer.alloc(g.size);
        g.read(b, 0);
        expect(b.equals(Buffer.alloc(3 * BLOCK, 7))).toBe(true);
      } finally {
        p.close();
      }
    };
    flip(inodeAt + 70, () => damagedOnly('victim', /file 'victim' \(inode 0\) is damaged: checksum mismatch/));
    flip(extentBlock * BLOCK + 100, () => damagedOnly('victim', /file 'victim' \(inode 0\) is damaged: extent block \d+: checksum mismatch/));
    // a later inode slot below the high-water mark that is not zero
    const p2 = Pool.open(path);
    p2.open('second', { create: true }).close();
    p2.unlink('second');
    p2.close();
    flip(inodeAt + 1024 + 200, () => damagedOnly('lost+found.2', /file 'lost\+found\.2' \(inode 2\) is damaged: free but not zeroed/));
    const ok = Pool.open(path);
    expect(ok.check().ok).toBe(true);
    ok.close();
  });
});
