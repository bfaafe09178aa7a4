// Commit: turns a transaction (txn.ts) into physical redo records — bitmap
// words, inodes, block-map blocks and, when it changes, the superblock —
// commits them through the journal, and installs the result in memory.
//
// Invariants: memory (sb, inodes, names, freeInodes, owned) changes only
// after the journal's commit point, so a failed commit leaves it as it was;
// a failure after the commit point stops the pool (the next mount replays
// the change). Before the commit point, pages of mappings that show a block
// the transaction takes away let go of it, and no block is freed while an
// asynchronous copy still touches it; holes the transaction fills are shown
// to the mappings after it.
import { daxfsError, isDaxfsError } from '../errors.js';
import type { AddressSpace } from '../map/address-space.js';
import { layoutChanges, type BlockRange } from '../map/layout-diff.js';
import type { FileMapping } from '../map/mapping.js';
import type { Run } from './extents.js';
import { encodeExtentBlocks, encodeInode, extentBlocksFor, makeInode, FLAG_ORPHAN, type Inode } from './inode.js';
import type { JournalRecord } from './journal.js';
import { BLOCK, encodeSuperblock, withCounters } from './layout.js';
import type { PoolState } from './state.js';
import type { Txn } from './txn.js';

export function inodeOffset(s: PoolState, ino: number): number {
  return s.table.offset(ino);
}

/** Turns `txn` into journal records, commits them, and installs the result in memory. */
export function commit(s: PoolState, txn: Txn, force = false): void {
  if (txn.empty && !force) return;
  const records: JournalRecord[] = [];
  for (const inode of txn.inodes.values()) layoutExtentBlocks(s, txn, inode);
  // Bitmap changes, a 32-bit word at a time, read from a live view of the bitmap.
  const words = new Map<number, number>();
  const bitmapBase = s.sb.bitmapStart * BLOCK;
  const change = (run: Run, set: boolean) => {
    let p = run.start;
    const end = run.start + run.length;
    while (p < end) {
      const w = p >>> 5;
      const lo = p & 31;
      const hi = Math.min(32, end - w * 32);
      const mask = (hi - lo === 32 ? 0xffffffff : ((1 << (hi - lo)) - 1) << lo) >>> 0;
      const current = words.get(w) ?? s.bitmapWords[w]!;
      if (set ? (current & mask) !== 0 : ((current & mask) >>> 0) !== mask)
        throw daxfsError('EUCLEAN', `bitmap: blocks around ${p} are already ${set ? 'in use' : 'free'} (double ${set ? 'allocation' : 'free'})`);
      words.set(w, (set ? current | mask : current & ~mask) >>> 0);
      p = w * 32 + hi;
    }
  };
  let delta = 0;
  for (const run of txn.allocated) {
    change(run, true);
    delta -= run.length;
  }
  for (const run of txn.freed) {
    change(run, false);
    delta += run.length;
  }
  const sorted = [...words.keys()].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    const data = Buffer.allocUnsafe((j - i + 1) * 4);
    for (let k = i; k <= j; k++) data.writeUInt32LE(words.get(sorted[k]!)!, (k - i) * 4);
    records.push({ offset: bitmapBase + sorted[i]! * 4, data });
    i = j + 1;
  }
  for (const inode of txn.inodes.values()) {
    records.push({ offset: inodeOffset(s, inode.ino), data: encodeInode(inode) });
    const blocks = encodeExtentBlocks(inode);
    blocks.forEach((data, k) => {
      const offset = inode.extentBlocks[k]! * BLOCK;
      // unchanged extent blocks need no journal space
      if (!s.region.view(offset, BLOCK).equals(data)) records.push({ offset, data });
    });
  }
  records.push(...txn.records);
  const sb = withCounters(
    txn.superblock ?? s.sb,
    txn.freeBlocks ?? s.sb.freeBlocks + delta,
    txn.highWater ?? s.sb.inodeHighWater,
    txn.nextGeneration ?? s.sb.nextGeneration,
  );
  // The superblock on media changes only with the inode high-water mark (or
  // a repair): the free count and the next generation are recomputed at
  // mount from the inodes, so most transactions need not write it.
  if (txn.highWater !== undefined || txn.freeBlocks !== undefined || txn.superblock !== undefined || force) {
    const encoded = encodeSuperblock(sb);
    records.push({ offset: 0, data: encoded }, { offset: BLOCK, data: encoded });
  }
  // the versions being replaced, decoded before the commit point changes them on media
  const previous = new Map<number, Inode | undefined>();
  for (const ino of txn.inodes.keys()) previous.set(ino, s.inodes.get(ino));
  const fills = invalidateBeforeCommit(s, txn);
  // No block is freed while an asynchronous copy still touches it.
  for (const run of txn.freed) s.region.waitIdle(run.start * BLOCK, run.length * BLOCK);
  try {
    s.journal.commit(records);
  } catch (e) {
    if (s.journal.unapplied && isDaxfsError(e)) {
      s.stopped = e.message;
      e.message += `; the change is committed but not applied: pool '${s.region.path}' stopped (close it; opening it again applies the change)`;
    }
    throw e;
  }
  // Committed: install.
  s.sb = sb;
  if (txn.table) s.table = txn.table;
  for (const run of txn.freed) s.owned.remove(run.start, run.length);
  for (const run of txn.allocated) s.owned.add(run.start, run.length);
  for (const inode of txn.inodes.values()) {
    const old = previous.get(inode.ino);
    if (old && !(old.flags & FLAG_ORPHAN) && s.names.get(old.name) === inode.ino) s.names.delete(old.name);
  }
  s.inodes.grow(sb.inodeHighWater);
  for (const inode of txn.inodes.values()) {
    if (inode.flags === 0) {
      s.inodes.set(inode.ino, undefined);
      s.freeInodes.add(inode.ino);
    } else {
      s.inodes.set(inode.ino, inode);
      if (!(inode.flags & FLAG_ORPHAN)) s.names.set(inode.name, inode.ino);
    }
  }
  for (const { space, inode, gained } of fills)
    for (const range of gained) for (const m of space.overlapping(range.from, range.to)) m.fill([range], inode, s.fillExclusion);
}

