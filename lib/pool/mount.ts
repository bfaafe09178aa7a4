// Mount: everything between opening the backing and a usable pool — the
// lock and the holder record, finding the superblock (primary, backup, or
// the one a committed journal transaction restores), journal replay, the
// inode scan that rebuilds the in-memory state, and the repairs a mount
// makes before anything else can run (blocks owned but marked free, orphans,
// preallocation past EOF a crash left, temporaries of dead processes);
// salvage mounts install what can be recovered of damaged files instead.
//
// Invariants: nothing is written before the backing is known to be a pool
// (the superblock is read first, then the holder recorded); a read-only or
// salvage mount writes nothing to the backing; every repair a mount makes is
// an ordinary committed transaction, done before the pool is handed out.
import { closeSync, openSync, readSync, statSync } from 'node:fs';

import { daxfsError } from '../errors.js';
import type { Region } from '../region.js';
import { Prefault } from './prefault.js';
import { Allocator } from './allocator.js';
import { BlockSet } from './block-set.js';
import { FreeSlots } from './free-slots.js';
import { claims, recoveredSize, recoverExtents } from './damage.js';
import { mappedBlocks, removeRange, type Run } from './extents.js';
import { cloneInode, makeInode, FLAG_ORPHAN, FLAG_USED, type Inode } from './inode.js';
import { Journal, type RecoveryMode } from './journal.js';
import { BLOCK, computeGeometry, decodeSuperblock, encodeSuperblock, FORMAT_VERSION, HOLDER_OFFSET, SUPERBLOCK_BYTES, type Superblock, withCounters } from './layout.js';
import { InodeTable, readTable } from './inode-table.js';
import { countSet, type OwnedRun } from './check.js';
import { commit, releaseInode } from './commit.js';
import { startSalvage } from './salvage.js';
import { PinRegistry } from './pins.js';
import { scanInodes } from './scan.js';
import { decodeSlot } from './scan.js';
import { InodeStore } from './inode-store.js';
import { NameIndex } from './name-index.js';
import { OpenCounts } from './open-counts.js';
import { isSparse, SparseBacking } from './space.js';
import type { PoolState } from './state.js';
import { isTemporaryName, temporaryIsLive } from './temporary.js';
import { Txn } from './txn.js';

/** One process at a time: an exclusive lock for writers, shared for readers. */
export function lock(region: Region, exclusive: boolean): void {
  if (region.lock(exclusive)) return;
  // Only readers, if a shared lock can be had (it goes when the caller closes the region).
  if (exclusive && region.lock(false)) throw daxfsError('EBUSY', `pool '${region.path}' is in use read-only by another opener`);
  const holder = Buffer.alloc(16);
  region.read(HOLDER_OFFSET, holder);
  const pid = holder.readUInt32LE(0);
  const since = Number(holder.readBigUInt64LE(8));
  const who = pid > 0 && since > 0 ? `process ${pid} (opened it read-write at ${new Date(since).toISOString()})` : 'another writer';
  throw daxfsError('EBUSY', `pool '${region.path}' is in use by ${who}`);
}

/** Who holds the pool, for the EBUSY message of a later opener (not metadata). */
export function recordHolder(region: Region): void {
  const holder = Buffer.alloc(16);
  holder.writeUInt32LE(process.pid, 0);
  holder.writeBigUInt64LE(BigInt(Date.now()), 8);
  region.write(HOLDER_OFFSET, holder);
}

/**
 * The superblock: the primary; else the backup (restoring the primary from
 * it); else, when both are damaged — a crash tearing both while a journal
 * transaction rewrote them, as versions before 2026-11-25 could — the copy
 * that the journal's committed transaction restores. The geometry follows
 * from the backing's size alone, so the journal is found without either.
 */
export function readSuperblock(region: Region, readOnly: boolean, restored: () => void): Superblock {
  const read = (at: number) => {
    const b = Buffer.alloc(SUPERBLOCK_BYTES);
    region.read(at, b);
    return b;
  };
  try {
    return decodeSuperblock(read(0), region.size, 'primary');
  } catch (primaryError) {
    try {
      const sb = decodeSuperblock(read(BLOCK), region.size, 'backup');
      if (!readOnly) {
        region.write(0, encodeSuperblock(sb)); // restore the primary from the backup
        restored();
      }
      return sb;
    } catch {
      if (replayWithoutSuperblock(region)) {
        if (!readOnly) restored();
        return decodeSuperblock(read(0), region.size, 'primary');
      }
      throw primaryError;
    }
  }
}

/** Where recovery replays: the backing, or a read-only opener's private copy (a read-only device-dax region has none). */
export function recoveryMode(region: Region): RecoveryMode {
  if (!region.readOnly) return 'backing';
  return region.capabilities.privateCopy ? 'private' : 'refuse';
}

