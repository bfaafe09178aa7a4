// The on-media layout of a pool: geometry and the superblock.
//
//   block 0              superblock (primary); holder info at byte 2048
//   block 1              superblock (backup)
//   journal              redo journal: a header block, then the body
//   bitmap               one bit per pool block, 1 = in use
//   inode table          512-byte inodes (the directory lives in them: name):
//                        the first chunk of the table, fixed at format
//   data                 file data, extent blocks, and the inode table's
//                        further chunks and their map (inode-table.ts)
//
// Every multi-byte field is little-endian. Sizes in blocks of 4 KiB.
import { crc32 } from 'node:zlib';
import { randomBytes } from 'node:crypto';

import { daxfsError } from '../errors.js';
import { readU64, writeU64, zeroed } from './bytes.js';

export const BLOCK = 4096;
export const INODE_SIZE = 512;
export const INODES_PER_BLOCK = BLOCK / INODE_SIZE;
/**
 * 2: the inode size is a checked word outside the inode CRC; 3: the inode
 * table grows in chunks from the data area (tableChunks, tableMapBlock).
 * The version word stays at byte 8, so that an older daxfs refuses a newer
 * pool by name.
 */
export const FORMAT_VERSION = 3;
/** The oldest version this daxfs reads; a read-write open upgrades it (its layout is version 3's with no chunks). */
export const OLDEST_FORMAT_VERSION = 2;
/** Blocks in a chunk of the inode table past the fixed area: 128 inodes, 64 KiB. */
export const TABLE_CHUNK_BLOCKS = 16;
export const TABLE_CHUNK_INODES = (TABLE_CHUNK_BLOCKS * BLOCK) / INODE_SIZE;
/** Inode numbers stay below 2^31 (they are mixed into checks as 32-bit integers). */
export const MAX_INODES = 2 ** 31;
export const MAGIC = 0x314c505346584144n; // "DAXFSPL1"
export const MAX_BLOCKS = 2 ** 32;
/** Largest file: 2^32 blocks of 4 KiB would be 16 TiB; keep block numbers in u32. */
export const MAX_FILE_SIZE = (2 ** 32 - 1) * BLOCK;
export const MIN_POOL_BYTES = 1 << 20;
export const SUPERBLOCK_BYTES = 256;
export const HOLDER_OFFSET = 2048;

export interface Geometry {
  nblocks: number;
  journalStart: number;
  journalBlocks: number;
  bitmapStart: number;
  bitmapBlocks: number;
  inodeStart: number;
  inodeCount: number;
  dataStart: number;
}

export interface Superblock extends Geometry {
  version: number;
  uuid: string;
  freeBlocks: number;
  /** One past the highest inode number ever used: mount scans only below it. */
  inodeHighWater: number;
  /** Next inode generation (distinguishes reuses of an inode number). */
  nextGeneration: number;
  /** Chunks of the inode table past the fixed area (version 3; 0 in version 2). */
  tableChunks: number;
  /** First block of the chain of map blocks listing those chunks; 0 when there are none. */
  tableMapBlock: number;
}

/** What withCounters copies from a superblock: everything but the counters. */
export type SuperblockBase = Geometry & { version: number; uuid: string; tableChunks?: number; tableMapBlock?: number };

