import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, gunzipSync } from 'node:zlib';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { packageRoot } from '../../lib/native.js';
import { BLOCK, TABLE_CHUNK_BLOCKS, TABLE_CHUNK_INODES } from '../../lib/pool/layout.js';
import { MAP_ENTRIES } from '../../lib/pool/inode-table.js';
import { expectCode, pattern } from '../helpers.js';
import { newPool, poolPath, poolWithPendingTransaction } from './helpers.js';

const MiB = 1 << 20;

function reseal(image: Buffer, at: number): void {
  image.writeUInt32LE(crc32(image.subarray(at, at + 252)), at + 252);
}

/** The pool at `path` rewritten as format version 2 (version 3's layout with no table chunks). */
function asVersion2(path: string): void {
  const image = readFileSync(path);
  for (const at of [0, BLOCK]) {
    image.writeUInt32LE(2, at + 8);
    reseal(image, at);
  }
  writeFileSync(path, image);
}

/**
 * The superblock check of a daxfs that reads version 2 only, as it was
 * (magic, checksum, then the version word at byte 8): what such a daxfs
 * does with a newer pool.
 */
function decodeAsVersion2Reader(b: Buffer): void {
  if (b.readBigUInt64LE(0) !== 0x314c505346584144n) throw new Error('primary superblock: bad magic (not a daxfs pool, or overwritten)');
  if (b.readUInt32LE(252) !== crc32(b.subarray(0, 252))) throw new Error('primary superblock: checksum mismatch');
  const version = b.readUInt32LE(8);
  if (version !== 2) throw new Error(`primary superblock: format version ${version} is not supported by this daxfs (which reads version 2)`);
}

describe('the inode table grows with the files', () => {
  it('a 1 GiB pool holds 100k files of 4 KiB; they survive a remount and check clean', { timeout: 300_000 }, async () => {
    const { pool, path: at } = newPool(1024 * MiB, { sparse: true });
    const n = 100_000;
    const block = Buffer.alloc(BLOCK);
    for (let i = 0; i < n; i++) {
      const f = pool.open(`f${i}`, { create: true });
      block.writeUInt32LE(i, 0);
      f.write(block, 0);
      f.close();
      if (i % 5000 === 4999) await yieldToLoop(); // keep the test runner's RPC alive
    }
    const fixed = pool.superblock().inodeCount;
    expect(fixed).toBe(4096);
    const chunks = Math.ceil((n - fixed) / TABLE_CHUNK_INODES);
    expect(pool.superblock().tableChunks).toBe(chunks);
    expect(pool.info().inodes).toEqual({ used: n, capacity: fixed + chunks * TABLE_CHUNK_INODES });
    // data, the chunks and the map block are all accounted for
    expect(pool.info().freeBlocks).toBe(pool.info().dataBlocks - n - chunks * TABLE_CHUNK_BLOCKS - Math.ceil(chunks / MAP_ENTRIES));
    expect(pool.check().problems).toEqual([]);
    pool.close();
    const again = Pool.open(at);
    try {
      expect(again.info().files).toBe(n);
      for (const i of [0, fixed - 1, fixed, 50_000, n - 1]) {
        const f = again.open(`f${i}`);
        expect(f.stat().ino).toBe(i);
        const b = Buffer.alloc(BLOCK);
        f.read(b, 0);
        expect(b.readUInt32LE(0)).toBe(i);
        f.close();
      }
      expect(again.check().problems).toEqual([]);
    } finally {
      again.close();
    }
  });

  it('past one map block of chunks, the map chains a second block', { timeout: 300_000 }, async () => {
    const { pool, path: at } = newPool(160 * MiB, { sparse: true });
    const fixed = pool.superblock().inodeCount;
    const n = fixed + (MAP_ENTRIES + 1) * TABLE_CHUNK_INODES;
    for (let i = 0; i < n; i++) {
      pool.open(`f${i}`, { create: true }).close();
      if (i % 5000 === 4999) await yieldToLoop();
    }
    const chunks = Math.ceil((n - fixed) / TABLE_CHUNK_INODES);
    expect(pool.superblock().tableChunks).toBe(chunks);
    expect(chunks).toBeGreaterThan(MAP_ENTRIES);
    expect(pool.check().problems).toEqual([]);
    pool.close();
    const again = Pool.open(at);
    expect(again.info().files).toBe(n);
    expect(again.stat(`f${n - 1}`).ino).toBe(n - 1);
    expect(again.check().problems).toEqual([]);
    again.close();
  });

  it('with no 16 contiguous free blocks to grow into, create is ENOSPC and nothing changes', () => {
    const { pool } = newPool(MiB);
    const fixed = pool.superblock().inodeCount;
    for (let i = 0; i < fixed - 1; i++) pool.open(`f${i}`, { create: true }).close();
    // 'big' takes the last slot of the fixed area; it fills the data area but for every other block: free space, none of it contiguous
    const big = pool.open('big', { create: true });
    expect(pool.superblock().tableChunks).toBe(0);
    const free = pool.info().freeBlocks;
    big.allocate(0, free * BLOCK);
    for (let b = 0; b < free; b += 2) big.punchHole(b * BLOCK, BLOCK);
    big.close();
    const before = pool.info();
    expectCode(() => pool.open('one-more', { create: true }), 'ENOSPC', /inode table is full .* 16 contiguous free blocks/);
    expect(pool.info().inodes).toEqual(before.inodes);
    expect(pool.info().freeBlocks).toBe(before.freeBlocks);
    expect(pool.check().problems).toEqual([]);
    pool.close();
  });

  it('a committed, unapplied create of an inode in a chunk replays (the journal may target the chunks)', () => {
    const { path: at } = poolWithPendingTransaction(
      (pool) => pool.open('late', { create: true }).close(),
      (pool) => {
        for (let i = 0; i < 70; i++) pool.open(`f${i}`, { create: true }).close();
      },
    );
    const pool = Pool.open(at);
    try {
      expect(pool.info().recovery.replayed).toBe(true);
      expect(pool.stat('late').ino).toBe(70);
      expect(pool.superblock().tableChunks).toBe(1);
      expect(pool.check().problems).toEqual([]);
    } finally {
      pool.close();
    }
  });
});