/** Replays a committed transaction found through the geometry of the backing's size; whether one was. */
export function replayWithoutSuperblock(region: Region): boolean {
  let geometry;
  try {
    geometry = computeGeometry(region.size);
  } catch {
    return false;
  }
  const journal = new Journal(region, geometry.journalStart, geometry.journalBlocks);
  try {
    return journal.recover(recoveryMode(region), (offset, length) => inMetadataArea(offset, length, geometry, region.size)).replayed;
  } catch {
    return false; // a damaged journal cannot vouch for anything
  }
}

/** Whether [offset, offset + length) lies in the superblocks, bitmap, inode table or a data block (extent blocks). */
export function isMetadata(s: PoolState, offset: number, length: number): boolean {
  return inMetadataArea(offset, length, s.sb, s.region.size);
}

export function loadInodes(s: PoolState): void {
  const sb = s.sb;
  const reader = scanReader(s);
  let scan;
  try {
    scan = scanInodes(sb.inodeHighWater, sb, s.table, reader.read, s.names);
  } finally {
    reader.close();
  }
  s.inodes.grow(sb.inodeHighWater);
  for (const ino of scan.used) s.inodes.markUsed(ino);
  for (const ino of scan.freeInodes) s.freeInodes.add(ino);
  s.damaged = scan.damaged;
  s.damagedNames = scan.damagedNames;
  const orphans = scan.orphans;
  // The free count and the next generation are not kept current on media:
  // they follow from the inodes.
  let owned = scan.ownedBlocks;
  const generation = scan.generation;
  // in block order: each run extends or follows the last one, no splice in the middle
  s.owned.add(0, sb.dataStart);
  for (let k = 0; k < scan.owned.length; k += 2) s.owned.add(scan.owned[k]!, scan.owned[k + 1]! - scan.owned[k]!);
  for (const r of s.table.runs()) s.owned.add(r.start, r.length);
  owned += s.table.blockCount();
  for (const d of s.damaged.values()) for (const r of claims(d, sb)) s.held.add(r.start, r.length);
  // Blocks only damaged files claim count as in use where the bitmap says
  // so, so that the count keeps matching the bitmap until a repair.
  let heldInUse = 0;
  for (const r of s.held.toRuns()) for (const gap of s.owned.gaps(r.start, r.length)) heldInUse += countSet(s.bitmapWords, gap.start, gap.length);
  s.sb = withCounters(sb, sb.nblocks - sb.dataStart - owned - heldInUse, sb.inodeHighWater, Math.max(sb.nextGeneration, generation + 1));
  if (s.salvage) installSalvaged(s);
  checkOwnershipAtMount(s);
  // Orphans: unlinked while open when the pool went down. Their blocks are
  // freed now, so a crash never leaks them.
  if (orphans.length > 0 && !s.readOnly) {
    const txn = new Txn();
    for (const ino of orphans) releaseInode(txn, s.inodes.get(ino)!);
    commit(s, txn);
    s.orphansFreed = orphans.length;
  }
  // Blocks wholly past EOF — preallocation a crash left behind, whose bytes
  // may be an earlier owner's — go back to the pool before anything could
  // grow a file over them. Nothing readable changes.
  if (!s.readOnly) {
    const txn = new Txn();
    for (const ino of scan.pastEof) {
      const inode = s.inodes.get(ino)!;
      const eofBlock = Math.ceil(inode.size / BLOCK);
      const next = cloneInode(inode);
      txn.freed.push(...next.extents.removeRange(eofBlock, 2 ** 32));
      txn.put(next);
    }
    if (!txn.empty) commit(s, txn);
  }
}

/**
 * How the mount scan reads the inode table: with pread from the backing
 * when it is a regular file and nothing lives only in this opener's mapping
 * (a replay into a private copy, a salvage overlay) — reading every inode
 * through the mapping would leave the whole table resident in this process
 * (512 bytes per file); else through the mapping. The file and the mapping
 * share the page cache (or the pmem), so both read the same bytes.
 */
function scanReader(s: PoolState): { read: (offset: number, target: Buffer) => void; close: () => void } {
  const mapped = { read: s.readMeta, close: () => {} };
  if (s.salvage || s.recovery.inMemory) return mapped;
  let fd: number;
  try {
    if (!statSync(s.region.path).isFile()) return mapped;
    fd = openSync(s.region.path, 'r');
  } catch {
    return mapped;
  }
  return {
    read: (offset, target) => {
      for (let done = 0; done < target.length; ) {
        const n = readSync(fd, target, done, target.length - done, offset + done);
        if (n === 0) throw daxfsError('EIO', `reading the inode table at byte ${offset + done}: the backing ended`);
        done += n;
      }
    },
    close: () => closeSync(fd),
  };
}

