// The data path: reads and writes of file bytes, synchronous and on the
// thread pool, and the get_block of the reference thread. Data moves
// straight between the caller's buffers and pmem; metadata changes (new
// blocks, converted extents, a new size) commit as one transaction after the
// data is in place.
//
// Invariants: a write decides every allocation before it copies a byte (a
// refused allocation leaves the file as it was); new and unwritten blocks
// are zeroed around what is written before they become visible; an
// overwrite inside one written extent changes no metadata, and an append
// into blocks the file already has publishes its size word only after the
// data is durable; an asynchronous write marks the file busy and reserves
// its blocks pool-wide until it settles. Holes and unwritten extents read as
// zeros.
import { daxfsError } from '../errors.js';
import { findIndex, insert, lookup, makeExtent, mappedBlocks, nextMapped, setUnwritten } from './extents.js';
import { cloneInode, SIZE_WORD, sizeWord, type Inode } from './inode.js';
import { BLOCK, MAX_FILE_SIZE } from './layout.js';
import { allocateFor, dropPreallocation, preallocate, zeroPastNewEof, zeroTailOnExtend } from './blocks.js';
import { commit, inodeOffset } from './commit.js';
import { freeIfOrphan } from './handles.js';
import { ensureNotBusy, ensureOpen, ensureWritable, type PoolState } from './state.js';
import { Txn } from './txn.js';
import type { BlockMapping } from './types.js';

const HOLE_SCAN_LIMIT = 2 ** 32;

/** Copies `length` bytes of the caller's buffer at `sourceOffset` to region offset `at`. */
type Copier = (at: number, sourceOffset: number, length: number) => void;

/** Files smaller than this (in blocks) get no preallocation. */
const PREALLOC_AFTER_BLOCKS = 4;

interface WritePlan {
  txn: Txn;
  next: Inode;
  written: number;
  metadata: boolean;
}

/** @internal the get_block of the reference thread. */
export function getBlock(s: PoolState, inode: Inode, fileBlock: number, create: boolean, maxBlocks: number): BlockMapping {
  if (!Number.isSafeInteger(fileBlock) || fileBlock < 0 || fileBlock >= 2 ** 32)
    throw daxfsError('EINVAL', `fileBlock must be an integer in 0 ..= 2^32-1, got ${fileBlock}`);
  if (!Number.isSafeInteger(maxBlocks) || maxBlocks < 1) throw daxfsError('EINVAL', `maxBlocks must be a positive integer, got ${maxBlocks}`);
  const e = lookup(inode.extents, fileBlock);
  if (e) {
    return {
      mapped: true,
      poolBlock: e.poolBlock + (fileBlock - e.fileBlock),
      count: e.fileBlock + e.length - fileBlock,
      new: false,
      unwritten: e.unwritten,
    };
  }
  const holeEnd = Math.min(nextMapped(inode.extents, fileBlock), fileBlock + HOLE_SCAN_LIMIT, 2 ** 32);
  if (!create) return { mapped: false, poolBlock: -1, count: holeEnd - fileBlock, new: false, unwritten: false };
  ensureWritable(s);
  const txn = new Txn();
  const next = cloneInode(inode);
  const run = allocateFor(s, next.extents, fileBlock, Math.min(maxBlocks, holeEnd - fileBlock), s.reserved);
  if (!run) throw daxfsError('ENOSPC', 'no free block in the pool');
  txn.allocated.push(run);
  // Zeroed and durable before the allocation commits: no stale data, even after a crash.
  s.region.zero(run.start * BLOCK, run.length * BLOCK);
  insert(next.extents, makeExtent(fileBlock, run.start, run.length, false));
  next.mtimeMs = Date.now();
  txn.put(next);
  txn.touch(inode.ino, fileBlock, fileBlock + run.length);
  commit(s, txn);
  return { mapped: true, poolBlock: run.start, count: run.length, new: true, unwritten: false };
}

/** @internal */
export function readFile(s: PoolState, inode: Inode, target: Uint8Array, targetOffset: number, length: number, position: number): number {
  if (position >= inode.size || length === 0) return 0;
  const n = Math.min(length, inode.size - position);
  // One written extent covers it: one copy.
  const first = lookup(inode.extents, Math.floor(position / BLOCK));
  if (first && !first.unwritten && position + n <= (first.fileBlock + first.length) * BLOCK)
    return s.region.read(first.poolBlock * BLOCK + (position - first.fileBlock * BLOCK), target, targetOffset, n);
  let done = 0;
  while (done < n) {
    const pos = position + done;
    const fb = Math.floor(pos / BLOCK);
    const e = lookup(inode.extents, fb);
    const runEnd = e ? (e.fileBlock + e.length) * BLOCK : Math.min(nextMapped(inode.extents, fb) * BLOCK, position + n);
    const chunk = Math.min(n - done, runEnd - pos);
    if (e && !e.unwritten) {
      s.region.read(e.poolBlock * BLOCK + (pos - e.fileBlock * BLOCK), target, targetOffset + done, chunk);
    } else {
      target.fill(0, targetOffset + done, targetOffset + done + chunk);
    }
    done += chunk;
  }
  return n;
}

