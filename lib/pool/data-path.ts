// The data path: reads and writes of file bytes, synchronous and as
// promises, and the get_block of the reference thread. Data moves
// straight between the caller's buffers and pmem; metadata changes (new
// blocks, converted extents, a new size) commit as one transaction after the
// data is in place.
//
// Invariants: a write decides every allocation before it copies a byte (a
// refused allocation leaves the file as it was); new and unwritten blocks
// are zeroed around what is written before they become visible; an
// overwrite inside one written extent changes no metadata, and an append
// into blocks the file already has publishes its size word only after the
// data is durable; an asynchronous transfer holds a pin on the file blocks
// it touches (pins.ts) from submission until it settles — overlapping ones
// run in submission order, disjoint ones concurrently — and a write's new
// blocks stay out of allocation until it commits or fails; it commits only
// its own blocks' layout (and the size when it moves EOF) onto the inode as
// it is then. Holes and unwritten extents read as zeros.
import { daxfsError } from '../errors.js';
import type { FillExclusion } from '../map/invalidation.js';
import { isWritten, makeExtent } from './extents.js';
import { cloneInode, SIZE_WORD, sizeWord, type Inode } from './inode.js';
import { holdingFile } from './fault-adoption.js';
import { BLOCK, MAX_FILE_SIZE } from './layout.js';
import { allocateFor, dropPreallocation, preallocate, zeroPastNewEof, zeroTailOnExtend } from './blocks.js';
import { commit, inodeOffset } from './commit.js';
import { transfersDone } from './handles.js';
import { changeSpan, END, type Pin, type PinKind } from './pins.js';
import { ensureOpen, ensureRangeUnpinned, ensureUnpinned, ensureWritable, type PoolState } from './state.js';
import { Txn } from './txn.js';
import type { BlockMapping } from './types.js';

const HOLE_SCAN_LIMIT = 2 ** 32;

/**
 * Copies `length` bytes of the caller's buffer at `sourceOffset` to region
 * offset `at`. `fresh`: the bytes go to new or unwritten blocks, which only
 * the write's transaction makes part of the file.
 */
type Copier = (at: number, sourceOffset: number, length: number, fresh: boolean) => void;

/** Files smaller than this (in blocks) get no preallocation. */
const PREALLOC_AFTER_BLOCKS = 4;

interface WritePlan {
  readonly txn: Txn;
  next: Inode;
  written: number;
  metadata: boolean;
}

/**
 * @internal the get_block of the reference thread. `faulting`: the write
 * fault allocating, whose pages the fill after the commit skips.
 */
export function getBlock(s: PoolState, inode: Inode, fileBlock: number, create: boolean, maxBlocks: number, faulting?: FillExclusion): BlockMapping {
  if (!Number.isSafeInteger(fileBlock) || fileBlock < 0 || fileBlock >= 2 ** 32)
    throw daxfsError('EINVAL', `fileBlock must be an integer in 0 ..= 2^32-1, got ${fileBlock}`);
  if (!Number.isSafeInteger(maxBlocks) || maxBlocks < 1) throw daxfsError('EINVAL', `maxBlocks must be a positive integer, got ${maxBlocks}`);
  const found = inode.extents.runAt(fileBlock);
  if (found.poolBlock >= 0) {
    return {
      mapped: true,
      poolBlock: found.poolBlock + (fileBlock - found.fileBlock),
      count: found.fileBlock + found.length - fileBlock,
      new: false,
      unwritten: found.unwritten,
    };
  }
  const holeEnd = Math.min(found.fileBlock + found.length, fileBlock + HOLE_SCAN_LIMIT, 2 ** 32);
  if (!create) return { mapped: false, poolBlock: -1, count: holeEnd - fileBlock, new: false, unwritten: false };
  ensureWritable(s);
  const want = Math.min(maxBlocks, holeEnd - fileBlock);
  ensureUnpinned(s, inode, fileBlock, fileBlock + want);
  const txn = new Txn();
  const next = cloneInode(inode);
  const run = allocateFor(s, next.extents, fileBlock, want, s.pins.held);
  if (!run) throw daxfsError('ENOSPC', 'no free block in the pool');
  txn.allocated.push(run);
  // Zeroed and durable before the allocation commits: no stale data, even after a crash.
  s.region.zero(run.start * BLOCK, run.length * BLOCK);
  next.extents.insert(makeExtent(fileBlock, run.start, run.length, false));
  next.mtimeMs = Date.now();
  txn.put(next);
  txn.touch(inode.ino, fileBlock, fileBlock + run.length);
  commit(s, txn, { faulting });
  return { mapped: true, poolBlock: run.start, count: run.length, new: true, unwritten: false };
}

