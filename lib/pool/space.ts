// Space is real before it is promised. A pool's backing file may be sparse;
// a store into a page its file system cannot supply faults (SIGBUS) instead
// of failing a call. So a pool reserves its whole backing when it is
// formatted — or, formatted sparse on request, reserves each block's range
// as the allocator hands it out, before any byte is stored there and before
// the transaction that allocates it commits: a full file system then fails
// the operation with ENOSPC and changes nothing.
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';

import { DaxfsError, daxfsError, isDaxfsError } from '../errors.js';
import type { Region } from '../region.js';
import { formatSize } from '../units.js';
import { BLOCK } from './layout.js';
import type { RunBacking } from './allocator.js';
import type { Run } from './extents.js';

/** Bytes reserved per call while formatting: progress is reported between calls. */
const RESERVE_CHUNK = 64 << 20;

/** Free bytes an unprivileged writer has on the file system holding `path`; undefined when unknown. */
export function freeBytesFor(path: string): number | undefined {
  try {
    const fs = statfsSync(dirname(path));
    return fs.bavail * fs.bsize;
  } catch {
    return undefined;
  }
}

function noSpace(region: Region, what: string): Error {
  const free = freeBytesFor(region.path);
  const there = free === undefined ? '' : ` (${formatSize(free)} free there)`;
  return daxfsError('ENOSPC', `the file system holding '${region.path}' has no space for ${what}${there}`);
}

/**
 * Reserves [from, to) of the region's backing, in chunks, reporting
 * progress. ENOSPC says how much the file system has free; EOPNOTSUPP (a
 * file system that cannot reserve, such as ramfs) suggests a sparse pool,
 * or, when the reservation is `optional`, is no error.
 */
export function reserveBacking(region: Region, from: number, to: number, onProgress?: (done: number, total: number) => void, optional = false): void {
  for (let at = from; at < to; ) {
    const n = Math.min(RESERVE_CHUNK, to - at);
    try {
      region.reserve(at, n);
    } catch (e) {
      if (!isDaxfsError(e)) throw e;
      if (e.code === 'ENOSPC') throw noSpace(region, `a pool of ${formatSize(region.size)}: format a smaller pool, free space, or ask for a sparse pool (backed as blocks are allocated)`);
      if ((e.code === 'EOPNOTSUPP' || e.code === 'ENOTSUP') && optional) return;
      if (e.code === 'EOPNOTSUPP' || e.code === 'ENOTSUP')
        throw new DaxfsError(e.code, `the file system holding '${region.path}' cannot reserve space ahead of use (fallocate: ${e.code}): ask for a sparse pool`);
      throw e;
    }
    at += n;
    onProgress?.(at - from, to - from);
  }
}

/**
 * The backing of a sparse pool, reserved block run by block run as the
 * allocator hands runs out. Each call is one fallocate of the run's range;
 * ranges reserved before (by an earlier owner of the blocks) cost no space.
 */
export class SparseBacking implements RunBacking {
  /** The file system cannot reserve (EOPNOTSUPP): only the engine's fault handling is left. */
  private unsupported = false;

  constructor(private readonly region: Region) {}

  /** Reserves the backing of `run` (pool blocks), or throws ENOSPC naming the blocks. */
  reserve(run: Run): void {
    if (this.unsupported) return;
    try {
      this.region.reserve(run.start * BLOCK, run.length * BLOCK);
    } catch (e) {
      if (isDaxfsError(e) && e.code === 'ENOSPC')
        throw noSpace(this.region, `pool block${run.length === 1 ? ` ${run.start}` : `s ${run.start}..${run.start + run.length - 1}`} of this sparse pool`);
      if (isDaxfsError(e) && (e.code === 'EOPNOTSUPP' || e.code === 'ENOTSUP')) {
        this.unsupported = true;
        return;
      }
      throw e;
    }
  }

  /** @see RunBacking */
  backedPrefix(run: Run): number {
    const until = this.region.backedUntil(run.start * BLOCK);
    return Math.min(run.length, Math.floor(until / BLOCK) - run.start);
  }
}

/** Whether the region's backing has unreserved ranges (a sparse file): device-dax never has. */
export function isSparse(region: Region): boolean {
  return region.backedBytes() < region.size;
}
