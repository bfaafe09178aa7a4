// How many files a pool holds: the format's limits, asserted on the layout's
// exact numbers (no test creates millions of files: benchmarks/many-files.ts
// measures that), and what a mounted pool keeps per file.
import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { grownTable, InodeTable, MAP_ENTRIES, needsMapBlock, readTable } from '../../lib/pool/inode-table.js';
import type { InodeStore } from '../../lib/pool/inode-store.js';
import { makeInode, FLAG_USED } from '../../lib/pool/inode.js';
import {
  BLOCK,
  computeGeometry,
  decodeSuperblock,
  encodeSuperblock,
  FORMAT_VERSION,
  INODE_SIZE,
  MAX_INODES,
  tableCapacity,
  TABLE_CHUNK_BLOCKS,
  TABLE_CHUNK_INODES,
  withCounters,
  type Geometry,
} from '../../lib/pool/layout.js';
import { pattern } from '../helpers.js';
import { newPool } from './helpers.js';

const GiB = 2 ** 30;
const TiB = 2 ** 40;

function superblockOf(g: Geometry, tableChunks: number, tableMapBlock: number, inodeHighWater: number) {
  return withCounters({ ...g, version: FORMAT_VERSION, uuid: '00112233445566778899aabbccddeeff', tableChunks, tableMapBlock }, 0, inodeHighWater, 1);
}

function state(pool: Pool): { inodes: InodeStore } {
  return (pool as unknown as { state: { inodes: InodeStore } }).state;
}

describe('the format holds at least 10 million files', () => {
  it('a 64 GiB pool: 76,077 chunks listed by a chain of 75 map blocks make a table of exactly 10,000,000 inodes, which reads back from media', () => {
    const g = computeGeometry(64 * GiB);
    expect(g).toEqual({ nblocks: 16_777_216, journalStart: 2, journalBlocks: 4096, bitmapStart: 4098, bitmapBlocks: 512, inodeStart: 4610, inodeCount: 262_144, dataStart: 37_378 });
    expect([TABLE_CHUNK_BLOCKS, TABLE_CHUNK_INODES, MAP_ENTRIES]).toEqual([16, 128, 1020]);
    const chunks = 76_077;
    const mapBlocks = 75;
    // the table's blocks as growth takes them: the map blocks first, then each chunk after the last
    const media = new Map<number, Buffer>();
    let table = InodeTable.empty(superblockOf(g, 0, 0, 0));
    let nextMap = g.dataStart;
    const chunkAt = (k: number) => g.dataStart + mapBlocks + k * TABLE_CHUNK_BLOCKS;
    for (let k = 0; k < chunks; k++) {
      const grown = grownTable(table, chunkAt(k), needsMapBlock(table) ? nextMap++ : undefined);
      for (const r of grown.records) media.set(r.offset, Buffer.from(r.data));
      table = grown.table;
    }
    expect(nextMap - g.dataStart).toBe(mapBlocks);
    expect(table.capacity).toBe(10_000_000);
    expect(table.blockCount()).toBe(chunks * TABLE_CHUNK_BLOCKS + mapBlocks); // 1,217,307 blocks: 4.6 GiB of the pool's 64
    expect(table.offset(9_999_999)).toBe(chunkAt(chunks - 1) * BLOCK + (TABLE_CHUNK_INODES - 1) * INODE_SIZE);
    expect(table.offset(262_144)).toBe(chunkAt(0) * BLOCK);

    const sb = superblockOf(g, chunks, g.dataStart, 10_000_000);
    const decoded = decodeSuperblock(encodeSuperblock(sb), 64 * GiB, 'primary');
    expect(decoded).toEqual(sb);
    expect(tableCapacity(decoded)).toBe(10_000_000);
    const read = readTable(decoded, (offset, target) => {
      const block = media.get(offset);
      if (!block) throw new Error(`no map block at byte ${offset}`);
      block.copy(target);
    });
    expect(read.mapBlocks).toEqual(Array.from({ length: mapBlocks }, (_, j) => g.dataStart + j));
    expect(read.chunks).toEqual(table.chunks);
    expect(read.offset(9_999_999)).toBe(table.offset(9_999_999));
  });

  it('the format stops at 2^31 inodes: a 16 TiB pool may record 16,744,448 chunks (2^31 inodes), not one more', () => {
    const g = computeGeometry(16 * TiB);
    expect([g.nblocks, g.inodeCount]).toEqual([2 ** 32, 4_194_304]);
    const most = (MAX_INODES - g.inodeCount) / TABLE_CHUNK_INODES;
    expect(most).toBe(16_744_448);
    // a chain of 16,417 map blocks lists them
    expect(Math.ceil(most / MAP_ENTRIES)).toBe(16_417);
    const fits = decodeSuperblock(encodeSuperblock(superblockOf(g, most, g.dataStart, MAX_INODES)), 16 * TiB, 'primary');
    expect(tableCapacity(fits)).toBe(MAX_INODES);
    expect(() => decodeSuperblock(encodeSuperblock(superblockOf(g, most + 1, g.dataStart, 0)), 16 * TiB, 'primary')).toThrow(
      'primary superblock: inode table chunk count 16744449 exceeds the data area',
    );
    // 2^31 inodes of 512 bytes: 1 TiB of the 16
    expect(MAX_INODES * INODE_SIZE).toBe(TiB);
  });

  it('a table grown past one map block shares its chunk list: the table before a growth still sees only its own chunks', () => {
    const g = computeGeometry(GiB);
    let table = InodeTable.empty(superblockOf(g, 0, 0, 0));
    for (let k = 0; k < 3; k++) table = grownTable(table, g.dataStart + 1 + 16 * k, k === 0 ? g.dataStart : undefined).table;
    const before = table;
    const a = grownTable(before, 5000, undefined).table; // a growth that did not commit
    const b = grownTable(before, 6000, undefined).table; // and the one that did
    expect(before.chunks).toEqual([g.dataStart + 1, g.dataStart + 17, g.dataStart + 33]);
    expect(before.capacity).toBe(g.inodeCount + 3 * TABLE_CHUNK_INODES);
    expect(a.chunks).toEqual([...before.chunks, 5000]);
    expect(b.chunks).toEqual([...before.chunks, 6000]);
    expect(b.offset(g.inodeCount + 3 * TABLE_CHUNK_INODES)).toBe(6000 * BLOCK);
    expect(a.offset(g.inodeCount + 3 * TABLE_CHUNK_INODES)).toBe(5000 * BLOCK);
  });
});

