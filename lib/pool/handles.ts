// Handles: an open file, a mapping and an asynchronous transfer each keep
// their inode alive. When the last of them goes, an unlinked (orphan) inode
// is freed and what appends preallocated past EOF is trimmed.
//
// Invariants: an orphan is freed only when no handle (openCount) and no
// transfer (a pin, pins.ts) uses it; nothing commits once the pool has stopped or
// closed, or on a read-only pool (the next read-write mount frees orphans
// and trims).
import { encodeInode, FLAG_ORPHAN } from './inode.js';
import { INODE_SIZE } from './layout.js';
import { trimPreallocation } from './blocks.js';
import { commit, releaseInode } from './commit.js';
import type { PoolState } from './state.js';
import { Txn } from './txn.js';

/** @internal a handle closed. */
export function release(s: PoolState, ino: number): void {
  const n = (s.openCount.get(ino) ?? 1) - 1;
  if (n > 0) {
    s.openCount.set(ino, n);
    return;
  }
  s.openCount.delete(ino);
  if (s.stopped) return; // nothing commits any more: the next mount frees and trims
  freeIfOrphan(s, ino);
  if (!s.closed && !s.readOnly && !s.pins.has(ino)) trimPreallocation(s, ino);
  noteIdle(s, ino);
}

/**
 * `ino`'s last handle closed: it joins the idle inodes, and the oldest of
 * them beyond `idleKept` are let go if nothing uses them by then. Close
 * stays O(1): media is read only for the one let go.
 */
function noteIdle(s: PoolState, ino: number): void {
  const oldest = s.inodes.pushIdle(ino);
  if (oldest >= 0) forgetIfIdle(s, oldest);
}

const slotOnMedia = Buffer.alloc(INODE_SIZE);
const slotInMemory = Buffer.alloc(INODE_SIZE);

/**
 * Lets the inode store drop the decoded inode of a file nothing uses any
 * more (no handle, mapping, transfer or preallocation) when its slot on
 * media reads as memory would encode it: a modification time an append in
 * place set in memory only keeps it (see inode-store.ts).
 */
function forgetIfIdle(s: PoolState, ino: number): void {
  if (s.closed || s.stopped || s.salvage || (s.openCount.get(ino) ?? 0) > 0 || s.pins.has(ino) || s.preallocated.has(ino) || s.spaces.has(ino) || s.damaged.has(ino)) return;
  const inode = s.inodes.cached(ino);
  if (!inode || inode.flags & FLAG_ORPHAN) return;
  s.readMeta(s.table.offset(ino), slotOnMedia);
  // all but the checksum: encodeInode leaves it to the commit's seal, and
  // media's is over exactly these bytes (a wrong one is damage a lookup reports)
  encodeInode(inode, slotInMemory);
  if (slotInMemory.compare(slotOnMedia, 0, INODE_SIZE - 4, 0, INODE_SIZE - 4) === 0) s.inodes.forget(ino);
}

/** @internal the last asynchronous transfer on `ino` settled: as release(), when no handle is left either. */
export function transfersDone(s: PoolState, ino: number): void {
  if (s.stopped || s.closed || s.readOnly || (s.openCount.get(ino) ?? 0) > 0) return;
  freeIfOrphan(s, ino);
  trimPreallocation(s, ino);
}

/** Frees an unlinked inode once no handle and no transfer uses it. */
export function freeIfOrphan(s: PoolState, ino: number): void {
  const inode = s.inodes.get(ino);
  if (s.closed || s.readOnly || !inode || !(inode.flags & FLAG_ORPHAN)) return;
  if ((s.openCount.get(ino) ?? 0) > 0 || s.pins.has(ino)) return;
  const txn = new Txn();
  releaseInode(txn, inode);
  commit(s, txn);
}
