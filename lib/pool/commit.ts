// Commit: turns a transaction (txn.ts) into physical redo records — bitmap
// words, inodes, block-map blocks and, when it changes, the superblock —
// commits them through the journal, and installs the result in memory.
//
// Invariants: memory (sb, inodes, names, freeInodes, owned) changes only
// after the journal's commit point, so a failed commit leaves it as it was;
// a failure after the commit point stops the pool (the next mount replays
// the change). Mappings change in phases (invalidation.ts): prepared before
// the commit point (the records checked to fit the journal first), so a
// transaction that fails to commit leaves every page as it was; applied
// after it and before the install — pages let go of blocks taken away,
// pages past a smaller EOF are torn down, asynchronous copies still touching
// a freed block are waited out — so no freed block is reachable, or
// written, once it can be allocated again; holes the transaction filled are
// shown to the mappings after the install.
import { daxfsError, isDaxfsError } from '../errors.js';
import type { FillExclusion } from '../map/invalidation.js';
import type { Chunk } from './extent-map.js';
import type { Run } from './extents.js';
import { changedExtentBlocks, encodeInode, makeInode, FLAG_ORPHAN, FLAG_USED, SIZE_WORD, type Inode } from './inode.js';
import { prepareInvalidation } from './invalidation.js';
import type { JournalRecord } from './journal.js';
import { BLOCK, encodeSuperblock, INODE_SIZE, withCounters, type Superblock } from './layout.js';
import type { PoolState } from './state.js';
import type { Txn } from './txn.js';

export function inodeOffset(s: PoolState, ino: number): number {
  return s.table.offset(ino);
}

export interface CommitOptions {
  /** Commit (the superblock included) even when the transaction is empty: a repair. */
  force?: boolean;
  /** A write fault's own transaction: the pages it maps itself afterwards, which the fill skips. */
  faulting?: FillExclusion;
}

const NO_OPTIONS: CommitOptions = {};

/**
 * Where commits encode inodes: records point into it until the journal has
 * copied them (commit is synchronous), so one arena serves every commit;
 * a commit that finds it in use (one started inside another) takes a fresh
 * one. Its slots (views of INODE_SIZE bytes) are made once: a view costs
 * more than the encoding it holds.
 */
let inodeArena = Buffer.allocUnsafe(4 * INODE_SIZE);
/** The same for the extent blocks a commit re-encodes: an edit changes one or two. */
const extentArena = Buffer.allocUnsafe(4 * BLOCK);
let arenaSlots: Buffer[] = [];
let arenaBusy = false;
/** The arena's bitmap word: the one record most allocations and frees make. */
const arenaWord = Buffer.alloc(4);

function arenaSlot(k: number): Buffer {
  let slot = arenaSlots[k];
  if (slot === undefined) {
    for (let j = arenaSlots.length; j <= k; j++) arenaSlots.push(inodeArena.subarray(j * INODE_SIZE, (j + 1) * INODE_SIZE));
    slot = arenaSlots[k]!;
  }
  return slot;
}

const fromExtentArena = (k: number): Buffer | undefined => (k < 4 ? extentArena.subarray(k * BLOCK, (k + 1) * BLOCK) : undefined);

/** Turns `txn` into journal records, commits them, and installs the result in memory. */
export function commit(s: PoolState, txn: Txn, options: CommitOptions = NO_OPTIONS): void {
  const force = options.force ?? false;
  if (txn.empty && !force) return;
  const records: JournalRecord[] = [];
  const previous: (Inode | undefined)[] = [];
  const ownArena = !arenaBusy;
  if (ownArena) arenaBusy = true;
  try {
    for (const inode of txn.inodes.values()) layoutExtentBlocks(s, txn, inode);
    const delta = txn.allocated.length + txn.freed.length === 0 ? 0 : bitmapRecords(s, txn, records, ownArena);
    const encoded: Chunk[] = [];
    encodeInodes(s, txn, ownArena, records, previous, encoded);
    for (const r of txn.records) records.push(r);
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
    journalAndInstall(s, txn, options, records, sb, previous);
    for (const c of encoded) {
      c.written = true;
      c.base = null; // needed by this commit only: kept, each chunk would hold every version before it
    }
  } finally {
    if (ownArena) arenaBusy = false;
  }
}

/**
 * The records of the transaction's inodes (and of their extent blocks whose
 * chunk changed), with the versions they replace in `previous` (in
 * txn.inodes' order), decoded before the commit point changes them on media.
 */