/** @internal */
export function readFile(s: PoolState, inode: Inode, target: Uint8Array, targetOffset: number, length: number, position: number): number {
  if (position >= inode.size || length === 0) return 0;
  const n = Math.min(length, inode.size - position);
  // One written extent covers it: one copy.
  const first = inode.extents.runAt(Math.floor(position / BLOCK));
  if (isWritten(first) && position + n <= (first.fileBlock + first.length) * BLOCK)
    return s.region.read(first.poolBlock * BLOCK + (position - first.fileBlock * BLOCK), target, targetOffset, n);
  forEachPiece(inode, position, n, (at, done, chunk) => {
    if (at >= 0) s.region.read(at, target, targetOffset + done, chunk);
    else target.fill(0, targetOffset + done, targetOffset + done + chunk);
  });
  return n;
}

/**
 * Visits bytes [position, position + n) of the file run by run: the region
 * offset of the written bytes (-1 where they read as zeros), their offset
 * from `position`, and their length.
 */
function forEachPiece(inode: Inode, position: number, n: number, visit: (at: number, done: number, chunk: number) => void): void {
  const end = position + n;
  for (const run of inode.extents.runsIn(Math.floor(position / BLOCK), Math.ceil(end / BLOCK))) {
    const from = Math.max(position, run.fileBlock * BLOCK);
    const to = Math.min(end, (run.fileBlock + run.length) * BLOCK);
    visit(isWritten(run) ? run.poolBlock * BLOCK + (from - run.fileBlock * BLOCK) : -1, from - position, to - from);
  }
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
  if (to > from) copy(base + from, sourceOffset + (from - position), to - from, zeroEdges);
}

/**
 * The file grew from `before` bytes without a transaction (an append into
 * blocks it had): its mappings learn the new EOF and what the pages that
 * came inside it are served with.
 */
function grewInPlace(s: PoolState, inode: Inode, before: number): void {
  const space = s.spaces.get(inode.ino);
  if (!space) return;
  const range = { from: Math.floor(before / BLOCK), to: Math.ceil(inode.size / BLOCK) };
  for (const m of space.all()) {
    m.retarget(range, inode);
    m.eofMoved(inode);
  }
}

/** @internal positioned write: allocates as needed; returns bytes written (short only on ENOSPC). */
export function writeFile(s: PoolState, inode: Inode, source: Uint8Array, sourceOffset: number, length: number, position: number): number {
  const end = position + length;
  if (length > 0) ensureRangeUnpinned(s, inode, position, end);
  // The common case first: an overwrite inside EOF and inside one written
  // extent changes no metadata: one copy, durable on return.
  if (position <= inode.size && length > 0 && !s.readOnly) {
    const e = inode.extents.runAt(Math.floor(position / BLOCK));
    if (isWritten(e) && end <= (e.fileBlock + e.length) * BLOCK) {
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
      const before = inode.size;
      inode.size = end;
      inode.mtimeMs = Date.now(); // in memory; on media with the file's next transaction (like lazytime)
      if (s.spaces.size !== 0) grewInPlace(s, inode, before);
      return n;
    }
  }
  // Bytes for new or unwritten blocks are written back but not fenced: the
  // transaction that makes them the file's follows (a write that fills such
  // blocks always commits one), and the journal's first barrier — before
  // its commit point — fences them with its body. Until then no one can
  // read them through the file; a crash before it leaves them unallocated.
  // Bytes over written blocks are durable on return, as ever.
  const plan = planWrite(s, inode, sourceOffset, length, position, (at, from, n, fresh) => {
    s.region.write(at, source, from, n, fresh ? 'flush' : true);
  });
  finishWrite(s, plan);
  return plan.written;
}

