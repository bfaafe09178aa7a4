// pool.check() without its repairs, and its helpers: who owns which blocks,
// and how that compares with the on-media bitmap. The bitmap is compared a
// window at a time, so checking a 16 TiB pool needs memory for one window,
// not for the pool.
import type { Region } from '../region.js';
import type { BlockSet } from './block-set.js';
import { describeDamaged, type DamagedInode } from './damage.js';
import type { Run } from './extents.js';
import { checkName, FLAG_ORPHAN, type Inode } from './inode.js';
import { NameIndex } from './name-index.js';
import { isTemporaryName, temporaryIsLive } from './temporary.js';
import { BLOCK, SUPERBLOCK_BYTES, type Superblock } from './layout.js';

export type ProblemKind =
  | 'superblock'
  | 'journal'
  | 'leaked-blocks'
  | 'unmarked-blocks'
  | 'double-owner'
  | 'out-of-range'
  | 'free-count'
  | 'orphan'
  | 'temporary'
  | 'directory'
  /** The inode table's map on media does not read back as the table in use. */
  | 'inode-table'
  /** A file whose metadata fails its checks: a repair sets what can be recovered aside (lost+found.<inode>). */
  | 'damaged';

export interface Problem {
  kind: ProblemKind;
  message: string;
  /** check({ repair: true }) fixes it without guessing. */
  repairable: boolean;
  run?: Run;
  ino?: number;
}

export interface CheckReport {
  ok: boolean;
  problems: Problem[];
  /** Problems fixed by this call (repair mode). */
  repaired: Problem[];
  blocksChecked: number;
  filesChecked: number;
}

export interface OwnedRun extends Run {
  owner: string;
}

/** What check() found, and what its repair needs. */
export interface Inspection {
  problems: Problem[];
  leaked: Run[];
  unmarked: Run[];
  /** Unlinked files no handle holds: a repair frees them. */
  orphans: Inode[];
  /** Clear bits in the bitmap. */
  free: number;
  files: number;
}

/** What inspectPool looks at: the pool as mounted. */
export interface InspectSource {
  region: Region;
  sb: Superblock;
  /** Every undamaged inode in use (and a salvage mount's recovered views). */
  inodes: Iterable<Inode | undefined>;
  /** The name of the inode in use in slot `ino`, read again (a name seen twice by its hash: rare). */
  nameOf(ino: number): string | undefined;
  damaged: ReadonlyMap<number, DamagedInode>;
  /** Blocks damaged files may own: not leaked until a repair decides. */
  held: BlockSet;
  /** Every owned run (metadata, undamaged files). */
  runs: OwnedRun[];
  isOpen(ino: number): boolean;
  /** Whether a repair can set damaged files aside (not in salvage mounts). */
  damageRepairable: boolean;
  /** The inode table's chunks in use, and the same read back from the map on media (or why it cannot be). */
  table: { chunks: readonly number[]; onMedia: () => readonly number[] };
}

/**
 * The problems of the pool: superblocks, journal, names, orphans, damaged
 * files, blocks owned twice or past the end, the bitmap against the block
 * maps (leaked and unmarked blocks), the free count.
 */