/**
 * Blocks owned but marked free — which the allocator would otherwise
 * refuse, and a later opener could hand out — are marked in use before
 * anything can allocate (O(blocks in use / 32)). Blocks owned twice were
 * already found by the scan: those files are damaged, not owners.
 */
export function checkOwnershipAtMount(s: PoolState): void {
  if (s.readOnly) return;
  const clear: Run[] = [];
  // the owned record mount built from the scan (metadata, the table, every undamaged file): no inode is decoded again
  for (const r of s.owned.toRuns()) {
    let start = -1;
    for (let b = r.start; b <= r.start + r.length; b++) {
      const isClear = b < r.start + r.length && ((s.bitmapWords[b >>> 5]! >>> (b & 31)) & 1) === 0;
      if (isClear && start < 0) start = b;
      if (!isClear && start >= 0) {
        clear.push({ start, length: b - start });
        start = -1;
      }
    }
  }
  if (clear.length === 0) return;
  const txn = new Txn();
  txn.allocated.push(...clear);
  // The blocks were owned all along: the count derived from the block maps stands.
  txn.freeBlocks = s.sb.freeBlocks;
  commit(s, txn);
  s.remarked = clear.reduce((n, r) => n + r.length, 0);
}

/**
 * Salvage mounts: each damaged file is readable as what can be recovered
 * of it (recoverExtents), in inode order, so that no block is read as
 * part of two files.
 */
export function installSalvaged(s: PoolState): void {
  for (const d of s.damaged.values()) {
    if (d.orphan) continue;
    const extents = recoverExtents(d, s.sb, s.owned);
    for (const e of extents) s.owned.add(e.poolBlock, e.length);
    s.inodes.set(d.ino, makeInode(d.ino, FLAG_USED, d.name, recoveredSize(d, extents), d.mtimeMs, 0, extents, []));
    s.names.set(d.name, d.ino);
  }
}

/** Every block someone owns: the metadata area, each undamaged file's extents and block-map blocks. */
export function ownedRuns(s: PoolState): OwnedRun[] {
  const runs: OwnedRun[] = [{ start: 0, length: s.sb.dataStart, owner: 'metadata' }, ...s.table.runs()];
  for (const inode of s.inodes.all()) {
    if (s.damaged.has(inode.ino)) continue; // a salvage mount's recovered view owns nothing
    const owner = ownerName(inode);
    for (const e of inode.extents) runs.push({ start: e.poolBlock, length: e.length, owner });
    for (const b of inode.extentBlocks) runs.push({ start: b, length: 1, owner: `${owner} block map` });
  }
  return runs;
}

/** Who owns `block`, for an error message (a scan of the block maps: error paths only). */
export function ownerOf(s: PoolState, block: number): string {
  if (block < s.sb.dataStart) return 'the metadata area';
  if (s.table.owns(block)) return 'the inode table';
  for (const inode of s.inodes.all()) {
    if (inode.extentBlocks.includes(block)) return `${ownerName(inode)} (its block map)`;
    for (const e of inode.extents) if (block >= e.poolBlock && block < e.poolBlock + e.length) return ownerName(inode);
  }
  return 'a file';
}

/**
 * At a read-write mount: removes the temporaries whose process is gone (a
 * replace interrupted by a crash or a kill), a few per transaction.
 */
export function removeDeadTemporaries(s: PoolState): void {
  // temporaries are listed apart: no pass over every name
  const dead: Inode[] = [];
  for (const [name, ino] of s.names.temporaryEntries()) if (!temporaryIsLive(name)) dead.push(s.inodes.get(ino)!);
  for (let i = 0; i < dead.length; i += 16) {
    const txn = new Txn();
    for (const inode of dead.slice(i, i + 16)) releaseInode(txn, inode);
    commit(s, txn);
    s.temporariesRemoved += Math.min(16, dead.length - i);
  }
}

/**
 * Mounts the pool in `region` (locked already): reads the superblock,
 * records the holder (read-write), replays the journal, scans the inodes and
 * makes the mount's repairs. Returns the state the Pool runs on.
 */
