// The inode table: the fixed area format lays out (inodes 0..inodeCount-1),
// then chunks of TABLE_CHUNK_INODES inodes taken from the data area as
// files are created, so that the number of files is bounded by space, not
// by a ratio fixed at format. The chunks are listed, in inode order, by a
// chain of map blocks the superblock points to (tableMapBlock, with
// tableChunks entries in all); growing the table is one journal
// transaction (the chunk's bitmap bits, the map block it is listed in, the
// superblock), so a crash leaves the table as it was or grown.
//
// map block: 0 magic u32 | 4 count u32 | 8 next u32 | 12 crc32 u32 (over
//            the block with this field zero) | 16 chunk blocks u32[count]
//
// Every block but the last of the chain is full (MAP_ENTRIES entries); the
// last one's next is 0.
import { crc32 } from 'node:zlib';

import { daxfsError } from '../errors.js';
import type { Run } from './extents.js';
import type { JournalRecord } from './journal.js';
import { BLOCK, INODE_SIZE, TABLE_CHUNK_BLOCKS, TABLE_CHUNK_INODES, type Superblock } from './layout.js';

const MAP_MAGIC = 0x50414d49; // "IMAP"
/** Chunk entries a map block holds. */
export const MAP_ENTRIES = (BLOCK - 16) / 4;
const CHUNK_SHIFT = Math.log2(TABLE_CHUNK_INODES);

export class InodeTable {
  /**
   * Each chunk's first pool block, in inode order: the first `chunkCount`
   * entries of a list a grown table shares and appends to (see withChunk).
   */
  private readonly list: number[];

  constructor(
    /** First block of the fixed area. */
    readonly fixedStart: number,
    /** Inodes in the fixed area. */
    readonly fixedCount: number,
    chunks: number[] = [],
    /** The map's blocks, in chain order. */
    readonly mapBlocks: readonly number[] = [],
    /** Chunks past the fixed area. */
    readonly chunkCount: number = chunks.length,
  ) {
    this.list = chunks;
  }

  static empty(sb: Superblock): InodeTable {
    return new InodeTable(sb.inodeStart, sb.inodeCount);
  }

  /** Each chunk's first pool block, in inode order. */
  get chunks(): readonly number[] {
    return this.list.length === this.chunkCount ? this.list : this.list.slice(0, this.chunkCount);
  }

  /**
   * This table with one more chunk at `chunk`, its map in `mapBlocks`. The
   * grown table shares this one's chunk list, appended to in place, so a
   * growth is O(1), not a copy of every chunk; this table still sees only
   * its own chunks. A list some other growth has appended to already (one
   * that did not commit) is copied instead.
   */
  withChunk(chunk: number, mapBlocks: readonly number[]): InodeTable {
    const list = this.list.length === this.chunkCount ? this.list : this.list.slice(0, this.chunkCount);
    list.push(chunk);
    return new InodeTable(this.fixedStart, this.fixedCount, list, mapBlocks, this.chunkCount + 1);
  }

  /** Inodes the table holds. */
  get capacity(): number {
    return this.fixedCount + this.chunkCount * TABLE_CHUNK_INODES;
  }

  /** Byte offset of inode `ino` in the pool (ino below capacity). */
  offset(ino: number): number {
    if (ino < this.fixedCount) return this.fixedStart * BLOCK + ino * INODE_SIZE;
    const k = ino - this.fixedCount;
    return this.list[k >>> CHUNK_SHIFT]! * BLOCK + (k & (TABLE_CHUNK_INODES - 1)) * INODE_SIZE;
  }

  /** Blocks the table owns past the fixed area: chunks and map blocks. */
  blockCount(): number {
    return this.chunkCount * TABLE_CHUNK_BLOCKS + this.mapBlocks.length;
  }

  /** Those blocks as runs, with who owns them (for check and the ownership sweeps). */
  runs(): { start: number; length: number; owner: string }[] {
    const out = this.chunks.map((start, k) => ({ start, length: TABLE_CHUNK_BLOCKS, owner: `the inode table (chunk ${k})` }));
    for (const b of this.mapBlocks) out.push({ start: b, length: 1, owner: 'the inode table map' });
    return out;
  }

  /** Whether `block` is one of the table's blocks past the fixed area (error paths: a scan). */
  owns(block: number): boolean {
    return this.mapBlocks.includes(block) || this.chunks.some((c) => block >= c && block < c + TABLE_CHUNK_BLOCKS);
  }