/**
 * Copies the part of [position, position + length) of `source` that falls
 * in file blocks [fileBlock, fileBlock + count) mapped at `poolBlock`; with
 * `zeroEdges`, the rest of those blocks is zeroed (new or unwritten blocks).
 */
function fillBlocks(s: PoolState, poolBlock: number, fileBlock: number, count: number, sourceOffset: number, position: number, length: number, zeroEdges: boolean, copy: Copier): void {
  const blockStart = fileBlock * BLOCK;
  const blockEnd = (fileBlock + count) * BLOCK;
  const from = Math.max(position, blockStart);
  const to = Math.min(position + length, blockEnd);
  const base = poolBlock * BLOCK - blockStart;
  if (zeroEdges && from > blockStart) s.region.zero(base + blockStart, from - blockStart);
  if (zeroEdges && to < blockEnd) s.region.zero(base + to, blockEnd - to);
  if (to > from) copy(base + from, sourceOffset + (from - position), to - from);
}

/** @internal positioned write: allocates as needed; returns bytes written (short only on ENOSPC). */
export function writeFile(s: PoolState, inode: Inode, source: Uint8Array, sourceOffset: number, length: number, position: number): number {
  ensureNotBusy(s, inode);
  // The common case first: an overwrite inside EOF and inside one written
  // extent changes no metadata: one copy, durable on return.
  const end = position + length;
  if (position <= inode.size && length > 0 && !s.readOnly) {
    const e = lookup(inode.extents, Math.floor(position / BLOCK));
    if (e && !e.unwritten && end <= (e.fileBlock + e.length) * BLOCK) {
      ensureOpen(s);
      const base = e.poolBlock * BLOCK - e.fileBlock * BLOCK;
      // An append into blocks the file already has (the last one's tail, or
      // preallocated ones): the data is durable, then the size word. A
      // block past the old EOF block may hold an earlier owner's bytes
      // (preallocation is not zeroed): the rest of the block the write ends
      // in is zeroed with it, so that nothing old shows past the new EOF.
      if (end <= inode.size) return s.region.write(base + position, source, sourceOffset, length);
      zeroPastNewEof(s, inode, inode, end);
      const [lo, hi] = sizeWord(end, inode.ino);
      const n = s.region.writePublish(base + position, source, sourceOffset, length, inodeOffset(s, inode.ino) + SIZE_WORD, lo, hi);
      inode.size = end;
      inode.mtimeMs = Date.now(); // in memory; on media with the file's next transaction (like lazytime)
      return n;
    }
  }
  const plan = planWrite(s, inode, sourceOffset, length, position, (at, from, n) => {
    s.region.write(at, source, from, n);
  });
  finishWrite(s, plan);
  return plan.written;
}

/**
 * @internal the same, with the data copied on the thread pool. The file
 * is busy (EBUSY for other operations on it) until the promise settles;
 * the blocks it allocates are reserved pool-wide meanwhile.
 */
export async function writeFileAsync(s: PoolState, inode: Inode, source: Uint8Array, sourceOffset: number, length: number, position: number): Promise<number> {
  ensureNotBusy(s, inode);
  const copies: [number, number, number][] = [];
  const plan = planWrite(s, inode, sourceOffset, length, position, (at, from, n) => copies.push([at, from, n]));
  s.busy.add(inode.ino);
  s.reserved.push(...plan.txn.allocated);
  try {
    await Promise.all(copies.map(([at, from, n]) => s.region.writeAsync(at, source, from, n)));
    ensureOpen(s);
    finishWrite(s, plan);
    return plan.written;
  } finally {
    s.busy.delete(inode.ino);
    for (const run of plan.txn.allocated) s.reserved.splice(s.reserved.indexOf(run), 1);
    freeIfOrphan(s, inode.ino);
  }
}