export function inspectPool(src: InspectSource, onProgress: ((done: number, total: number) => void) | undefined): Inspection {
  const { region, sb, runs } = src;
  const problems: Problem[] = [];
  const primary = Buffer.alloc(SUPERBLOCK_BYTES);
  const backup = Buffer.alloc(SUPERBLOCK_BYTES);
  region.read(0, primary);
  region.read(BLOCK, backup);
  if (!backup.equals(primary)) problems.push({ kind: 'superblock', message: 'the backup superblock differs from the primary', repairable: true });
  if (region.load64(sb.journalStart * BLOCK + 64) !== 0n)
    problems.push({ kind: 'journal', message: 'the journal holds a committed transaction that was not cleared', repairable: false });

  try {
    const onMedia = src.table.onMedia();
    if (onMedia.length !== src.table.chunks.length || onMedia.some((c, k) => c !== src.table.chunks[k]))
      problems.push({ kind: 'inode-table', message: `the inode table map on media lists ${onMedia.length} chunks that differ from the ${src.table.chunks.length} in use`, repairable: false });
  } catch (e) {
    problems.push({ kind: 'inode-table', message: (e as Error).message, repairable: false });
  }

  let files = 0;
  const orphans: Inode[] = [];
  // names as a hash index, not a set of strings: a pool of tens of millions of files is checked in a few bytes per name
  const seen = new NameIndex(src.nameOf);
  for (const inode of src.inodes) {
    if (!inode || src.damaged.has(inode.ino)) continue; // a salvage mount's recovered view is reported as damaged below
    files++;
    const owner = `inode ${inode.ino}${inode.name ? ` ('${inode.name}')` : ''}`;
    if (inode.flags & FLAG_ORPHAN) {
      if (!src.isOpen(inode.ino)) {
        orphans.push(inode);
        problems.push({ kind: 'orphan', message: `${owner} is unlinked and not open: its blocks can be freed`, repairable: true, ino: inode.ino });
      }
      continue;
    }
    if (isTemporaryName(inode.name) && !temporaryIsLive(inode.name)) {
      orphans.push(inode);
      problems.push({ kind: 'temporary', message: `${owner} is the temporary of a process that is gone (an interrupted replace): its blocks can be freed`, repairable: true, ino: inode.ino });
    }
    try {
      checkName(inode.name, 'name', true);
    } catch (e) {
      problems.push({ kind: 'directory', message: `${owner}: ${(e as Error).message}`, repairable: false, ino: inode.ino });
    }
    if (seen.addNew(inode.name, inode.ino, src.nameOf) !== undefined) problems.push({ kind: 'directory', message: `name '${inode.name}' is used twice`, repairable: false, ino: inode.ino });
  }
  for (const d of src.damaged.values()) {
    files++;
    problems.push({ kind: 'damaged', message: describeDamaged(d), repairable: src.damageRepairable, ino: d.ino });
  }
  problems.push(...findOwnershipProblems(runs, sb.nblocks));

  const marked: Run[] = [];
  const unmarked: Run[] = [];
  const windowBlocks = 1 << 20;
  const cursor = { index: 0 };
  let free = 0;
  for (let start = 0; start < sb.nblocks; start += windowBlocks) {
    const blocks = Math.min(windowBlocks, sb.nblocks - start);
    const bytes = Math.ceil(blocks / 64) * 8;
    const view = region.view(sb.bitmapStart * BLOCK + start / 8, bytes);
    const words = new Uint32Array(view.buffer, view.byteOffset, bytes / 4);
    free += compareWindow(words, start, sb.nblocks, runs, cursor, marked, unmarked);
    onProgress?.(start + blocks, sb.nblocks);
  }
  // in use but nobody's — unless a damaged file may own them (a repair decides those)
  const leaked = src.held.size === 0 ? marked : marked.flatMap((r) => src.held.gaps(r.start, r.length));
  for (const r of leaked)
    problems.push({ kind: 'leaked-blocks', message: `blocks ${r.start}..${r.start + r.length - 1} are marked in use but belong to no file`, repairable: true, run: r });
  for (const r of unmarked)
    problems.push({ kind: 'unmarked-blocks', message: `blocks ${r.start}..${r.start + r.length - 1} belong to a file but are marked free`, repairable: true, run: r });
  if (free !== sb.freeBlocks) problems.push({ kind: 'free-count', message: `the block maps leave ${sb.freeBlocks} blocks free, the bitmap ${free}`, repairable: true });
  return { problems, leaked, unmarked, orphans, free, files };
}