/**
 * Runs `transfer` under a pin of `kind` on file blocks [from, to) of
 * `inode`'s file: at once when nothing earlier overlaps, else once the
 * earlier overlapping transfers have settled (on the file's inode as it is
 * then). The pin goes when the transfer settles.
 */
async function pinned<T>(s: PoolState, inode: Inode, kind: PinKind, from: number, to: number, transfer: (inode: Inode, pin: Pin) => Promise<T>): Promise<T> {
  const { pin, wait } = s.pins.acquire(inode.ino, kind, from, to);
  try {
    if (wait) {
      await wait;
      ensureOpen(s);
      // A pin keeps the inode (an unlink leaves an orphan): this is the file's current version.
      inode = s.inodes.get(inode.ino)!;
    }
    return await transfer(inode, pin);
  } finally {
    if (s.pins.release(pin)) transfersDone(s, inode.ino);
  }
}

/**
 * @internal the same, with the data copied by Region.writeAsync; durable when
 * the promise resolves. Overlapping transfers on the file go in submission
 * order, and a synchronous change overlapping it meanwhile is EBUSY
 * (pins.ts).
 */
export function writeFileAsync(s: PoolState, inode: Inode, source: Uint8Array, sourceOffset: number, length: number, position: number): Promise<number> {
  ensureWritable(s);
  if (length === 0) return Promise.resolve(0);
  const [from, to] = changeSpan(inode.size, position, position + length);
  return pinned(s, inode, 'write', from, to, async (current, pin) => {
    // A file mapped shared writable: the plan, its copies and its commit in
    // one synchronous stretch with the fault service held off the file, so
    // that no plain store fills a hole this write is filling itself
    // (holdingFile). Its place in the order of transfers is kept.
    if (mappedWritable(s, current.ino))
      return holdingFile(s, current, (now) => {
        const plan = planWrite(s, now, sourceOffset, length, position, (at, from, n, fresh) => {
          s.region.write(at, source, from, n, fresh ? 'flush' : true);
        });
        finishWrite(s, plan);
        return plan.written;
      });
    // An overwrite inside EOF and inside one written extent changes no
    // metadata (as in writeFile): one copy, no plan, nothing to commit.
    const e = position + length <= current.size ? current.extents.runAt(Math.floor(position / BLOCK)) : undefined;
    if (e && isWritten(e) && position + length <= (e.fileBlock + e.length) * BLOCK) {
      await s.region.writeAsync(e.poolBlock * BLOCK + (position - e.fileBlock * BLOCK), source, sourceOffset, length);
      ensureOpen(s);
      return length;
    }
    const copies: [number, number, number][] = [];
    const plan = planWrite(s, current, sourceOffset, length, position, (at, sourceAt, n) => copies.push([at, sourceAt, n]));
    s.pins.hold(pin, plan.txn.allocated);
    if (copies.length === 1) {
      const [at, sourceAt, n] = copies[0]!;
      await s.region.writeAsync(at, source, sourceAt, n);
    } else {
      await allCopies(copies.map(([at, sourceAt, n]) => s.region.writeAsync(at, source, sourceAt, n)));
    }
    ensureOpen(s);
    if (plan.metadata) rebase(s, plan, ...changeSpan(current.size, position, position + length));
    finishWrite(s, plan);
    return plan.written;
  });
}

/** Whether file `ino` has a shared writable mapping (whose plain stores the fault service serves). */
function mappedWritable(s: PoolState, ino: number): boolean {
  const space = s.faults === undefined ? undefined : s.spaces.get(ino);
  if (!space) return false;
  for (const m of space.all()) if (m.shared && m.writable) return true;
  return false;
}

