// Files with many extents: a transaction's metadata writes do not grow with
// the file's extent count (only the extent blocks an edit changes are
// journaled), and the chunked block map — partly filled extent blocks on
// media — reads back, remounts and checks exactly like a reference model.
import { describe, expect, it } from 'vitest';

import { Pool, type PoolFile } from '../../lib/index.js';
import { BLOCK } from '../../lib/pool/layout.js';
import { newPool, poolWithPendingTransaction } from './helpers.js';

const MiB = 1 << 20;
/** A journal record's header, before its data. */
const RECORD_HEADER = 16;
const INODE_RECORD = RECORD_HEADER + 512;
const EXTENT_BLOCK_RECORD = RECORD_HEADER + BLOCK;
const BITMAP_WORD_RECORD = RECORD_HEADER + 8; // a 4-byte word, padded to 8

/** `n` extents: 2n blocks written, then every odd block but the last punched (block 2k is extent k). */
function fragmented(pool: Pool, name: string, n: number): PoolFile {
  const f = pool.open(name, { create: true });
  f.write(Buffer.alloc(2 * n * BLOCK, 0x11), 0);
  for (let k = 1; k < 2 * n - 2; k += 2) f.punchHole(k * BLOCK, BLOCK);
  expect(f.stat().extents).toBe(n);
  return f;
}

/** Journal bytes and transactions of `op`. */
function journaled(pool: Pool, op: () => void): { bytes: number; transactions: number } {
  const before = pool.info();
  op();
  const after = pool.info();
  return { bytes: after.journalBytesCommitted - before.journalBytesCommitted, transactions: after.transactions - before.transactions };
}

