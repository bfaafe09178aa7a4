// Blocks for files: where a file's new blocks go (near its neighbours, or
// 2 MiB-aligned for a new huge-page-sized stretch), speculative
// preallocation past EOF for appends and its removal, filling holes with
// zeroed unwritten runs, and zeroing the bytes around EOF that growth would
// otherwise expose.
//
// Invariants: no byte of a block's earlier owner is ever readable — new
// blocks are zeroed (or wholly written) before the transaction that makes
// them visible; preallocated blocks (not zeroed) are dropped by any growth
// other than an append, and an append zeroes the rest of a block it enters;
// allocations decided in a transaction count its pending runs and the
// blocks asynchronous writes in flight hold (pins.ts), so nothing is handed
// out twice.
import { daxfsError, isDaxfsError } from '../errors.js';
import { HUGE_PAGES } from '../map/fault.js';
import { isWritten, makeExtent, type Run } from './extents.js';
import type { ExtentMap } from './extent-map.js';
import { cloneInode, type Inode } from './inode.js';
import { BLOCK } from './layout.js';
import { commit } from './commit.js';
import type { PoolState } from './state.js';
import { Txn } from './txn.js';

/** The most an append preallocates at once: 4 MiB. */
const PREALLOC_MAX_BLOCKS = 1024;

/**
 * Frees what appends preallocated past EOF (blocks that are not zeroed:
 * see preallocate) when the last handle closes. After a crash the
 * preallocation (at most PREALLOC_MAX_BLOCKS, 4 MiB, a file) is freed by
 * the next read-write mount, before anything could grow the file over it.
 */
export function trimPreallocation(s: PoolState, ino: number): void {
  const inode = s.inodes.get(ino);
  if (!inode || !s.preallocated.has(ino)) return;
  const txn = new Txn();
  const next = cloneInode(inode);
  dropPreallocation(s, txn, inode, next);
  if (txn.freed.length === 0) return;
  txn.put(next);
  commit(s, txn);
}

/**
 * A write growing the file to `end`: when the block `end` falls in lies
 * past the old EOF block, it may be preallocated (not zeroed), so the rest
 * of it past `end` is zeroed, durably, before the new size can show it.
 */
export function zeroPastNewEof(s: PoolState, inode: Inode, layout: Inode, end: number): void {
  if (end <= inode.size || Math.floor(end / BLOCK) < Math.ceil(inode.size / BLOCK)) return;
  zeroBlockTail(s, layout, end);
}

/** Zeroes, durably, the bytes from `from` to the end of its block, if the block is written. */
export function zeroBlockTail(s: PoolState, layout: Inode, from: number): void {
  if (from % BLOCK === 0) return;
  const fb = Math.floor(from / BLOCK);
  const e = layout.extents.runAt(fb);
  if (!isWritten(e)) return;
  s.region.zero((e.poolBlock + fb - e.fileBlock) * BLOCK + (from % BLOCK), BLOCK - (from % BLOCK));
}

/**
 * Before an operation grows the file other than by appending (a write past
 * EOF, truncate up, allocate or zero range past EOF): the preallocated
 * blocks past EOF go, so that what lies between the old and the new EOF
 * is a hole (or unwritten) as it would be without preallocation.
 */
export function dropPreallocation(s: PoolState, txn: Txn, inode: Inode, next: Inode): void {
  const range = s.preallocated.get(inode.ino);
  if (!range) return;
  s.preallocated.delete(inode.ino);
  const from = Math.max(range.from, Math.ceil(inode.size / BLOCK));
  if (from >= range.to) return;
  txn.freed.push(...next.extents.removeRange(from, range.to));
  txn.touch(inode.ino, from, range.to);
}

/**
 * Zeroes the bytes of the last block past EOF before the file grows: they
 * may hold old data (truncate does not zero them durably first).
 */
export function zeroTailOnExtend(s: PoolState, inode: Inode): void {
  zeroBlockTail(s, inode, inode.size);
}

/**
 * A run for file blocks from `fileBlock` (up to `want`): near the file's
 * neighbouring blocks, or, for a new 2 MiB-aligned stretch of at least
 * 2 MiB, 2 MiB-aligned in the pool so that mappings can map it whole.
 */