/**
 * Waits for every copy, then fails with the first failure: the pin (and
 * the blocks it holds) must outlive the last copy still running.
 */
async function allCopies(copies: Promise<number>[]): Promise<void> {
  const results = await Promise.allSettled(copies);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/**
 * A write planned on an earlier version of the inode, committed onto the
 * current one: other transfers and synchronous changes may have changed the
 * file outside blocks [from, to) meanwhile (inside them nothing could: the
 * pin holds them), so the plan's layout replaces only those blocks', and
 * its size counts only when it moves EOF (then [from, to) runs to END).
 */
function rebase(s: PoolState, plan: WritePlan, from: number, to: number): void {
  const current = s.inodes.get(plan.next.ino);
  if (!current) throw daxfsError('EBADF', 'the file is gone');
  const next = cloneInode(current);
  next.extents.removeRange(from, to);
  for (const run of plan.next.extents.runsIn(from, Math.min(to, 2 ** 32))) {
    if (run.poolBlock >= 0) next.extents.insert(makeExtent(run.fileBlock, run.poolBlock, run.length, run.unwritten));
  }
  if (to === END) next.size = plan.next.size;
  plan.next = next;
}

/**
 * @internal readFile with the copies made by Region.readAsync. It waits for
 * asynchronous writes submitted before it that overlap its range (and so
 * sees them whole), not for reads; a synchronous change meanwhile may show
 * in the bytes it overlaps, and blocks it frees are freed once the copies
 * are done.
 */
export function readFileAsync(s: PoolState, inode: Inode, target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
  ensureOpen(s);
  if (length === 0) return Promise.resolve(0);
  return pinned(s, inode, 'read', Math.floor(position / BLOCK), Math.ceil((position + length) / BLOCK), async (current) => {
    if (position >= current.size) return 0;
    const n = Math.min(length, current.size - position);
    const copies: Promise<number>[] = [];
    // The copies pin the blocks they read natively too: a punch hole,
    // truncate or unlink frees them only once the copies are done.
    forEachPiece(current, position, n, (at, done, chunk) => {
      if (at >= 0) copies.push(s.region.readAsync(at, target, targetOffset + done, chunk));
      else target.fill(0, targetOffset + done, targetOffset + done + chunk);
    });
    if (copies.length === 1) await copies[0];
    else await allCopies(copies);
    return n;
  });
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
    const e = next.extents.runAt(fb);
    if (e.poolBlock >= 0) {
      const runEnd = Math.min(e.fileBlock + e.length - 1, lastFb);
      const count = runEnd - fb + 1;
      const unwritten = e.unwritten;
      fills.push([e.poolBlock + (fb - e.fileBlock), fb, count, unwritten]);
      if (unwritten) {
        next.extents.setUnwritten(fb, fb + count, false);
        metadata = true;
      }
      fb = runEnd + 1;
      continue;
    }
    const holeEnd = Math.min(e.fileBlock + e.length - 1, lastFb);
    const run = allocateFor(s, next.extents, fb, holeEnd - fb + 1, txn.pending(s.pins.held));
    if (!run) break; // ENOSPC: a short write of what fits
    txn.allocated.push(run);
    fills.push([run.start, fb, run.length, true]);
    next.extents.insert(makeExtent(fb, run.start, run.length, false));
    metadata = true;
    fb += run.length;
  }
  const written = Math.min(end, fb * BLOCK) - position;
  if (written <= 0) throw daxfsError('ENOSPC', 'no free block in the pool');
  // Sequential block appends to a file of some size: preallocate ahead.
  if (written === length && position === inode.size && position % BLOCK === 0 && inode.extents.mappedBlocks() >= PREALLOC_AFTER_BLOCKS)
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
  plan.next.mtimeMs = Date.now();
  plan.txn.put(plan.next);
  commit(s, plan.txn);
}