/** Inodes the table holds with `tableChunks` chunks past the fixed area. */
export function tableCapacity(sb: { inodeCount: number; tableChunks: number }): number {
  return sb.inodeCount + sb.tableChunks * TABLE_CHUNK_INODES;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** The layout of a pool of `bytes` bytes: O(1), and metadata stays a small fraction. */
export function computeGeometry(bytes: number): Geometry {
  if (!Number.isSafeInteger(bytes) || bytes < MIN_POOL_BYTES || bytes % BLOCK !== 0)
    throw daxfsError('EINVAL', `a pool needs at least ${MIN_POOL_BYTES} bytes in whole ${BLOCK}-byte blocks, got ${bytes}`);
  const nblocks = bytes / BLOCK;
  if (nblocks > MAX_BLOCKS) throw daxfsError('EFBIG', `a pool has at most 2^32 blocks (16 TiB), got ${nblocks}`);
  const journalBlocks = clamp(Math.floor(nblocks / 64), 16, 4096);
  const bitmapBlocks = Math.ceil(nblocks / (BLOCK * 8));
  const inodeCount = clamp(Math.ceil(nblocks / 64 / INODES_PER_BLOCK) * INODES_PER_BLOCK, 64, 1 << 22);
  const journalStart = 2;
  const bitmapStart = journalStart + journalBlocks;
  const inodeStart = bitmapStart + bitmapBlocks;
  const dataStart = inodeStart + inodeCount / INODES_PER_BLOCK;
  if (dataStart + 8 > nblocks) throw daxfsError('EINVAL', `a pool of ${bytes} bytes leaves no room for data`);
  return { nblocks, journalStart, journalBlocks, bitmapStart, bitmapBlocks, inodeStart, inodeCount, dataStart };
}

/**
 * A superblock with the geometry, version and UUID of `sb` and the given
 * counters. Every superblock object is made here, so that all share one
 * hidden class: the pool reads its fields on every append (the inode table's
 * offset), and spread copies made those loads megamorphic.
 */
export function withCounters(sb: SuperblockBase, freeBlocks: number, inodeHighWater: number, nextGeneration: number): Superblock {
  return {
    version: sb.version,
    uuid: sb.uuid,
    nblocks: sb.nblocks,
    journalStart: sb.journalStart,
    journalBlocks: sb.journalBlocks,
    bitmapStart: sb.bitmapStart,
    bitmapBlocks: sb.bitmapBlocks,
    inodeStart: sb.inodeStart,
    inodeCount: sb.inodeCount,
    dataStart: sb.dataStart,
    freeBlocks,
    inodeHighWater,
    nextGeneration,
    tableChunks: sb.tableChunks ?? 0,
    tableMapBlock: sb.tableMapBlock ?? 0,
  };
}

export function newSuperblock(g: Geometry): Superblock {
  return withCounters({ ...g, version: FORMAT_VERSION, uuid: randomBytes(16).toString('hex') }, g.nblocks - g.dataStart, 0, 1);
}

export function encodeSuperblock(sb: Superblock): Buffer {
  const b = zeroed(SUPERBLOCK_BYTES);
  b.writeBigUInt64LE(MAGIC, 0);
  b.writeUInt32LE(sb.version, 8);
  b.writeUInt32LE(BLOCK, 12);
  writeU64(b, sb.nblocks, 16);
  Buffer.from(sb.uuid, 'hex').copy(b, 24);
  const u64 = (v: number, at: number) => writeU64(b, v, at);
  u64(sb.journalStart, 40);
  u64(sb.journalBlocks, 48);
  u64(sb.bitmapStart, 56);
  u64(sb.bitmapBlocks, 64);
  u64(sb.inodeStart, 72);
  u64(sb.inodeCount, 80);
  u64(sb.dataStart, 88);
  u64(sb.freeBlocks, 96);
  u64(sb.inodeHighWater, 104);
  u64(sb.nextGeneration, 112);
  u64(sb.tableChunks, 120);
  u64(sb.tableMapBlock, 128);
  b.writeUInt32LE(crc32(b.subarray(0, SUPERBLOCK_BYTES - 4)), SUPERBLOCK_BYTES - 4);
  return b;
}

/** Decodes and checks a superblock; throws EUCLEAN naming what is wrong. */
export function decodeSuperblock(b: Buffer, poolBytes: number, which: string): Superblock {
  const bad = (why: string) => daxfsError('EUCLEAN', `${which} superblock: ${why}`);
  if (b.readBigUInt64LE(0) !== MAGIC) throw bad('bad magic (not a daxfs pool, or overwritten)');
  if (b.readUInt32LE(SUPERBLOCK_BYTES - 4) !== crc32(b.subarray(0, SUPERBLOCK_BYTES - 4))) throw bad('checksum mismatch');
  const version = b.readUInt32LE(8);
  if (version < OLDEST_FORMAT_VERSION || version > FORMAT_VERSION)
    throw daxfsError('EUCLEAN', `${which} superblock: format version ${version} is not supported by this daxfs (which reads versions ${OLDEST_FORMAT_VERSION} to ${FORMAT_VERSION})`);
  if (b.readUInt32LE(12) !== BLOCK) throw bad(`block size ${b.readUInt32LE(12)} is not ${BLOCK}`);
  const n = (at: number) => {
    const v = readU64(b, at);
    if (v < 0) throw bad(`field at byte ${at} is absurd (past 2^53)`);
    return v;
  };
  const sb = withCounters(
    {
      version,
      nblocks: n(16),
      uuid: b.subarray(24, 40).toString('hex'),
      journalStart: n(40),
      journalBlocks: n(48),
      bitmapStart: n(56),
      bitmapBlocks: n(64),
      inodeStart: n(72),
      inodeCount: n(80),
      dataStart: n(88),
      tableChunks: n(120),
      tableMapBlock: n(128),
    },
    n(96),
    n(104),
    n(112),
  );
  if (sb.nblocks * BLOCK !== poolBytes)
    throw bad(`records ${sb.nblocks} blocks but the backing holds ${poolBytes / BLOCK} (truncated or resized backing)`);
  let expected: Geometry;
  try {
    expected = computeGeometry(poolBytes);
  } catch (e) {
    throw bad(`the backing size is not a valid pool size: ${(e as Error).message}`);
  }
  for (const key of Object.keys(expected) as (keyof Geometry)[]) {
    if (sb[key] !== expected[key]) throw bad(`geometry field ${key} is ${sb[key]}, expected ${expected[key]}`);
  }
  if (sb.freeBlocks > sb.nblocks - sb.dataStart) throw bad(`free block count ${sb.freeBlocks} exceeds the data area`);
  if (version < 3 && (sb.tableChunks !== 0 || sb.tableMapBlock !== 0)) throw bad(`a version ${version} superblock records inode table chunks`);
  if ((sb.tableChunks === 0) !== (sb.tableMapBlock === 0)) throw bad(`inode table: ${sb.tableChunks} chunks, map at block ${sb.tableMapBlock}`);
  if (sb.tableChunks !== 0 && (sb.tableMapBlock < sb.dataStart || sb.tableMapBlock >= sb.nblocks)) throw bad(`inode table map block ${sb.tableMapBlock} lies outside the data area`);
  if (sb.tableChunks * TABLE_CHUNK_BLOCKS > sb.nblocks - sb.dataStart || tableCapacity(sb) > MAX_INODES)
    throw bad(`inode table chunk count ${sb.tableChunks} exceeds the data area`);
  if (sb.inodeHighWater > tableCapacity(sb)) throw bad(`inode high-water mark ${sb.inodeHighWater} exceeds the table (${tableCapacity(sb)})`);
  return sb;
}
