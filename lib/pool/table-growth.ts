// Growing the inode table by one chunk (see inode-table.ts): a run of
// TABLE_CHUNK_BLOCKS contiguous blocks from the data area, zeroed — every
// slot of it a free inode — before the transaction that lists it in the map
// and the superblock commits, so that a crash leaves either the old table
// or the grown one with nothing in it but free slots.
import { daxfsError } from '../errors.js';
import { BLOCK, MAX_INODES, TABLE_CHUNK_BLOCKS, TABLE_CHUNK_INODES } from './layout.js';
import { commit } from './commit.js';
import { grownTable, needsMapBlock } from './inode-table.js';
import type { PoolState } from './state.js';
import { Txn } from './txn.js';

export function growInodeTable(s: PoolState): void {
  if (s.table.capacity + TABLE_CHUNK_INODES > MAX_INODES) throw daxfsError('ENOSPC', `no free inode (a pool holds at most ${MAX_INODES} files)`);
  const full = () => daxfsError('ENOSPC', `no free inode: the inode table is full and the pool has no ${TABLE_CHUNK_BLOCKS} contiguous free blocks to grow it`);
  const chunk = s.allocator.allocate(undefined, TABLE_CHUNK_BLOCKS, s.pins.held, TABLE_CHUNK_BLOCKS);
  if (!chunk || chunk.length < TABLE_CHUNK_BLOCKS) throw full();
  let mapBlock: number | undefined;
  if (needsMapBlock(s.table)) {
    const run = s.allocator.allocate(chunk.start + chunk.length, 1, [...s.pins.held, chunk]);
    if (!run) throw full();
    mapBlock = run.start;
  }
  s.region.zero(chunk.start * BLOCK, chunk.length * BLOCK);
  const grown = grownTable(s.table, chunk.start, mapBlock);
  const txn = new Txn();
  txn.allocated.push(...grown.allocated);
  txn.records.push(...grown.records);
  txn.table = grown.table;
  txn.superblock = { ...s.sb, tableChunks: grown.table.chunkCount, tableMapBlock: grown.table.mapBlocks[0]! };
  commit(s, txn);
}