function encodeInodes(s: PoolState, txn: Txn, ownArena: boolean, records: JournalRecord[], previous: (Inode | undefined)[], encoded: Chunk[]): void {
  const bytes = txn.inodes.size * INODE_SIZE;
  const arena = ownArena ? inodeArena : Buffer.allocUnsafe(bytes);
  if (ownArena && arena.length < bytes) {
    inodeArena = Buffer.allocUnsafe(Math.max(bytes, 2 * arena.length));
    arenaSlots = [];
  }
  let k = 0;
  let extentsFree = true;
  for (const inode of txn.inodes.values()) {
    const before = s.inodes.get(inode.ino);
    previous.push(before);
    const slot = ownArena ? arenaSlot(k) : arena.subarray(k * INODE_SIZE, (k + 1) * INODE_SIZE);
    // sealed by the journal's commit (the CRC over all but the size word); a free slot stays all zeros
    records.push({ offset: inodeOffset(s, inode.ino), data: encodeInode(inode, slot), seal: inode.flags === 0 ? undefined : SIZE_WORD });
    k++;
    // only the extent blocks whose chunk changed: the others are on media as they are
    if (inode.extents.chunks().length > 1) {
      const changed = changedExtentBlocks(inode, before, ownArena && extentsFree ? fromExtentArena : undefined);
      // one inode's extent blocks per commit in the arena (a commit rarely changes two such files)
      if (changed.length > 0) extentsFree = false;
      for (const { block, data, chunk } of changed) {
        extentBlockRecords(records, block, data, chunk, before);
        encoded.push(chunk);
      }
    }
  }
}

/**
 * The records that make extent block `block` hold `data` (chunk's
 * encoding). When the chunk replaces, in the same block, a chunk whose
 * encoding this process committed and that the inode's version on media
 * still has there, the block holds that encoding: only the header's count,
 * next and CRC and the extents from the first that may differ are
 * journaled (an edit moves the extents after it: about half a block, not
 * all of it). The bytes left out are the new encoding's already (the same
 * leading extents, zeros past both chunks' ends), so after the apply — or
 * a replay, which writes the same records — the block is `data` exactly.
 * Otherwise the whole block. (Damage to the bytes left out, from outside
 * the pool, stays: the block's CRC shows it at the next mount, as it
 * would have without the edit.)
 */
function extentBlockRecords(records: JournalRecord[], block: number, data: Buffer, chunk: Chunk, before: Inode | undefined): void {
  const offset = block * BLOCK;
  const base = chunk.base;
  if (base === null || !base.written || !before?.extents.chunks().includes(base)) {
    records.push({ offset, data });
    return;
  }
  records.push({ offset: offset + 4, data: data.subarray(4, EXTENTS_AT) });
  const from = EXTENTS_AT + EXTENT_BYTES * chunk.same;
  const to = EXTENTS_AT + EXTENT_BYTES * Math.max(base.n, chunk.n);
  if (to > from) records.push({ offset: offset + from, data: data.subarray(from, to) });
}

/** Where an extent block's extents start (after magic, count, next and CRC), and the bytes of one. */
const EXTENTS_AT = 16;
const EXTENT_BYTES = 16;

function journalAndInstall(s: PoolState, txn: Txn, options: CommitOptions, records: JournalRecord[], sb: Superblock, previous: (Inode | undefined)[]): void {
  // Prepare: the journal has room, the mappings' part is found; nothing changed yet.
  const bytes = records.length > 0 ? s.journal.checkRoom(records) : 0;
  const invalidation = prepareInvalidation(s, txn);
  try {
    s.journal.commit(records, bytes);
  } catch (e) {
    if (s.journal.unapplied && isDaxfsError(e)) stop(s, e);
    throw e;
  }
  // Committed. Apply to the mappings and wait out copies before the install
  // makes freed blocks allocatable; failing here, the pool stops without
  // installing (the next mount has the change), so no freed block can be
  // handed out while a page may still show it.
  try {
    invalidation.apply();
  } catch (e) {
    if (isDaxfsError(e)) stop(s, e);
    else s.stopped = String(e);
    throw e;
  }
  // Install.
  s.sb = sb;
  if (txn.table) s.table = txn.table;
  for (const run of txn.freed) s.owned.remove(run.start, run.length);
  for (const run of txn.allocated) s.owned.add(run.start, run.length);
  // Linked files that keep their names (a write, a resize) leave the names as they are.
  let k = 0;
  let renamed = false;
  for (const inode of txn.inodes.values()) {
    const old = previous[k++];
    if (old && old.flags === FLAG_USED && inode.flags === FLAG_USED && old.name === inode.name) continue;
    renamed = true;
    if (old && !(old.flags & FLAG_ORPHAN) && s.names.get(old.name) === inode.ino) s.names.delete(old.name);
  }
  s.inodes.grow(sb.inodeHighWater);
  for (const inode of txn.inodes.values()) {
    if (inode.flags === 0) {
      s.inodes.set(inode.ino, undefined);
      s.freeInodes.add(inode.ino);
    } else {
      s.inodes.set(inode.ino, inode);
      if (renamed && !(inode.flags & FLAG_ORPHAN)) s.names.set(inode.name, inode.ino);
    }
  }
  invalidation.fill(options.faulting);
}

/**
 * The bitmap words `txn` changes, as records (a 32-bit word at a time, read
 * from a live view of the bitmap), with the change in the free count.
 * Throws EUCLEAN on a double allocation or free.
 */
