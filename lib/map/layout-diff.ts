// What a metadata change did to the pages that mappings may show: the file
// blocks that lost the pool block they had (punch hole, zero range, truncate:
// pages showing it must let go before the block is freed) and those that
// gained a written block where they had none (hole fill, unwritten
// conversion: pages showing zeros must be switched to it).
import { findIndex, lookup, type Extent } from '../pool/extents.js';

export interface BlockRange {
  from: number;
  to: number;
}

export interface LayoutChanges {
  lost: BlockRange[];
  gained: BlockRange[];
}

/** The written pool block behind `fileBlock`, or -1 (hole or unwritten). */
function writtenBlock(extents: readonly Extent[], fileBlock: number): number {
  const e = lookup(extents, fileBlock);
  return e && !e.unwritten ? e.poolBlock + (fileBlock - e.fileBlock) : -1;
}

function boundaries(extents: readonly Extent[], from: number, to: number, into: number[]): void {
  for (let i = findIndex(extents, from); i < extents.length; i++) {
    const e = extents[i]!;
    if (e.fileBlock >= to) break;
    if (e.fileBlock > from) into.push(e.fileBlock);
    const end = e.fileBlock + e.length;
    if (end < to) into.push(end);
  }
}

function add(ranges: BlockRange[], from: number, to: number): void {
  const last = ranges[ranges.length - 1];
  if (last && last.to === from) last.to = to;
  else ranges.push({ from, to });
}

/** Compares two versions of a block map over file blocks [from, to). */
export function layoutChanges(before: readonly Extent[], after: readonly Extent[], from: number, to: number): LayoutChanges {
  const points = [from, to];
  boundaries(before, from, to, points);
  boundaries(after, from, to, points);
  points.sort((a, b) => a - b);
  const lost: BlockRange[] = [];
  const gained: BlockRange[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const p = points[i]!;
    const q = points[i + 1]!;
    if (p === q) continue;
    // Within [p, q) neither map has a boundary: one comparison covers it.
    const a = writtenBlock(before, p);
    const b = writtenBlock(after, p);
    if (a === b) continue;
    if (a >= 0) add(lost, p, q);
    if (b >= 0) add(gained, p, q);
  }
  return { lost, gained };
}