export function mount(region: Region, readOnly: boolean, salvage: boolean, populated = false): PoolState {
  // Nothing is written before the backing is known to be a pool: the
  // superblock first (a file that is not one is left untouched), then who
  // holds it.
  let superblockRestored = false;
  const salvaged = salvage ? startSalvage(region, (offset, length, sb) => inMetadataArea(offset, length, sb, region.size)) : undefined;
  const sb = salvaged?.sb ?? readSuperblock(region, readOnly, () => (superblockRestored = true));
  if (!readOnly) recordHolder(region);
  const primary = Buffer.alloc(SUPERBLOCK_BYTES);
  const journal = new Journal(region, sb.journalStart, sb.journalBlocks);
  const bitmap = region.bitmap(sb.bitmapStart * BLOCK, sb.nblocks);
  const bitmapView = region.dedicatedView(sb.bitmapStart * BLOCK, sb.bitmapBlocks * BLOCK);
  const bitmapWords = new Uint32Array(bitmapView.buffer, bitmapView.byteOffset, bitmapView.length / 4);
  // A backing with unreserved ranges (formatted sparse, or holes punched
  // in it since) gets each run reserved as it is allocated.
  const sparse = !readOnly && isSparse(region);
  const backing = sparse ? new SparseBacking(region) : undefined;
  const owned = new BlockSet();
  const held = new BlockSet();
  // A fully reserved backing is populated a 2 MiB window at a time as
  // allocation enters it (prefault.ts), unless every page is mapped already.
  const prefault = new Prefault(region, sb.dataStart, sb.nblocks, !readOnly && !sparse && !populated);
  const allocator = new Allocator(bitmap, sb.dataStart, sb.nblocks, owned, held, (block) => ownerOf(s, block), backing, prefault);
  allocator.words = bitmapWords;
  const s: PoolState = {
    region,
    readOnly,
    spaces: new Map(),
    sb,
    table: InodeTable.empty(sb),
    journal,
    bitmap,
    bitmapWords,
    allocator,
    inodes: new InodeStore((ino) => decodeSlot(ino, s.table, s.sb, s.readMeta)),
    names: new NameIndex((ino) => s.inodes.get(ino)?.name),
    freeInodes: new FreeSlots(),
    openCount: new OpenCounts(),
    pins: new PinRegistry(),
    preallocated: new Map(),
    recovery: { replayed: false, records: 0 },
    sparse,
    owned,
    held,
    damaged: new Map(),
    damagedNames: new Map(),
    salvage: salvaged?.notes,
    readMeta: salvaged?.read ?? ((offset, target) => region.read(offset, target)),
    faults: undefined,
    orphansFreed: 0,
    remarked: 0,
    temporariesRemoved: 0,
    superblockRestored,
    closed: false,
    stopped: undefined,
  };
  if (!salvage) s.recovery = journal.recover(recoveryMode(region), (offset, length) => isMetadata(s, offset, length));
  if (s.recovery.replayed) {
    // the superblock may have been part of the replayed transaction
    region.read(0, primary);
    s.sb = decodeSuperblock(primary, region.size, 'primary');
  }
  s.table = loadTable(s);
  loadInodes(s);
  if (!readOnly) removeDeadTemporaries(s);
  if (!readOnly && s.sb.version < FORMAT_VERSION) upgrade(s);
  return s;
}

/**
 * The inode table the superblock describes (inode-table.ts): a damaged map
 * refuses the mount (EUCLEAN, like a superblock beyond repair: the inodes it
 * lists cannot be found); a salvage mount reads the fixed area alone.
 */
function loadTable(s: PoolState): InodeTable {
  if (s.sb.tableChunks === 0) return InodeTable.empty(s.sb);
  try {
    return readTable(s.sb, s.readMeta);
  } catch (e) {
    if (!s.salvage) throw e;
    s.salvage.push(`${(e as Error).message}: only the inodes of the fixed table area are read`);
    s.sb = withCounters({ ...s.sb, tableChunks: 0, tableMapBlock: 0 }, s.sb.freeBlocks, Math.min(s.sb.inodeHighWater, s.sb.inodeCount), s.sb.nextGeneration);
    return InodeTable.empty(s.sb);
  }
}

/**
 * A pool of an older format version, opened read-write, becomes the
 * current version in one transaction: version 2's layout is version 3's
 * with no inode table chunks, so the version word is all that changes.
 */
function upgrade(s: PoolState): void {
  const txn = new Txn();
  txn.superblock = { ...s.sb, version: FORMAT_VERSION };
  commit(s, txn);
}

/** How problems name an inode: its number and, when it has one, its name. */
function ownerName(inode: Inode): string {
  return `inode ${inode.ino}${inode.name ? ` ('${inode.name}')` : ''}`;
}

/** Whether [offset, offset + length) lies in the superblocks, bitmap, inode table or data area (not the journal). */
export function inMetadataArea(offset: number, length: number, g: { journalStart: number; journalBlocks: number }, size: number): boolean {
  const end = offset + length;
  if (end > size || length <= 0) return false;
  if (end <= 2 * BLOCK) return true;
  return offset >= (g.journalStart + g.journalBlocks) * BLOCK;
}