/**
 * The mappings' side of a transaction, before it commits: pages showing a
 * block the transaction takes away (punch, zero range, truncate) let go of
 * it and pages past a new, smaller EOF are torn down — so that no block is
 * reachable through a mapping once it is free. Returns the hole fills to
 * show after the commit.
 */
export function invalidateBeforeCommit(s: PoolState, txn: Txn): { space: AddressSpace<FileMapping>; inode: Inode; gained: BlockRange[] }[] {
  const fills: { space: AddressSpace<FileMapping>; inode: Inode; gained: BlockRange[] }[] = [];
  if (s.spaces.size === 0) return fills;
  for (const inode of txn.inodes.values()) {
    const space = s.spaces.get(inode.ino);
    const old = s.inodes.get(inode.ino);
    if (!space || !old) continue;
    const [from, to] = txn.touched.get(inode.ino) ?? [0, 2 ** 32];
    const { lost, gained } = layoutChanges(old.extents, inode.extents, from, to);
    for (const range of lost) for (const m of space.overlapping(range.from, range.to)) m.letGo([range], inode);
    const newEof = Math.ceil(inode.size / BLOCK);
    if (inode.size < old.size) for (const m of space.overlapping(newEof, 2 ** 32)) m.cutAtEof(inode);
    if (gained.length > 0) fills.push({ space, inode, gained });
  }
  return fills;
}

/** Gives `inode` exactly the extent blocks its extent count needs (allocating or freeing in `txn`). */
export function layoutExtentBlocks(s: PoolState, txn: Txn, inode: Inode): void {
  const need = inode.flags === 0 ? 0 : extentBlocksFor(inode.extents.length);
  while (inode.extentBlocks.length > need) txn.freed.push({ start: inode.extentBlocks.pop()!, length: 1 });
  while (inode.extentBlocks.length < need) {
    const run = s.allocator.allocate(inode.extents[0]?.poolBlock, 1, [...txn.allocated, ...s.reserved]);
    if (!run) throw daxfsError('ENOSPC', 'no free block for the file\'s block map');
    txn.allocated.push(run);
    inode.extentBlocks.push(run.start);
  }
}

/** Frees an inode and all its blocks in `txn`. */
export function releaseInode(txn: Txn, inode: Inode): void {
  for (const e of inode.extents) txn.freed.push({ start: e.poolBlock, length: e.length });
  for (const b of inode.extentBlocks) txn.freed.push({ start: b, length: 1 });
  txn.put(makeInode(inode.ino, 0, '', 0, 0, 0, [], []));
}
