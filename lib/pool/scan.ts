// The mount-time scan of the inode table: every slot below the high-water
// mark is decoded with every check; a slot that fails one — or whose name or
// blocks it shares with another file — becomes a damaged file, not a failed
// mount. O(metadata in use) in time; what it keeps is compact (names, owned
// runs, orphans), not the inodes (see inode-store.ts).
import { daxfsError, isDaxfsError } from '../errors.js';
import { damagedFrom, quarantineName, salvageInode, type DamagedInode } from './damage.js';
import { decodeExtentBlock, decodeInode, FLAG_ORPHAN, type Inode } from './inode.js';
import { BLOCK, INODE_SIZE } from './layout.js';
import type { NameIndex } from './name-index.js';
import { quick, QUICK_FREE, QUICK_USED, quickSlot } from './scan-slot.js';

export interface ScanGeometry {
  dataStart: number;
  nblocks: number;
}

/** Where the inodes are, and the blocks the table itself owns (no file may own them). */
export interface ScanTable {
  offset(ino: number): number;
  runs(): { start: number; length: number }[];
}

export interface ScanResult {
  /** Undamaged inodes in use, ascending (not kept: InodeStore decodes them again on first use). */
  used: number[];
  /** Damaged inodes by number, in ascending order. */
  damaged: Map<number, DamagedInode>;
  /** Names damaged files are listed under. */
  damagedNames: Map<string, number>;
  /** Free slots, ascending. */
  freeInodes: number[];
  /** The blocks undamaged files own (extents and extent blocks), sorted by start, as (start, end) pairs: for the pool's record of owned blocks. */
  owned: Float64Array;
  /** Blocks undamaged files own, in all. */
  ownedBlocks: number;
  /** Undamaged orphans (unlinked while open). */
  orphans: number[];
  /** Undamaged linked files with blocks wholly past EOF (preallocation a crash left). */
  pastEof: number[];
  /** The highest generation of an undamaged inode. */
  generation: number;
}

/**
 * Reads `count` inode slots (and their extent chains) through `read`, checks
 * each, and sorts them into undamaged, damaged and free — keeping of the
 * undamaged ones only what mount needs (names, owned blocks, orphans): an
 * inode object per file is what made a mount of many files slow and large.
 */