describe('a mounted pool keeps no object per file it is not using', () => {
  it('files created and closed keep at most idleKept decoded inodes, the most recently closed', () => {
    const { pool } = newPool(16 << 20);
    try {
      const inodes = state(pool).inodes;
      expect(inodes.idleKept).toBe(65_536);
      inodes.idleKept = 100;
      for (let i = 0; i < 1000; i++) pool.open(`f${i}`, { create: true }).close();
      const kept = Array.from({ length: inodes.length }, (_, ino) => ino).filter((ino) => inodes.cached(ino) !== undefined);
      expect(kept).toEqual(Array.from({ length: 100 }, (_, k) => 900 + k));
      // one reopened and held is not let go when its turn comes
      const held = pool.open('f900');
      for (let i = 1000; i < 1200; i++) pool.open(`f${i}`, { create: true }).close();
      expect(inodes.cached(900)).toBeDefined();
      expect(inodes.cached(901)).toBeUndefined();
      held.close(); // the newest idle one: f1100, the oldest, goes
      expect(inodes.cached(1100)).toBeUndefined();
      expect(inodes.cached(1101)).toBeDefined();
      // a file closed again keeps its place: nothing else is let go
      for (let k = 0; k < 50; k++) pool.open('f1199').close();
      expect(inodes.cached(1101)).toBeDefined();
      const decodes = inodes.decodes;
      for (let i = 0; i < 1200; i++) expect(pool.stat(`f${i}`).ino).toBe(i);
      expect(inodes.decodes - decodes).toBe(1200 - 100); // the 100 kept (f900, closed last, and f1101..f1199) are decoded already
      expect(pool.check().problems).toEqual([]);
    } finally {
      pool.close();
    }
  });

  it('files created and closed leave no decoded inode (idleKept 0); one whose modification time is in memory only keeps it', async () => {
    const { pool } = newPool(16 << 20);
    try {
      const inodes = state(pool).inodes;
      inodes.idleKept = 0;
      for (let i = 0; i < 1000; i++) pool.open(`f${i}`, { create: true }).close();
      const cached = () => Array.from({ length: inodes.length }, (_, ino) => inodes.cached(ino)).filter((i) => i !== undefined).length;
      expect(inodes.used).toBe(1000);
      expect(cached()).toBe(0);
      expect(pool.stat('f999').ino).toBe(999); // a lookup decodes and keeps it
      expect(cached()).toBe(1);

      const f = pool.open('appended', { create: true });
      f.write(pattern(100, 1), 0); // a transaction: the inode on media as in memory
      const committed = f.stat().mtimeMs;
      while (Date.now() === committed) await new Promise((r) => setTimeout(r, 1));
      f.write(pattern(10, 2), 100); // an append in place: the size word on media, the modification time in memory
      const mtime = f.stat().mtimeMs;
      expect(mtime).toBeGreaterThan(committed);
      f.close();
      expect(inodes.cached(1000)?.mtimeMs).toBe(mtime);
      expect(pool.stat('appended')).toMatchObject({ size: 110, mtimeMs: mtime });
      expect(cached()).toBe(2);

      const g = pool.open('rewritten', { create: true });
      g.write(pattern(5000, 3), 0); // grows past a block: a transaction, nothing left in memory only
      g.close();
      expect(inodes.cached(1001)).toBeUndefined();
      expect(pool.stat('rewritten').size).toBe(5000);

      // check reads every inode and keeps none of them
      expect(pool.check().problems).toEqual([]);
      expect(cached()).toBe(3);
    } finally {
      pool.close();
    }
  });

  it('check finds a name two inodes in memory share, through its hash index of names', () => {
    const { pool } = newPool(16 << 20);
    try {
      for (let i = 0; i < 300; i++) pool.open(`f${i}`, { create: true }).close();
      // memory gone wrong: inode 7 named as inode 250
      state(pool).inodes.set(7, makeInode(7, FLAG_USED, 'f250', 0, 0, 1, [], []));
      const problems = pool.check().problems;
      expect(problems.map((p) => [p.kind, p.message, p.ino])).toEqual([['directory', "name 'f250' is used twice", 250]]);
    } finally {
      pool.close();
    }
  });
});