function bitmapRecords(s: PoolState, txn: Txn, records: JournalRecord[], ownArena: boolean): number {
  const bitmapBase = s.sb.bitmapStart * BLOCK;
  let delta = 0;
  // The common case: one run inside one word (a small file's block).
  if (txn.allocated.length + txn.freed.length === 1) {
    const set = txn.allocated.length === 1;
    const run = set ? txn.allocated[0]! : txn.freed[0]!;
    const w = run.start >>> 5;
    if (run.length > 0 && (run.start + run.length - 1) >>> 5 === w) {
      const data = ownArena ? arenaWord : Buffer.allocUnsafe(4);
      data.writeUInt32LE(changeWord(s.bitmapWords[w]!, run.start, run.start + run.length, set), 0);
      records.push({ offset: bitmapBase + w * 4, data });
      return set ? -run.length : run.length;
    }
  }
  const words = new Map<number, number>();
  for (const run of txn.allocated) {
    changeRun(s, words, run, true);
    delta -= run.length;
  }
  for (const run of txn.freed) {
    changeRun(s, words, run, false);
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
  return delta;
}

function changeRun(s: PoolState, words: Map<number, number>, run: Run, set: boolean): void {
  let p = run.start;
  const end = run.start + run.length;
  while (p < end) {
    const w = p >>> 5;
    const hi = Math.min(32, end - w * 32);
    words.set(w, changeWord(words.get(w) ?? s.bitmapWords[w]!, p, w * 32 + hi, set));
    p = w * 32 + hi;
  }
}

/** Word `current` (holding blocks from (from >>> 5) * 32) with blocks [from, to) of it set or cleared; EUCLEAN when any already is. */
function changeWord(current: number, from: number, to: number, set: boolean): number {
  const base = (from >>> 5) * 32;
  const lo = from - base;
  const hi = to - base;
  const mask = (hi - lo === 32 ? 0xffffffff : ((1 << (hi - lo)) - 1) << lo) >>> 0;
  if (set ? (current & mask) !== 0 : ((current & mask) >>> 0) !== mask)
    throw daxfsError('EUCLEAN', `bitmap: blocks around ${from} are already ${set ? 'in use' : 'free'} (double ${set ? 'allocation' : 'free'})`);
  return (set ? current | mask : current & ~mask) >>> 0;
}

/** A failure after the commit point: the pool takes no more operations until it is opened again. */
function stop(s: PoolState, e: Error): void {
  s.stopped = e.message;
  e.message += `; the change is committed but not applied: pool '${s.region.path}' stopped (close it; opening it again applies the change)`;
}

/**
 * Gives each chunk of `inode`'s map an extent block: chunks not placed yet
 * take the inode's blocks no chunk uses any more, then new ones; blocks
 * left over are freed (all of them for a freed inode), in `txn`.
 * inode.extentBlocks ends as the chunks' blocks. O(chunks).
 */
export function layoutExtentBlocks(s: PoolState, txn: Txn, inode: Inode): void {
  const map = inode.extents;
  const chunks = map.chunks();
  if (chunks.length === 1 && inode.extentBlocks.length === 0) return; // all inline: the common case
  if (inode.flags === 0) {
    for (const b of inode.extentBlocks) txn.freed.push({ start: b, length: 1 });
    inode.extentBlocks = [];
    return;
  }
  // every chunk placed, in the blocks it had: nothing to do (an edit inside existing chunks)
  let same = chunks.length - 1 === inode.extentBlocks.length;
  for (let k = 1; same && k < chunks.length; k++) same = chunks[k]!.block === inode.extentBlocks[k - 1];
  if (same) return;
  const used = new Set<number>();
  for (let k = 1; k < chunks.length; k++) if (chunks[k]!.block !== 0) used.add(chunks[k]!.block);
  const spare = inode.extentBlocks.filter((b) => !used.has(b));
  let reuse = 0;
  for (let k = 1; k < chunks.length; k++) {
    if (chunks[k]!.block !== 0) continue;
    let block = spare[reuse++];
    if (block === undefined) {
      const run = s.allocator.allocate(map.at(0)?.poolBlock, 1, txn.pending(s.pins.held));
      if (!run) throw daxfsError('ENOSPC', 'no free block for the file\'s block map');
      txn.allocated.push(run);
      block = run.start;
    }
    map.place(k, block);
  }
  for (; reuse < spare.length; reuse++) txn.freed.push({ start: spare[reuse]!, length: 1 });
  inode.extentBlocks = map.chunkBlocks();
}

/** Frees an inode and all its blocks in `txn`. */
export function releaseInode(txn: Txn, inode: Inode): void {
  for (const e of inode.extents) txn.freed.push({ start: e.poolBlock, length: e.length });
  for (const b of inode.extentBlocks) txn.freed.push({ start: b, length: 1 });
  txn.put(makeInode(inode.ino, 0, '', 0, 0, 0, [], []));
}