/** Sorts runs and reports overlaps (blocks owned twice) and runs outside [0, nblocks). */
export function findOwnershipProblems(runs: OwnedRun[], nblocks: number): Problem[] {
  const problems: Problem[] = [];
  runs.sort((a, b) => a.start - b.start || a.length - b.length);
  let prev: OwnedRun | undefined;
  for (const r of runs) {
    if (r.start < 0 || r.start + r.length > nblocks) {
      problems.push({ kind: 'out-of-range', message: `${r.owner}: blocks ${r.start}..${r.start + r.length - 1} lie past the end of the pool (${nblocks} blocks)`, repairable: false, run: { start: r.start, length: r.length } });
    }
    if (prev && r.start < prev.start + prev.length) {
      const overlapEnd = Math.min(prev.start + prev.length, r.start + r.length);
      problems.push({
        kind: 'double-owner',
        message: `blocks ${r.start}..${overlapEnd - 1} are owned by both ${prev.owner} and ${r.owner}`,
        repairable: false,
        run: { start: r.start, length: overlapEnd - r.start },
      });
    }
    if (!prev || r.start + r.length > prev.start + prev.length) prev = r;
  }
  return problems;
}

/**
 * Compares bitmap words (32-bit, LSB first) covering blocks
 * [windowStart, windowStart + 32 * words.length) with the sorted owned runs.
 * Appends leaked (set, unowned) and unmarked (owned, clear) runs, and returns
 * the number of clear bits in the window below nblocks.
 */
export function compareWindow(
  words: Uint32Array,
  windowStart: number,
  nblocks: number,
  runs: readonly Run[],
  firstRun: { index: number },
  leaked: Run[],
  unmarked: Run[],
): number {
  const windowEnd = Math.min(windowStart + words.length * 32, nblocks);
  const expected = new Uint32Array(words.length);
  while (firstRun.index < runs.length && runs[firstRun.index]!.start + runs[firstRun.index]!.length <= windowStart) firstRun.index++;
  for (let i = firstRun.index; i < runs.length && runs[i]!.start < windowEnd; i++) {
    const r = runs[i]!;
    const from = Math.max(r.start, windowStart) - windowStart;
    const to = Math.min(r.start + r.length, windowEnd) - windowStart;
    for (let b = from; b < to; ) {
      const w = b >>> 5;
      const lo = b & 31;
      const hi = Math.min(32, to - w * 32);
      const mask = hi - lo === 32 ? 0xffffffff : ((1 << (hi - lo)) - 1) << lo;
      expected[w]! |= mask;
      b = w * 32 + hi;
    }
  }
  let free = 0;
  const push = (list: Run[], block: number) => {
    const last = list[list.length - 1];
    if (last && last.start + last.length === block) last.length++;
    else list.push({ start: block, length: 1 });
  };
  for (let w = 0; w < words.length; w++) {
    const base = windowStart + w * 32;
    if (base >= windowEnd) break;
    const valid = Math.min(32, windowEnd - base);
    const validMask = valid === 32 ? 0xffffffff : (1 << valid) - 1;
    const actual = words[w]! & validMask;
    const want = expected[w]! & validMask;
    free += valid - popcount(actual);
    if (actual === want) continue;
    const diff = (actual ^ want) >>> 0;
    for (let bit = 0; bit < valid; bit++) {
      if (!((diff >>> bit) & 1)) continue;
      if ((actual >>> bit) & 1) push(leaked, base + bit);
      else push(unmarked, base + bit);
    }
  }
  return free;
}

/** Set bits among blocks [start, start + length) of a bitmap (32-bit words, LSB first). */
export function countSet(words: Uint32Array, start: number, length: number): number {
  let n = 0;
  const end = start + length;
  for (let b = start; b < end; ) {
    const w = b >>> 5;
    const lo = b & 31;
    const hi = Math.min(32, end - w * 32);
    const mask = (hi - lo === 32 ? 0xffffffff : ((1 << (hi - lo)) - 1) << lo) >>> 0;
    n += popcount((words[w]! & mask) >>> 0);
    b = w * 32 + hi;
  }
  return n;
}

/** The runs of clear bits among blocks [start, start + length). */
export function clearRuns(words: Uint32Array, start: number, length: number): Run[] {
  const out: Run[] = [];
  for (let b = start; b < start + length; b++) {
    if ((words[b >>> 5]! >>> (b & 31)) & 1) continue;
    const last = out[out.length - 1];
    if (last && last.start + last.length === b) last.length++;
    else out.push({ start: b, length: 1 });
  }
  return out;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return (Math.imul(x, 0x01010101) >>> 24) & 0xff;
}