export function allocateFor(s: PoolState, extents: ExtentMap, fileBlock: number, want: number, pending: readonly Run[]): Run | null {
  const goal = goalFor(s, extents, fileBlock);
  if (goal === undefined && fileBlock % HUGE_PAGES === 0 && want >= HUGE_PAGES)
    return s.allocator.allocateAligned(goal, want, pending, HUGE_PAGES);
  return s.allocator.allocate(goal, want, pending);
}

/** The pool block to allocate near, for file block `fileBlock`. */
export function goalFor(s: PoolState, extents: ExtentMap, fileBlock: number): number | undefined {
  const i = extents.findIndex(fileBlock);
  const prev = extents.at(i - 1);
  if (prev) return prev.poolBlock + (fileBlock - prev.fileBlock);
  const next = extents.at(i);
  if (next && next.fileBlock > fileBlock && next.poolBlock >= next.fileBlock - fileBlock)
    return next.poolBlock - (next.fileBlock - fileBlock);
  return undefined;
}

/** Fills every hole of file blocks [start, end) with zeroed, unwritten runs (in `txn`); ENOSPC if it cannot. */
export function allocateHoles(s: PoolState, txn: Txn, next: Inode, start: number, end: number): void {
  // Filling a hole changes no other run's bounds: the runs can be taken first.
  for (const hole of next.extents.runsIn(start, end)) {
    if (hole.poolBlock >= 0) continue;
    const holeEnd = hole.fileBlock + hole.length;
    for (let fb = hole.fileBlock; fb < holeEnd; ) {
      const run = allocateFor(s, next.extents, fb, holeEnd - fb, txn.pending(s.pins.held));
      if (!run) throw daxfsError('ENOSPC', 'no free block in the pool');
      txn.allocated.push(run);
      s.region.zero(run.start * BLOCK, run.length * BLOCK);
      next.extents.insert(makeExtent(fb, run.start, run.length, true));
      fb += run.length;
    }
  }
}

/** Zeroes, in place, the written bytes of [from, to) (which lies within one or more blocks). */
export function zeroBytes(s: PoolState, inode: Inode, from: number, to: number): void {
  if (to <= from) return;
  for (const run of inode.extents.runsIn(Math.floor(from / BLOCK), Math.ceil(to / BLOCK))) {
    if (!isWritten(run)) continue;
    const a = Math.max(from, run.fileBlock * BLOCK);
    const b = Math.min(to, (run.fileBlock + run.length) * BLOCK);
    s.region.zero(run.poolBlock * BLOCK + (a - run.fileBlock * BLOCK), b - a);
  }
}

/**
 * Speculative preallocation for a file growing at its end (at file block
 * `fb`, just past the write): as many blocks as the file has, up to
 * 4 MiB, so that the appends that follow need no transaction — only the
 * data and one size-word store. Trimmed when the last handle closes (and at
 * mount after a crash). Best effort: nothing when the pool is short.
 */
export function preallocate(s: PoolState, txn: Txn, next: Inode, fb: number): void {
  const last = next.extents.last();
  if (!last || last.fileBlock + last.length !== fb) return; // not at the end of the file
  const want = Math.min(next.extents.mappedBlocks(), PREALLOC_MAX_BLOCKS, 2 ** 32 - fb);
  if (want < 1) return;
  let run: Run | null;
  try {
    run = s.allocator.allocate(last.poolBlock + last.length, want, txn.pending(s.pins.held));
  } catch (e) {
    if (isDaxfsError(e) && e.code === 'ENOSPC') return; // a sparse pool whose file system is short: no preallocation
    throw e;
  }
  if (!run) return;
  // Not zeroed here: appends overwrite these blocks whole, and every path
  // that exposes one zeroes what it does not write first (the append fast
  // path zeroes the rest of a block it enters; any other growth drops the
  // preallocation; a mount frees blocks past EOF). Zeroing them twice
  // would double the memory traffic of an append.
  txn.allocated.push(run);
  next.extents.insert(makeExtent(fb, run.start, run.length, false));
  const range = s.preallocated.get(next.ino);
  s.preallocated.set(next.ino, { from: range ? Math.min(range.from, fb) : fb, to: fb + run.length });
}