  /** The map block holding chunk entries [first, first + MAP_ENTRIES) of `chunks`. */
  encodeMapBlock(chunks: readonly number[], index: number, next: number): Buffer {
    const b = Buffer.alloc(BLOCK);
    const first = index * MAP_ENTRIES;
    const count = Math.min(MAP_ENTRIES, chunks.length - first);
    b.writeUInt32LE(MAP_MAGIC, 0);
    b.writeUInt32LE(count, 4);
    b.writeUInt32LE(next, 8);
    for (let j = 0; j < count; j++) b.writeUInt32LE(chunks[first + j]!, 16 + 4 * j);
    b.writeUInt32LE(crc32(b), 12);
    return b;
  }
}

/** A grown table and what commits it: the chunk's run, a new map block's run, the map records. */
export interface Growth {
  table: InodeTable;
  allocated: Run[];
  records: JournalRecord[];
}

/**
 * The table with one more chunk at `chunk` (zeroed already), listed in the
 * last map block — or in a new one at `newMapBlock` when the last is full
 * (the previous block's next pointer changes with it).
 */
export function grownTable(table: InodeTable, chunk: number, newMapBlock: number | undefined): Growth {
  const allocated: Run[] = [{ start: chunk, length: TABLE_CHUNK_BLOCKS }];
  const needed = Math.ceil((table.chunkCount + 1) / MAP_ENTRIES);
  let mapBlocks = table.mapBlocks;
  if (needed > mapBlocks.length) {
    if (newMapBlock === undefined) throw new Error('a new inode table map block is needed');
    mapBlocks = [...mapBlocks, newMapBlock];
    allocated.push({ start: newMapBlock, length: 1 });
  }
  const grown = table.withChunk(chunk, mapBlocks);
  const chunks = grown.chunks;
  const records: JournalRecord[] = [];
  // the last map block, and the one before it when the chain got longer (its next pointer)
  const from = needed > table.mapBlocks.length && mapBlocks.length > 1 ? mapBlocks.length - 2 : mapBlocks.length - 1;
  for (let k = from; k < mapBlocks.length; k++) records.push({ offset: mapBlocks[k]! * BLOCK, data: grown.encodeMapBlock(chunks, k, mapBlocks[k + 1] ?? 0) });
  return { table: grown, allocated, records };
}

/** Whether a grown table needs a new map block for its next chunk. */
export function needsMapBlock(table: InodeTable): boolean {
  return table.chunkCount % MAP_ENTRIES === 0;
}

/**
 * Reads and checks the table the superblock describes: every map block in
 * the data area, sound (magic, checksum, count), no cycle, as many entries
 * as the superblock records, every chunk inside the data area and no two
 * of the table's blocks overlapping. EUCLEAN naming the first failure: the
 * inodes past the fixed area cannot be found without the map.
 */
export function readTable(sb: Superblock, read: (offset: number, target: Buffer) => void): InodeTable {
  const chunks: number[] = [];
  const mapBlocks: number[] = [];
  const inChain = new Set<number>();
  const bad = (why: string) => daxfsError('EUCLEAN', `inode table map: ${why}`);
  const inData = (b: number, length: number) => b >= sb.dataStart && b + length <= sb.nblocks;
  const block = Buffer.alloc(BLOCK);
  let at = sb.tableMapBlock;
  while (chunks.length < sb.tableChunks) {
    if (!inData(at, 1) || inChain.has(at)) throw bad(`block ${at} is outside the data area or repeats (cycle)`);
    read(at * BLOCK, block);
    if (block.readUInt32LE(0) !== MAP_MAGIC) throw bad(`block ${at}: bad magic`);
    const stored = block.readUInt32LE(12);
    block.writeUInt32LE(0, 12);
    if (crc32(block) !== stored) throw bad(`block ${at}: checksum mismatch`);
    const count = block.readUInt32LE(4);
    const want = Math.min(MAP_ENTRIES, sb.tableChunks - chunks.length);
    if (count !== want) throw bad(`block ${at} holds ${count} entries, expected ${want}`);
    for (let j = 0; j < count; j++) {
      const c = block.readUInt32LE(16 + 4 * j);
      if (!inData(c, TABLE_CHUNK_BLOCKS)) throw bad(`chunk ${chunks.length} at block ${c} lies outside the data area`);
      chunks.push(c);
    }
    mapBlocks.push(at);
    inChain.add(at);
    at = block.readUInt32LE(8);
  }
  if (sb.tableChunks > 0 && at !== 0) throw bad(`the last block ${mapBlocks[mapBlocks.length - 1]} points on to block ${at}`);
  const table = new InodeTable(sb.inodeStart, sb.inodeCount, chunks, mapBlocks);
  const runs = table.runs().sort((a, b) => a.start - b.start);
  for (let k = 1; k < runs.length; k++)
    if (runs[k]!.start < runs[k - 1]!.start + runs[k - 1]!.length) throw bad(`${runs[k]!.owner} overlaps ${runs[k - 1]!.owner} at block ${runs[k]!.start}`);
  return table;
}
