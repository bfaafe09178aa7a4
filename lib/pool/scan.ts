// The mount-time scan of the inode table: every slot below the high-water
// mark is decoded with every check; a slot that fails one — or whose name or
// blocks it shares with another file — becomes a damaged file, not a failed
// mount. O(metadata in use).
import { daxfsError, isDaxfsError } from '../errors.js';
import { damagedFrom, quarantineName, salvageInode, type DamagedInode } from './damage.js';
import { decodeExtentBlock, decodeInode, FLAG_ORPHAN, type Inode } from './inode.js';
import { BLOCK, INODE_SIZE } from './layout.js';

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
  /** Undamaged inodes by number (undefined: free or damaged). */
  inodes: (Inode | undefined)[];
  /** Damaged inodes by number, in ascending order. */
  damaged: Map<number, DamagedInode>;
  /** Names of undamaged, linked files. */
  names: Map<string, number>;
  /** Names damaged files are listed under. */
  damagedNames: Map<string, number>;
  /** Free slots, ascending. */
  freeInodes: number[];
  /** The blocks undamaged files own (extents and extent blocks), sorted by start: for the pool's record of owned blocks. */
  owned: { start: number; end: number }[];
}

/** Reads `count` inode slots (and their extent chains) through `read` and sorts them into undamaged, damaged and free. */
export function scanInodes(count: number, g: ScanGeometry, table: ScanTable, read: (offset: number, target: Buffer) => void): ScanResult {
  const inodes: (Inode | undefined)[] = [];
  const damaged = new Map<number, DamagedInode>();
  const freeInodes: number[] = [];
  const readBlock = (block: number, target: Buffer) => read(block * BLOCK, target);
  // The table is read a run of contiguous slots at a time (the fixed area,
  // then each chunk), not a slot per call; extent blocks share one buffer.
  const batch = Buffer.alloc(SCAN_BATCH * INODE_SIZE);
  const block = Buffer.alloc(BLOCK);
  for (let start = 0; start < count; ) {
    const first = table.offset(start);
    let n = 1;
    while (n < SCAN_BATCH && start + n < count && table.offset(start + n) === first + n * INODE_SIZE) n++;
    read(first, batch.subarray(0, n * INODE_SIZE));
    for (let j = 0; j < n; j++) {
      const ino = start + j;
      const slot = batch.subarray(j * INODE_SIZE, (j + 1) * INODE_SIZE);
      try {
        const inode = decodeStrict(slot, ino, g, readBlock, block);
        inodes.push(inode ?? undefined);
        if (!inode) freeInodes.push(ino);
      } catch (e) {
        if (!isDaxfsError(e) || e.code !== 'EUCLEAN') throw e;
        inodes.push(undefined);
        damaged.set(ino, salvageInode(slot, ino, e.message.replace(/^inode \d+: /, ''), g, readBlock));
      }
    }
    start += n;
  }
  const names = new Map<string, number>();
  const markDamaged = (ino: number, reason: string) => {
    const inode = inodes[ino];
    if (!inode) return;
    inodes[ino] = undefined;
    damaged.set(ino, damagedFrom(inode, reason));
  };
  // Two files with one name: nothing says which one the name belongs to.
  for (const inode of inodes) {
    if (!inode || inode.flags & FLAG_ORPHAN) continue;
    const other = names.get(inode.name);
    if (other === undefined) {
      names.set(inode.name, inode.ino);
      continue;
    }
    markDamaged(inode.ino, `name '${inode.name}' is also used by inode ${other}`);
    markDamaged(other, `name '${inode.name}' is also used by inode ${inode.ino}`);
  }
  const runs = ownedRunsSorted(inodes, table);
  const shared = sharedBlocks(runs, inodes);
  for (const [ino, reason] of shared) markDamaged(ino, reason);
  for (const [name, ino] of [...names]) if (!inodes[ino]) names.delete(name);
  // Damaged files are listed under their name when it is readable and free, else under a reserved one.
  const sorted = new Map([...damaged].sort((a, b) => a[0] - b[0]));
  const damagedNames = new Map<string, number>();
  const taken = (name: string) => names.has(name) || damagedNames.has(name);
  for (const d of sorted.values()) {
    if (d.orphan) continue;
    d.name = d.storedName !== undefined && !taken(d.storedName) ? d.storedName : quarantineName(d.ino, taken);
    damagedNames.set(d.name, d.ino);
  }
  return { inodes, damaged: sorted, names, damagedNames, freeInodes, owned: runs.filter((r) => r.ino !== TABLE && inodes[r.ino] !== undefined) };
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
    inode.extents.push(...extents);
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

interface InodeRun {
  start: number;
  end: number;
  ino: number;
}

/** The owner of the inode table's own blocks, in the runs: a file sharing them is damaged, the table is not. */
const TABLE = -1;

/** The blocks of every inode (extents and extent blocks) and of the table, sorted by start (O(n log n)). */
function ownedRunsSorted(inodes: readonly (Inode | undefined)[], table: ScanTable): InodeRun[] {
  const runs: InodeRun[] = table.runs().map((r) => ({ start: r.start, end: r.start + r.length, ino: TABLE }));
  for (const inode of inodes) {
    if (!inode) continue;
    for (const e of inode.extents) runs.push({ start: e.poolBlock, end: e.poolBlock + e.length, ino: inode.ino });
    for (const b of inode.extentBlocks) runs.push({ start: b, end: b + 1, ino: inode.ino });
  }
  return runs.sort((a, b) => a.start - b.start || a.end - b.end);
}

/**
 * Blocks owned twice (by two files, or twice by one): every inode involved,
 * with the reason. A sweep over the sorted runs, keeping the runs still
 * open: in a sound pool that list holds one run at most, so this is O(n).
 */
function sharedBlocks(runs: readonly InodeRun[], inodes: readonly (Inode | undefined)[]): Map<number, string> {
  const found = new Map<number, string>();
  const label = (ino: number) => (ino === TABLE ? 'the inode table' : `inode ${ino}${inodes[ino]!.name ? ` ('${inodes[ino]!.name}')` : ''}`);
  let open: InodeRun[] = [];
  for (const r of runs) {
    if (open.length > 0) open = open.filter((o) => o.end > r.start);
    for (const o of open) {
      const what = `blocks ${r.start}..${Math.min(o.end, r.end) - 1}`;
      if (!found.has(r.ino)) found.set(r.ino, o.ino === r.ino ? `${what} are owned twice by the file` : `${what} are also claimed by ${label(o.ino)}`);
      if (!found.has(o.ino)) found.set(o.ino, `${what} are also claimed by ${label(r.ino)}`);
    }
    open.push(r);
  }
  return found;
}