describe('format versions', () => {
  it('a version 2 pool opens read-only as it is, and a read-write open upgrades it in one transaction', () => {
    const { pool, path: at } = newPool(4 * MiB);
    const f = pool.open('kept', { create: true });
    f.write(pattern(9000, 3), 0);
    f.close();
    pool.close();
    asVersion2(at);
    const v2 = readFileSync(at);
    const ro = Pool.open(at, { readOnly: true });
    expect(ro.superblock().version).toBe(2);
    expect(ro.stat('kept').size).toBe(9000);
    ro.close();
    expect(readFileSync(at).equals(v2)).toBe(true); // a read-only open writes nothing
    const rw = Pool.open(at);
    expect(rw.superblock().version).toBe(3);
    expect(rw.info().transactions).toBe(1);
    for (let i = 0; i < 100; i++) rw.open(`n${i}`, { create: true }).close(); // past the fixed area
    expect(rw.superblock().tableChunks).toBe(1);
    const b = Buffer.alloc(9000);
    const k = rw.open('kept');
    k.read(b, 0);
    k.close();
    expect(b.equals(pattern(9000, 3))).toBe(true);
    expect(rw.check().problems).toEqual([]);
    rw.close();
    const image = readFileSync(at);
    expect([image.readUInt32LE(8), image.readUInt32LE(BLOCK + 8)]).toEqual([3, 3]);
  });

  it('the saved version 2 crash image replays, opens and upgrades', () => {
    const at = poolPath();
    writeFileSync(at, gunzipSync(readFileSync(path.join(packageRoot, 'test/reliability/images/torn-superblocks.img.gz'))));
    const pool = Pool.open(at);
    expect(pool.superblock().version).toBe(3);
    expect(pool.check().problems).toEqual([]);
    pool.close();
  });

  it('a daxfs that reads only version 2 refuses a version 3 pool, naming the version (the word stays at byte 8)', () => {
    const { pool, path: at } = newPool(4 * MiB);
    for (let i = 0; i < 100; i++) pool.open(`n${i}`, { create: true }).close();
    pool.close();
    const primary = readFileSync(at).subarray(0, 256);
    expect(primary.readUInt32LE(8)).toBe(3);
    expect(() => decodeAsVersion2Reader(primary)).toThrow('primary superblock: format version 3 is not supported by this daxfs (which reads version 2)');
  });

  it('a version 2 superblock that records table chunks is refused', () => {
    const { pool, path: at } = newPool(4 * MiB);
    for (let i = 0; i < 100; i++) pool.open(`n${i}`, { create: true }).close();
    pool.close();
    asVersion2(at);
    expectCode(() => Pool.open(at), 'EUCLEAN', /version 2 superblock records inode table chunks/);
  });
});

