// A file's block map: extents sorted by file block, never overlapping,
// adjacent compatible extents merged. Lookup is a binary search (O(log n)).
export interface Extent {
  fileBlock: number;
  poolBlock: number;
  length: number;
  /** Allocated but reads as zeros (posix_fallocate, zero range). */
  unwritten: boolean;
}

/**
 * Every extent object is made here, so that all of them share one hidden
 * class: lookups on the read/write fast path then stay monomorphic (spread
 * copies and literals from several sites made them megamorphic, about a
 * third of a 4 KiB overwrite's time in JS).
 */
export function makeExtent(fileBlock: number, poolBlock: number, length: number, unwritten: boolean): Extent {
  return { fileBlock, poolBlock, length, unwritten };
}

export function copyExtent(e: Extent): Extent {
  return makeExtent(e.fileBlock, e.poolBlock, e.length, e.unwritten);
}

export interface Run {
  start: number;
  length: number;
}

/** Index of the first extent whose end is after `fileBlock` (the one containing it, or the next). */
export function findIndex(extents: readonly Extent[], fileBlock: number): number {
  let lo = 0;
  let hi = extents.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = extents[mid]!;
    if (e.fileBlock + e.length <= fileBlock) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The extent containing `fileBlock`, or undefined for a hole. */
export function lookup(extents: readonly Extent[], fileBlock: number): Extent | undefined {
  const e = extents[findIndex(extents, fileBlock)];
  return e && e.fileBlock <= fileBlock ? e : undefined;
}

/** First file block at or after `fileBlock` that is mapped (Infinity when none). */
export function nextMapped(extents: readonly Extent[], fileBlock: number): number {
  const e = extents[findIndex(extents, fileBlock)];
  if (!e) return Infinity;
  return Math.max(e.fileBlock, fileBlock);
}

/** The end of the file block space: a hole past the last extent runs to here. */
export const FILE_BLOCKS_END = 2 ** 32;

/**
 * One run of a file's block map (the iomap of the kernel): `length` blocks
 * from `fileBlock` that are written blocks, unwritten (allocated, reading as
 * zeros) or a hole (`poolBlock` -1). Every reader of a layout — the data
 * path, faults, invalidation, mapping checks — walks these, not extents.
 */
export interface IoRun {
  fileBlock: number;
  length: number;
  /** Pool block behind `fileBlock`, -1 for a hole. */
  poolBlock: number;
  unwritten: boolean;
}

function makeRun(fileBlock: number, length: number, poolBlock: number, unwritten: boolean): IoRun {
  return { fileBlock, length, poolBlock, unwritten };
}

/** Whether the run holds written blocks (neither a hole nor unwritten). */
export function isWritten(run: IoRun): boolean {
  return run.poolBlock >= 0 && !run.unwritten;
}

/**
 * The whole run holding `fileBlock`: its extent, or the hole between the
 * extents around it (from the previous extent's end, or 0, to the next
 * one's start, or FILE_BLOCKS_END).
 */
export function runAt(extents: readonly Extent[], fileBlock: number): IoRun {
  const i = findIndex(extents, fileBlock);
  const e = extents[i];
  if (e && e.fileBlock <= fileBlock) return makeRun(e.fileBlock, e.length, e.poolBlock, e.unwritten);
  const prev = extents[i - 1];
  const start = prev ? prev.fileBlock + prev.length : 0;
  return makeRun(start, (e ? e.fileBlock : FILE_BLOCKS_END) - start, -1, false);
}

/** The runs covering file blocks [from, to), clipped to it, in order. */
export function runsIn(extents: readonly Extent[], from: number, to: number): IoRun[] {
  const out: IoRun[] = [];
  let fb = from;
  let i = findIndex(extents, from);
  while (fb < to) {
    const e = extents[i];
    if (e && e.fileBlock <= fb) {
      const end = Math.min(to, e.fileBlock + e.length);
      out.push(makeRun(fb, end - fb, e.poolBlock + (fb - e.fileBlock), e.unwritten));
      fb = end;
      i++;
    } else {
      const end = Math.min(to, e ? e.fileBlock : FILE_BLOCKS_END);
      out.push(makeRun(fb, end - fb, -1, false));
      fb = end;
    }
  }
  return out;
}

function mergeable(a: Extent, b: Extent): boolean {
  return a.fileBlock + a.length === b.fileBlock && a.poolBlock + a.length === b.poolBlock && a.unwritten === b.unwritten;
}

/** Merges neighbours around index range [from, to]. */
function mergeAround(extents: Extent[], from: number, to: number): void {
  for (let i = Math.min(to, extents.length - 1); i >= Math.max(from, 1); i--) {
    const a = extents[i - 1]!;
    const b = extents[i]!;
    if (mergeable(a, b)) {
      extents[i - 1] = { ...a, length: a.length + b.length };
      extents.splice(i, 1);
    }
  }
}

/** Inserts an extent over a hole (the caller guarantees no overlap). */
export function insert(extents: Extent[], e: Extent): void {
  const i = findIndex(extents, e.fileBlock);
  extents.splice(i, 0, copyExtent(e));
  mergeAround(extents, i, i + 1);
}

/**
 * Removes [start, end) from the map, splitting extents at the edges.
 * Returns the pool runs that were mapped there (to be freed).
 */
export function removeRange(extents: Extent[], start: number, end: number): Run[] {
  const freed: Run[] = [];
  let i = findIndex(extents, start);
  while (i < extents.length && extents[i]!.fileBlock < end) {
    const e = extents[i]!;
    const eEnd = e.fileBlock + e.length;
    const cutStart = Math.max(start, e.fileBlock);
    const cutEnd = Math.min(end, eEnd);
    freed.push({ start: e.poolBlock + (cutStart - e.fileBlock), length: cutEnd - cutStart });
    const pieces: Extent[] = [];
    if (e.fileBlock < cutStart) pieces.push(makeExtent(e.fileBlock, e.poolBlock, cutStart - e.fileBlock, e.unwritten));
    if (cutEnd < eEnd)
      pieces.push(makeExtent(cutEnd, e.poolBlock + (cutEnd - e.fileBlock), eEnd - cutEnd, e.unwritten));
    extents.splice(i, 1, ...pieces);
    i += pieces.length;
  }
  return freed;
}

/** Sets the unwritten flag of every mapped block in [start, end), splitting as needed. */
export function setUnwritten(extents: Extent[], start: number, end: number, unwritten: boolean): void {
  let i = findIndex(extents, start);
  const first = i;
  while (i < extents.length && extents[i]!.fileBlock < end) {
    const e = extents[i]!;
    if (e.unwritten === unwritten) {
      i++;
      continue;
    }
    const eEnd = e.fileBlock + e.length;
    const a = Math.max(start, e.fileBlock);
    const b = Math.min(end, eEnd);
    const pieces: Extent[] = [];
    if (e.fileBlock < a) pieces.push(makeExtent(e.fileBlock, e.poolBlock, a - e.fileBlock, e.unwritten));
    pieces.push(makeExtent(a, e.poolBlock + (a - e.fileBlock), b - a, unwritten));
    if (b < eEnd) pieces.push(makeExtent(b, e.poolBlock + (b - e.fileBlock), eEnd - b, e.unwritten));
    extents.splice(i, 1, ...pieces);
    i += pieces.length;
  }
  mergeAround(extents, first - 1, i);
}

/** Number of blocks mapped. */
export function mappedBlocks(extents: readonly Extent[]): number {
  let n = 0;
  for (const e of extents) n += e.length;
  return n;
}
