// What a metadata change did to the pages that mappings may show: the file
// blocks that lost the pool block they had (punch hole, zero range, truncate:
// pages showing it must let go before the block is freed) and those that
// gained a written block where they had none (hole fill, unwritten
// conversion: pages showing zeros must be switched to it).
import type { ExtentMap } from '../pool/extent-map.js';
import { isWritten, type IoRun } from '../pool/extents.js';

export interface BlockRange {
  from: number;
  to: number;
}

export interface LayoutChanges {
  lost: BlockRange[];
  gained: BlockRange[];
}

/** The written pool block behind `fileBlock` (inside `run`), or -1 (hole or unwritten). */
function writtenBlock(run: IoRun, fileBlock: number): number {
  return isWritten(run) ? run.poolBlock + (fileBlock - run.fileBlock) : -1;
}

function add(ranges: BlockRange[], from: number, to: number): void {
  const last = ranges[ranges.length - 1];
  if (last && last.to === from) last.to = to;
  else ranges.push({ from, to });
}

/** Compares two versions of a block map over file blocks [from, to). */
export function layoutChanges(before: ExtentMap, after: ExtentMap, from: number, to: number): LayoutChanges {
  const lost: BlockRange[] = [];
  const gained: BlockRange[] = [];
  if (from >= to) return { lost, gained };
  const a = before.runsIn(from, to);
  const b = after.runsIn(from, to);
  // Walk both run lists together: within [p, q) neither has a boundary, so
  // one comparison covers it.
  for (let i = 0, j = 0, p = from; p < to; ) {
    const ra = a[i]!;
    const rb = b[j]!;
    const aEnd = ra.fileBlock + ra.length;
    const bEnd = rb.fileBlock + rb.length;
    const q = Math.min(aEnd, bEnd);
    const x = writtenBlock(ra, p);
    const y = writtenBlock(rb, p);
    if (x !== y) {
      if (x >= 0) add(lost, p, q);
      if (y >= 0) add(gained, p, q);
    }
    p = q;
    if (aEnd === q) i++;
    if (bEnd === q) j++;
  }
  return { lost, gained };
}
