// The fallocate family: truncate, allocate (posix_fallocate), punch hole and
// zero range — operations that change a file's layout or size without
// writing data. Each is one transaction (all or nothing) or nothing at all.
//
// Invariants: growth other than an append drops preallocation and zeroes
// the old EOF block's tail first, so what lies between the old and the new
// EOF reads as zeros; blocks taken away are freed only by the commit (which
// lets mappings go of them first); a change that overlaps the blocks an
// asynchronous write holds is EBUSY (pins.ts), one elsewhere in the file
// goes ahead.
import { daxfsError } from '../errors.js';
import { isWritten, removeRange, runAt, setUnwritten } from './extents.js';
import { cloneInode, type Inode } from './inode.js';
import { BLOCK, MAX_FILE_SIZE } from './layout.js';
import { allocateHoles, dropPreallocation, zeroBytes, zeroTailOnExtend } from './blocks.js';
import { commit } from './commit.js';
import { checkSize } from './file.js';
import { END } from './pins.js';
import { ensureRangeUnpinned, ensureUnpinned, ensureWritable, type PoolState } from './state.js';
import { Txn } from './txn.js';

/** @internal */
export function truncateFile(s: PoolState, inode: Inode, size: number): void {
  ensureWritable(s);
  checkSize(size, 'size');
  if (size === inode.size) return;
  // Either way the blocks from the lower EOF on change (freed, or the old EOF block's tail zeroed).
  ensureUnpinned(s, inode, Math.floor(Math.min(size, inode.size) / BLOCK), END);
  const txn = new Txn();
  const next = cloneInode(inode);
  if (size > inode.size) {
    zeroTailOnExtend(s, inode);
    dropPreallocation(s, txn, inode, next);
  } else {
    txn.freed.push(...next.extents.removeRange(Math.ceil(size / BLOCK), 2 ** 32));
  }
  next.size = size;
  next.mtimeMs = Date.now();
  txn.put(next);
  commit(s, txn);
  // Best effort for readers of the raw block: the bytes past the new EOF
  // read as zeros (the durable guarantee is zeroTailOnExtend).
  if (size < inode.size && size % BLOCK !== 0) {
    const e = next.extents.runAt(Math.floor(size / BLOCK));
    if (isWritten(e)) s.region.zero(e.poolBlock * BLOCK + (size - e.fileBlock * BLOCK), BLOCK - (size % BLOCK));
  }
}

/**
 * Allocates the holes of [offset, offset + length) as unwritten (zeroed)
 * extents and extends the size like posix_fallocate. All or nothing.
 */
export function allocateFile(s: PoolState, inode: Inode, offset: number, length: number): void {
  ensureWritable(s);
  checkSize(offset, 'offset');
  checkSize(length, 'length');
  if (length === 0) throw daxfsError('EINVAL', 'length must be at least 1');
  const end = offset + length;
  if (end > MAX_FILE_SIZE) throw daxfsError('EFBIG', `offset + length passes the largest file size (${MAX_FILE_SIZE} bytes)`);
  ensureRangeUnpinned(s, inode, offset, end);
  const txn = new Txn();
  const next = cloneInode(inode);
  if (end > inode.size) dropPreallocation(s, txn, inode, next);
  allocateHoles(s, txn, next, Math.floor(offset / BLOCK), Math.ceil(end / BLOCK));
  if (end > inode.size) {
    zeroTailOnExtend(s, inode);
    next.size = end;
  }
  next.mtimeMs = Date.now();
  txn.put(next);
  commit(s, txn);
}

/** @internal frees the whole blocks of the range, zeroes the partial ones; the size stays. */
export function punchHoleFile(s: PoolState, inode: Inode, offset: number, length: number): void {
  ensureWritable(s);
  checkSize(offset, 'offset');
  checkSize(length, 'length');
  const end = Math.min(offset + length, inode.size);
  if (end <= offset) return;
  ensureRangeUnpinned(s, inode, offset, end);
  const firstFull = Math.ceil(offset / BLOCK);
  const lastFull = Math.floor(end / BLOCK);
  if (firstFull >= lastFull) {
    zeroBytes(s, inode, offset, end);
    return;
  }
  zeroBytes(s, inode, offset, firstFull * BLOCK);
  zeroBytes(s, inode, lastFull * BLOCK, end);
  const txn = new Txn();
  const next = cloneInode(inode);
  txn.freed.push(...next.extents.removeRange(firstFull, lastFull));
  if (txn.freed.length === 0) return;
  next.mtimeMs = Date.now();
  txn.put(next);
  commit(s, txn);
}

/**
 * @internal the range reads as zeros afterwards: partial blocks zeroed in
 * place, whole blocks become unwritten extents (allocated where they were
 * holes); extends the size when the range passes EOF.
 */
export function zeroRangeFile(s: PoolState, inode: Inode, offset: number, length: number): void {
  ensureWritable(s);
  checkSize(offset, 'offset');
  checkSize(length, 'length');
  if (length === 0) return;
  const end = offset + length;
  if (end > MAX_FILE_SIZE) throw daxfsError('EFBIG', `offset + length passes the largest file size (${MAX_FILE_SIZE} bytes)`);
  ensureRangeUnpinned(s, inode, offset, end);
  const firstFull = Math.ceil(offset / BLOCK);
  const lastFull = Math.floor(end / BLOCK);
  const txn = new Txn();
  const next = cloneInode(inode);
  if (end > inode.size) {
    zeroTailOnExtend(s, inode);
    dropPreallocation(s, txn, inode, next);
  }
  if (firstFull < lastFull) {
    next.extents.setUnwritten(firstFull, lastFull, true);
    allocateHoles(s, txn, next, firstFull, lastFull);
    zeroBytes(s, inode, offset, Math.min(firstFull * BLOCK, end));
    zeroBytes(s, inode, Math.max(lastFull * BLOCK, offset), end);
  } else {
    zeroBytes(s, inode, offset, end);
  }
  if (end > next.size) next.size = end;
  next.mtimeMs = Date.now();
  txn.put(next);
  commit(s, txn);
}