describe('a damaged inode table map', () => {
  function grownPool(): { at: string; map: number } {
    const { pool, path: at } = newPool(4 * MiB);
    for (let i = 0; i < 100; i++) pool.open(`n${i}`, { create: true }).close();
    const map = pool.superblock().tableMapBlock;
    pool.close();
    return { at, map };
  }

  it('refuses the mount naming the map; a salvage mount reads the fixed area', () => {
    const { at, map } = grownPool();
    const image = readFileSync(at);
    image[map * BLOCK + 20]! ^= 1;
    writeFileSync(at, image);
    expectCode(() => Pool.open(at), 'EUCLEAN', /inode table map: block \d+: checksum mismatch/);
    const salvage = Pool.open(at, { salvage: true });
    expect(salvage.info().files).toBe(64);
    expect(salvage.info().salvage!.join('\n')).toMatch(/inode table map: .*only the inodes of the fixed table area are read/);
    salvage.close();
  });

  it('check() reads the map back: damage to it since the mount is reported', () => {
    const { pool } = newPool(4 * MiB);
    for (let i = 0; i < 100; i++) pool.open(`n${i}`, { create: true }).close();
    expect(pool.check().problems).toEqual([]);
    pool.region.write(pool.superblock().tableMapBlock * BLOCK + 16, Buffer.from([1, 2, 3, 4]));
    const report = pool.check();
    pool.close();
    expect(report.problems.map((p) => [p.kind, p.repairable])).toEqual([['inode-table', false]]);
    expect(report.problems[0]!.message).toMatch(/^inode table map: block \d+: checksum mismatch$/);
  });

  it('a file claiming blocks of a chunk is damaged at mount; the table keeps them', () => {
    const { pool, path: at } = newPool(4 * MiB);
    for (let i = 0; i < 100; i++) pool.open(`n${i}`, { create: true }).close();
    const f = pool.open('victim', { create: true });
    f.write(pattern(100, 1), 0);
    const ino = f.ino;
    f.close();
    const sb = pool.superblock();
    const chunkStart = readFileSync(at).readUInt32LE(sb.tableMapBlock * BLOCK + 16);
    pool.close();
    const image = readFileSync(at);
    // point the victim's first extent into the chunk, re-sealing its inode
    const slot = chunkStart * BLOCK + (ino - sb.inodeCount) * 512;
    image.writeUInt32LE(chunkStart + 1, slot + 320 + 4);
    const covered = Buffer.from(image.subarray(slot, slot + 508));
    covered.fill(0, 8, 16);
    image.writeUInt32LE(crc32(covered), slot + 508);
    writeFileSync(at, image);
    const again = Pool.open(at);
    try {
      expect(again.list().find((s) => s.name === 'victim')?.damaged).toMatch(/also claimed by the inode table/);
      expect(again.stat('n99').ino).toBe(99);
    } finally {
      again.close();
    }
  });
});