export function scanInodes(count: number, g: ScanGeometry, table: ScanTable, read: (offset: number, target: Buffer) => void, names: NameIndex): ScanResult {
  const damaged = new Map<number, DamagedInode>();
  const freeInodes: number[] = [];
  const readBlock = (block: number, target: Buffer) => read(block * BLOCK, target);
  const status = new Uint8Array(count); // 0 free, USED, DAMAGED
  const sameName: [number, number, string][] = [];
  // Two files with one name: nothing says which one the name belongs to.
  const addName = (name: string, ino: number) => {
    // a listed name is read again only when its hash matches (rare)
    const other = names.addNew(name, ino, listedName);
    if (other !== undefined) sameName.push([ino, other, name]);
  };
  // every owned run as three numbers, not an object each: a mount of many files keeps no object per run
  const tableRuns = table.runs();
  const runs = new Runs(count + tableRuns.length); // a run per file, as a rule: no growth
  names.reserve(count);
  for (const r of tableRuns) runs.push(r.start, r.start + r.length, TABLE);
  const orphans: number[] = [];
  const pastEof: number[] = [];
  let generation = 0;
  // The table is read a run of contiguous slots at a time (the fixed area,
  // then each chunk), not a slot per call; extent blocks share one buffer.
  const batch = Buffer.alloc(SCAN_BATCH * INODE_SIZE);
  const block = Buffer.alloc(BLOCK);
  // A file decoded once more: for the record of one found damaged after its own checks passed, or the name of one listed under a matching hash.
  const decodeAt = (ino: number): Inode => {
    const slot = Buffer.alloc(INODE_SIZE);
    read(table.offset(ino), slot);
    return decodeStrict(slot, ino, g, readBlock, block)!;
  };
  // the index has no inodes to read names from yet: the scan reads a listed file's name itself
  const listedName = (listed: number) => decodeAt(listed).name;
  for (let start = 0; start < count; ) {
    const first = table.offset(start);
    let n = 1;
    while (n < SCAN_BATCH && start + n < count && table.offset(start + n) === first + n * INODE_SIZE) n++;
    read(first, batch.subarray(0, n * INODE_SIZE));
    for (let j = 0; j < n; j++) {
      const ino = start + j;
      const at = j * INODE_SIZE;
      const look = quickSlot(batch, at, ino, g);
      if (look === QUICK_FREE) {
        freeInodes.push(ino);
        continue;
      }
      if (look === QUICK_USED) {
        status[ino] = USED;
        if (quick.generation > generation) generation = quick.generation;
        for (let k = 0; k < quick.extentCount; k++) {
          const e = at + 320 + 16 * k;
          const poolBlock = batch.readUInt32LE(e + 4);
          runs.push(poolBlock, poolBlock + batch.readUInt32LE(e + 8), ino);
        }
        if (quick.pastEof) pastEof.push(ino);
        addName(quick.name, ino);
        continue;
      }
      const slot = batch.subarray(at, at + INODE_SIZE);
      let inode: Inode | null;
      try {
        inode = decodeStrict(slot, ino, g, readBlock, block);
      } catch (e) {
        if (!isDaxfsError(e) || e.code !== 'EUCLEAN') throw e;
        status[ino] = DAMAGED;
        damaged.set(ino, salvageInode(slot, ino, e.message.replace(/^inode \d+: /, ''), g, readBlock));
        continue;
      }
      if (!inode) {
        freeInodes.push(ino);
        continue;
      }
      status[ino] = USED;
      if (inode.generation > generation) generation = inode.generation;
      for (const e of inode.extents) runs.push(e.poolBlock, e.poolBlock + e.length, ino);
      for (const b of inode.extentBlocks) runs.push(b, b + 1, ino);
      if (inode.flags & FLAG_ORPHAN) {
        orphans.push(ino);
        continue;
      }
      const last = inode.extents.last();
      if (last && last.fileBlock + last.length > Math.ceil(inode.size / BLOCK)) pastEof.push(ino);
      addName(inode.name, ino);
    }
    start += n;
  }
  let markedLate = 0;
  const markDamaged = (ino: number, reason: string) => {
    if (ino === TABLE || status[ino] !== USED) return;
    status[ino] = DAMAGED;
    markedLate++;
    damaged.set(ino, damagedFrom(decodeAt(ino), reason));
  };
  for (const [ino, other, name] of sameName) {
    markDamaged(ino, `name '${name}' is also used by inode ${other}`);
    markDamaged(other, `name '${name}' is also used by inode ${ino}`);
  }
  // files damaged by a shared name own nothing: their blocks are held (damage.ts), not shared
  const live = runs.sorted((ino) => ino === TABLE || status[ino] === USED);
  const label = (ino: number) => {
    if (ino === TABLE) return 'the inode table';
    const name = decodeAt(ino).name;
    return `inode ${ino}${name ? ` ('${name}')` : ''}`;
  };
  for (const [ino, reason] of sharedBlocks(runs, live, label)) markDamaged(ino, reason);
  // names of files found damaged after the name was added
  if (markedLate > 0) names.deleteInos((ino) => status[ino] !== USED);
  // Damaged files are listed under their name when it is readable and free, else under a reserved one.
  const sorted = new Map([...damaged].sort((a, b) => a[0] - b[0]));
  const damagedNames = new Map<string, number>();
  const taken = (name: string) => names.lookup(name, listedName) !== undefined || damagedNames.has(name);
  for (const d of sorted.values()) {
    if (d.orphan) continue;
    d.name = d.storedName !== undefined && !taken(d.storedName) ? d.storedName : quarantineName(d.ino, taken);
    damagedNames.set(d.name, d.ino);
  }
  let ownedCount = 0;
  for (const k of live) if (runs.ino[k] !== TABLE && status[runs.ino[k]!] === USED) ownedCount++;
  const owned = new Float64Array(2 * ownedCount);
  let ownedBlocks = 0;
  let at = 0;
  for (const k of live) {
    if (runs.ino[k] === TABLE || status[runs.ino[k]!] !== USED) continue;
    owned[at++] = runs.start[k]!;
    owned[at++] = runs.end[k]!;
    ownedBlocks += runs.end[k]! - runs.start[k]!;
  }
  const used: number[] = [];
  for (let ino = 0; ino < count; ino++) if (status[ino] === USED) used.push(ino);
  return {
    used,
    damaged: sorted,
    damagedNames,
    freeInodes,
    owned,
    ownedBlocks,
    orphans: orphans.filter((ino) => status[ino] === USED),
    pastEof: pastEof.filter((ino) => status[ino] === USED),
    generation,
  };
}

const USED = 1;
const DAMAGED = 2;

let scratchBlock: Buffer | undefined;

/** The inode in slot `ino`, decoded again with every check (a slot mount found in use); EUCLEAN when it fails one. */
export function decodeSlot(ino: number, table: ScanTable, g: ScanGeometry, read: (offset: number, target: Buffer) => void): Inode {
  const slot = Buffer.alloc(INODE_SIZE);
  read(table.offset(ino), slot);
  scratchBlock ??= Buffer.alloc(BLOCK);
  const inode = decodeStrict(slot, ino, g, (block, target) => read(block * BLOCK, target), scratchBlock);
  if (!inode) throw daxfsError('EUCLEAN', `inode ${ino}: in use at mount, free on media`);
  return inode;
}

/** Inode slots read at once by the scan: 64 KiB, a chunk of the table. */
const SCAN_BATCH = 128;