function rng(seed: number): (n: number) => number {
  return (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
}

/** The extent blocks of the file (through the pool's state: a test of the layout on media). */
function extentBlockCounts(pool: Pool, f: PoolFile): number[] {
  const state = (pool as unknown as { state: { inodes: { get(ino: number): { extentBlocks: number[] } | undefined } } }).state;
  return state.inodes.get(f.ino)!.extentBlocks.map((b) => pool.region.view(b * BLOCK + 4, 4).readUInt32LE(0));
}

describe('transactions on files with many extents', () => {
  it('punching and refilling one block journals the same bytes at 1 000 and at 10 000 extents: the 1-extent file\'s and the part of one extent block that changes', () => {
    const { pool } = newPool(160 * MiB);
    const one = pool.open('one', { create: true });
    one.write(Buffer.alloc(2 * BLOCK, 0x22), 0);
    expect(one.stat().extents).toBe(1);
    const mid = fragmented(pool, 'mid', 1_000);
    const many = fragmented(pool, 'many', 10_000);
    const block = Buffer.alloc(BLOCK, 0x33);
    const state = (pool as unknown as { state: { inodes: { get(ino: number): { extents: { chunks(): readonly unknown[] } } | undefined } } }).state;
    const chunksOf = (f: PoolFile) => state.inodes.get(f.ino)!.extents.chunks();
    // punch: the inode and one bitmap word; the many-extent files also the part of the extent block of that extent that changes
    const punchOne = journaled(pool, () => one.punchHole(0, BLOCK));
    expect(punchOne).toEqual({ bytes: INODE_RECORD + BITMAP_WORD_RECORD, transactions: 1 });
    // extent 500 (block 1 000) is extent 234 of the same full extent block in both files: what
    // changes of that block is journaled, the count, next and CRC (12 bytes, padded to 16)
    // and the extents from 234 on, which move down by one (21 of them)
    const before = chunksOf(many);
    const punchMid = journaled(pool, () => mid.punchHole(1_000 * BLOCK, BLOCK));
    const punchMany = journaled(pool, () => many.punchHole(1_000 * BLOCK, BLOCK));
    expect(punchMid).toEqual({ bytes: punchOne.bytes + RECORD_HEADER + 16 + RECORD_HEADER + 21 * 16, transactions: 1 });
    expect(punchMany).toEqual(punchMid);
    // one chunk replaced, every other shared (so re-encoded no more): the block journaled is the one that changed
    const after = chunksOf(many);
    expect(after.length).toBe(before.length);
    expect(after.filter((c, k) => c !== before[k]).length).toBe(1);
    // a committed chunk lets go of the one it replaced: no chain of every earlier version
    expect((after as { base: unknown }[]).every((c) => c.base === null)).toBe(true);
    // refill: the same again
    const refillOne = journaled(pool, () => one.write(block, 0));
    const refillMid = journaled(pool, () => mid.write(block, 1_000 * BLOCK));
    const refillMany = journaled(pool, () => many.write(block, 1_000 * BLOCK));
    expect(refillOne).toEqual({ bytes: INODE_RECORD + BITMAP_WORD_RECORD, transactions: 1 });
    // the insert rewrites from the extent before it (233, a merge candidate) on: 22 extents
    expect(refillMid).toEqual({ bytes: refillOne.bytes + RECORD_HEADER + 16 + RECORD_HEADER + 22 * 16, transactions: 1 });
    expect(refillMany).toEqual(refillMid);
    expect(chunksOf(many).filter((c, k) => c !== after[k]).length).toBe(1);
    // anywhere in the file, and splitting a full extent block: at most two extent blocks and the new one's bitmap word
    const rand = rng(5);
    for (let i = 0; i < 200; i++) {
      const at = rand(20_000);
      const { bytes } = journaled(pool, () => many.punchHole(at * BLOCK, BLOCK));
      expect(bytes).toBeLessThanOrEqual(INODE_RECORD + 3 * BITMAP_WORD_RECORD + 2 * (EXTENT_BLOCK_RECORD + RECORD_HEADER + 16));
      const refill = journaled(pool, () => many.write(block, at * BLOCK));
      expect(refill.bytes).toBeLessThanOrEqual(INODE_RECORD + 3 * BITMAP_WORD_RECORD + 2 * (EXTENT_BLOCK_RECORD + RECORD_HEADER + 16));
    }
    expect(pool.check().ok).toBe(true);
    pool.close();
  });

  it('a 10k-extent file under random punches, writes, zero ranges and allocations agrees with a block model, in memory, after a remount and in check', () => {
    const { pool, path } = newPool(200 * MiB);
    let f = fragmented(pool, 'f', 10_000);
    const span = 20_000;
    // the model: per file block, 0 hole, 1 unwritten (reads zeros), else the byte the block was written with
    const model = new Uint8Array(span);
    for (let k = 0; k < span; k++) model[k] = k % 2 === 0 || k >= span - 2 ? 0x11 : 0;
    const rand = rng(77);
    let tag = 0x40;
    for (let op = 0; op < 400; op++) {
      const at = rand(span - 40);
      const len = 1 + (rand(8) === 0 ? rand(40) : rand(3));
      switch (rand(4)) {
        case 0:
          f.punchHole(at * BLOCK, len * BLOCK);
          model.fill(0, at, at + len);
          break;
        case 1: {
          tag = tag === 0xfe ? 0x40 : tag + 1;
          f.write(Buffer.alloc(len * BLOCK, tag), at * BLOCK);
          model.fill(tag, at, at + len);
          break;
        }
        case 2:
          f.zeroRange(at * BLOCK, len * BLOCK);
          model.fill(1, at, at + len);
          break;
        default:
          f.allocate(at * BLOCK, len * BLOCK);
          for (let k = at; k < at + len; k++) if (model[k] === 0) model[k] = 1;
      }
      // the blocks around the change, through getBlock
      for (let k = Math.max(0, at - 2); k < Math.min(span, at + len + 2); k++) expectBlock(f, k, model[k]!);
    }
    const compare = (file: PoolFile) => {
      const seen = new Set<number>();
      const bytes = Buffer.alloc(span * BLOCK);
      expect(file.read(bytes, 0)).toBe(span * BLOCK);
      for (let k = 0; k < span; k++) {
        const m = expectBlock(file, k, model[k]!);
        if (m.mapped) {
          expect(seen.has(m.poolBlock)).toBe(false);
          seen.add(m.poolBlock);
        }
        const want = model[k]! <= 1 ? 0 : model[k]!;
        expect(bytes[k * BLOCK]).toBe(want);
        expect(bytes[k * BLOCK + BLOCK - 1]).toBe(want);
      }
    };
    compare(f);
    // edits left partly filled extent blocks behind: the format takes them
    const counts = extentBlockCounts(pool, f);
    expect(counts.length).toBeGreaterThan(1);
    expect(counts.some((c) => c < 255)).toBe(true);
    expect(pool.check().ok).toBe(true);
    f.close();
    pool.close();
    const again = Pool.open(path);
    expect(again.check().ok).toBe(true);
    f = again.open('f');
    compare(f);
    f.close();
    again.close();
  });

  it('a crash after the commit point of an edit in the middle of a multi-block chain: the mount replays exactly that block', () => {
    let layout: number[] = [];
    const { path } = poolWithPendingTransaction(
      (pool) => {
        const f = pool.open('f');
        f.punchHole(300 * 2 * BLOCK, BLOCK); // extent 300: in the second extent block
        layout = Array.from({ length: 800 }, (_, k) => (f.getBlock(k).mapped ? f.getBlock(k).poolBlock : 0));
        f.close();
      },
      (pool) => fragmented(pool, 'f', 400).close(),
    );
    const pool = Pool.open(path);
    expect(pool.info().recovery.replayed).toBe(true);
    const f = pool.open('f');
    expect(f.stat().extents).toBe(399);
    expect(Array.from({ length: 800 }, (_, k) => (f.getBlock(k).mapped ? f.getBlock(k).poolBlock : 0))).toEqual(layout);
    expect(pool.check().ok).toBe(true);
    f.close();
    pool.close();
  });
});

/** getBlock of block `k` matches the model (0 hole, 1 unwritten, else written). */
function expectBlock(f: PoolFile, k: number, state: number) {
  const m = f.getBlock(k);
  expect({ block: k, mapped: m.mapped, unwritten: m.unwritten }).toEqual({ block: k, mapped: state !== 0, unwritten: state === 1 });
  return m;
}