/** @internal readFile with the copies on the thread pool; the file stays usable meanwhile. */
export async function readFileAsync(s: PoolState, inode: Inode, target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
  ensureNotBusy(s, inode);
  if (position >= inode.size || length === 0) return 0;
  const n = Math.min(length, inode.size - position);
  const copies: Promise<number>[] = [];
  // No busy mark: the copies pin the blocks they read (a punch hole,
  // truncate or unlink frees them only once the copies are done).
  for (let done = 0; done < n; ) {
    const pos = position + done;
    const fb = Math.floor(pos / BLOCK);
    const e = lookup(inode.extents, fb);
    const runEnd = e ? (e.fileBlock + e.length) * BLOCK : Math.min(nextMapped(inode.extents, fb) * BLOCK, position + n);
    const chunk = Math.min(n - done, runEnd - pos);
    if (e && !e.unwritten) copies.push(s.region.readAsync(e.poolBlock * BLOCK + (pos - e.fileBlock * BLOCK), target, targetOffset + done, chunk));
    else target.fill(0, targetOffset + done, targetOffset + done + chunk);
    done += chunk;
  }
  await Promise.all(copies);
  return n;
}

/**
 * Decides a write: blocks to fill (through `copy`, in file order), blocks
 * to allocate and zero, extents to convert; short on ENOSPC.
 */
function planWrite(s: PoolState, inode: Inode, sourceOffset: number, length: number, position: number, copy: Copier): WritePlan {
  ensureWritable(s);
  const txn = new Txn();
  const next = cloneInode(inode);
  if (length === 0) return { txn, next, written: 0, metadata: false };
  if (position + length > MAX_FILE_SIZE) throw daxfsError('EFBIG', `the write would pass the largest file size (${MAX_FILE_SIZE} bytes)`);
  let metadata = false;
  if (position > inode.size) {
    zeroTailOnExtend(s, inode);
    dropPreallocation(s, txn, inode, next);
    metadata = txn.freed.length > 0;
  }
  const end = position + length;
  const lastFb = Math.floor((end - 1) / BLOCK);
  let fb = Math.floor(position / BLOCK);
  // Every allocation is decided before a byte is copied: an allocation the
  // allocator refuses (EUCLEAN) then leaves the file as it was.
  const fills: [poolBlock: number, fileBlock: number, count: number, zeroEdges: boolean][] = [];
  while (fb <= lastFb) {
    const e = next.extents[findIndex(next.extents, fb)];
    if (e && e.fileBlock <= fb) {
      const runEnd = Math.min(e.fileBlock + e.length - 1, lastFb);
      const count = runEnd - fb + 1;
      const unwritten = e.unwritten;
      fills.push([e.poolBlock + (fb - e.fileBlock), fb, count, unwritten]);
      if (unwritten) {
        setUnwritten(next.extents, fb, fb + count, false);
        metadata = true;
      }
      fb = runEnd + 1;
      continue;
    }
    const holeEnd = Math.min(e ? e.fileBlock - 1 : Infinity, lastFb);
    const run = allocateFor(s, next.extents, fb, holeEnd - fb + 1, [...txn.allocated, ...s.reserved]);
    if (!run) break; // ENOSPC: a short write of what fits
    txn.allocated.push(run);
    fills.push([run.start, fb, run.length, true]);
    insert(next.extents, makeExtent(fb, run.start, run.length, false));
    metadata = true;
    fb += run.length;
  }
  const written = Math.min(end, fb * BLOCK) - position;
  if (written <= 0) throw daxfsError('ENOSPC', 'no free block in the pool');
  // Sequential block appends to a file of some size: preallocate ahead.
  if (written === length && position === inode.size && position % BLOCK === 0 && mappedBlocks(inode.extents) >= PREALLOC_AFTER_BLOCKS)
    preallocate(s, txn, next, fb);
  for (const [poolBlock, fileBlock, count, zeroEdges] of fills) fillBlocks(s, poolBlock, fileBlock, count, sourceOffset, position, length, zeroEdges, copy);
  zeroPastNewEof(s, inode, next, position + written);
  txn.touch(inode.ino, Math.floor(position / BLOCK), fb);
  if (position + written > next.size) {
    next.size = position + written;
    metadata = true;
  }
  return { txn, next, written, metadata };
}

/** Commits what a write changed in the metadata (nothing for a pure overwrite). */
function finishWrite(s: PoolState, plan: WritePlan): void {
  if (!plan.metadata) return;
  // A rename or unlink may have happened while an asynchronous write ran:
  // keep the name and flags the inode has now.
  const current = s.inodes.get(plan.next.ino);
  if (!current) throw daxfsError('EBADF', 'the file is gone');
  plan.next.name = current.name;
  plan.next.flags = current.flags;
  plan.next.mtimeMs = Date.now();
  plan.txn.put(plan.next);
  commit(s, plan.txn);
}