/** An inode slot decoded with every check (null: a free slot); EUCLEAN naming the first failure. `block4k`: scratch for extent blocks. */
function decodeStrict(slot: Buffer, ino: number, g: ScanGeometry, readBlock: (block: number, target: Buffer) => void, block4k: Buffer): Inode | null {
  const decoded = decodeInode(slot, ino);
  if (!decoded) return null;
  const inode = decoded.inode;
  let block = decoded.firstExtentBlock;
  while (inode.extents.length < decoded.extentCount) {
    if (block < g.dataStart || block >= g.nblocks || inode.extentBlocks.includes(block))
      throw daxfsError('EUCLEAN', `inode ${ino}: extent block ${block} is outside the data area or repeats (cycle)`);
    readBlock(block, block4k);
    const { extents, next } = decodeExtentBlock(block4k, ino, block);
    inode.extentBlocks.push(block);
    // one chunk per block, as on media (blocks may be partly filled): an edit then rewrites only its block
    inode.extents.appendBlock(extents, block);
    block = next;
  }
  if (inode.extents.length !== decoded.extentCount)
    throw daxfsError('EUCLEAN', `inode ${ino}: holds ${inode.extents.length} extents, records ${decoded.extentCount}`);
  let prevEnd = 0;
  for (const e of inode.extents) {
    const bad = (why: string) => daxfsError('EUCLEAN', `inode ${ino}: extent at file block ${e.fileBlock}: ${why}`);
    if (e.length < 1) throw bad('zero length');
    if (e.fileBlock < prevEnd) throw bad('overlaps or is out of order');
    if (e.poolBlock < g.dataStart || e.poolBlock + e.length > g.nblocks) throw bad(`pool blocks ${e.poolBlock}..${e.poolBlock + e.length} lie outside the data area`);
    if (e.fileBlock + e.length > 2 ** 32) throw bad('runs past the largest file');
    prevEnd = e.fileBlock + e.length;
  }
  return inode;
}

/** Owned runs, by index: start, end (exclusive) and owner (an inode number, or TABLE), in typed arrays grown by doubling (no object per run; blocks are 32-bit). */
class Runs {
  start: Uint32Array;
  end: Uint32Array;
  ino: Uint32Array;
  length = 0;

  constructor(capacity: number) {
    this.start = new Uint32Array(capacity);
    this.end = new Uint32Array(capacity);
    this.ino = new Uint32Array(capacity);
  }

  push(start: number, end: number, ino: number): void {
    if (this.length === this.start.length) {
      const grow = (a: Uint32Array) => {
        const next = new Uint32Array(2 * a.length);
        next.set(a);
        return next;
      };
      this.start = grow(this.start);
      this.end = grow(this.end);
      this.ino = grow(this.ino);
    }
    this.start[this.length] = start;
    this.end[this.length] = end;
    this.ino[this.length++] = ino;
  }

  /** Indices of the runs whose owner `keep` accepts, sorted by start, then end. */
  sorted(keep: (ino: number) => boolean): Uint32Array {
    let n = 0;
    for (let k = 0; k < this.length; k++) if (keep(this.ino[k]!)) n++;
    const out = new Uint32Array(n);
    n = 0;
    let inOrder = true;
    for (let k = 0; k < this.length; k++) {
      if (!keep(this.ino[k]!)) continue;
      if (n > 0 && this.before(k, out[n - 1]!)) inOrder = false;
      out[n++] = k;
    }
    // blocks are mostly handed out in inode order: often nothing to sort
    if (!inOrder) out.sort((a, b) => this.start[a]! - this.start[b]! || this.end[a]! - this.end[b]!);
    return out;
  }

  private before(a: number, b: number): boolean {
    return this.start[a]! < this.start[b]! || (this.start[a] === this.start[b] && this.end[a]! < this.end[b]!);
  }
}

/** The owner of the inode table's own blocks, in the runs: a file sharing them is damaged, the table is not. */
const TABLE = 0xffffffff;

/**
 * Blocks owned twice (by two files, or twice by one): every inode involved,
 * with the reason. A sweep over the sorted runs, keeping the runs still
 * open: in a sound pool that list holds one run at most, so this is O(n).
 */
function sharedBlocks(runs: Runs, order: Uint32Array, label: (ino: number) => string): Map<number, string> {
  const found = new Map<number, string>();
  let open: number[] = [];
  for (const r of order) {
    const start = runs.start[r]!;
    const end = runs.end[r]!;
    const ino = runs.ino[r]!;
    if (open.length > 0) open = open.filter((o) => runs.end[o]! > start);
    for (const o of open) {
      const what = `blocks ${start}..${Math.min(runs.end[o]!, end) - 1}`;
      const other = runs.ino[o]!;
      if (!found.has(ino)) found.set(ino, other === ino ? `${what} are owned twice by the file` : `${what} are also claimed by ${label(other)}`);
      if (!found.has(other)) found.set(other, `${what} are also claimed by ${label(ino)}`);
    }
    open.push(r);
  }
  return found;
}
