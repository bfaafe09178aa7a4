// The fault handler: decides, for a range of a mapping's pages, what each
// page must point at, and has the MMU do it — the user-space twin of the
// kernel's DAX fault path.
//
//   beyond EOF                  → an error of its own (code 'SIGBUS')
//   read, hole or unwritten     → the zero source (nothing allocated)
//   read, written block         → the block, read-only (writable only on a
//                                 write fault, so dirty pages are known)
//   write, shared, written      → the block, writable
//   write, shared, hole         → allocate + zero + commit (durable) → writable
//   write, shared, unwritten    → zero + convert (durable) → writable
//   write, private              → a private copy of the block (or zeros)
//
// Read faults map as much of the run (extent or hole) as the mapping covers
// (fault-around), in one MMU call; where the file offset, the mapping address
// and the pool extent are all 2 MiB aligned and the extent covers the whole
// 2 MiB inside EOF, a fault maps that 2 MiB at once (the PMD fault).
//
// Zeros take one VMA per 2 MiB window (lib/mmu.ts): when they run short
// (ENOMEM), a read fault maps only the window holding the faulting page, and
// fails with ENOMEM if even that is refused.
import { daxfsError, isDaxfsError } from '../errors.js';
import { isWritten, runAt } from '../pool/extents.js';
import type { Inode } from '../pool/inode.js';
import { PAGE } from '../mmu.js';
import { BLOCK } from '../pool/layout.js';
import { PageState, type FaultStats, type PageTable } from './page-table.js';

/** Pages in 2 MiB. */
export const HUGE_PAGES = (2 * 1024 * 1024) / PAGE;

export interface FaultHost {
  /** Allocates (zeroed, committed) up to `count` blocks for the hole at `fileBlock`. */
  allocateForFault(subject: FaultSubject, inode: Inode, fileBlock: number, count: number): { poolBlock: number; count: number };
  /** Zeroes and converts `count` unwritten blocks at `fileBlock` to written (committed). */
  convertForFault(subject: FaultSubject, inode: Inode, fileBlock: number, count: number): void;
}

/** What the fault handler needs of a mapping. */
export interface FaultSubject {
  readonly firstBlock: number;
  readonly blockCount: number;
  readonly shared: boolean;
  readonly writable: boolean;
  /** Most pages a read fault maps (a window aligned to its size; Infinity: the whole run). */
  readonly faultAround: number;
  /** Whether 2 MiB faults are possible (allowed, and offset and address aligned). */
  readonly hugeCapable: boolean;
  readonly table: PageTable;
  /** The mapping's counters and its pool's. */
  readonly counters: readonly FaultStats[];
  readonly host: FaultHost;
  /** The file's current inode (EBADF when the mapping is gone). */
  inode(): Inode;
}

function count(subject: FaultSubject, key: keyof FaultStats, n = 1): void {
  for (const c of subject.counters) c[key] += n;
}

/** Pages of the mapping inside EOF (the page holding the last byte counts). */
export function pagesInsideEof(subject: FaultSubject, inode: Inode): number {
  return Math.max(0, Math.min(subject.blockCount, Math.ceil(inode.size / BLOCK) - subject.firstBlock));
}

function sigbus(subject: FaultSubject, page: number, inode: Inode): Error {
  count(subject, 'sigbus');
  const offset = (subject.firstBlock + page) * BLOCK;
  return daxfsError(
    'SIGBUS',
    `mapping offset ${page * PAGE} (file offset ${offset}) is past the end of '${inode.name}' (${inode.size} bytes): ` +
      'the page does not exist (the SIGBUS of a real mapping)',
  );
}

/**
 * Faults pages [page, page + pages) for reading or writing; returns when
 * every one of them is accessible that way. Throws SIGBUS past EOF, EACCES
 * for a write to a read-only mapping, ENOSPC when a hole cannot be filled
 * (the pages before it are then mapped).
 */
export function fault(subject: FaultSubject, page: number, pages: number, write: boolean): void {
  if (write && !subject.writable)
    throw daxfsError('EACCES', `the mapping is read-only: no write fault at mapping offset ${page * PAGE}`);
  const end = page + pages;
  const states = subject.table.states;
  let p = page;
  while (p < end) {
    const s = states[p]!;
    if (write ? s === PageState.blockWrite || s === PageState.privateWrite : s !== PageState.none) {
      p++;
      continue;
    }
    // Re-read the inode for every run: an allocation just committed replaced it.
    const inode = subject.inode();
    const eofPages = pagesInsideEof(subject, inode);
    if (p >= eofPages) throw sigbus(subject, p, inode);
    p += write ? writeRun(subject, inode, p, Math.min(end, eofPages), eofPages) : readRun(subject, inode, p, end, eofPages);
  }
}

/** The aligned 2 MiB window holding `page` if a huge fault may map it whole, else -1. */
function hugeWindow(subject: FaultSubject, page: number, eofPages: number): number {
  if (!subject.hugeCapable) return -1;
  const w = page - (page % HUGE_PAGES);
  if (w + HUGE_PAGES > eofPages) return -1;
  const states = subject.table.states;
  for (let i = w; i < w + HUGE_PAGES; i++) if (states[i] !== PageState.none) return -1;
  return w;
}

/** Maps pages from `page` for reading (with fault-around); returns the pages handled from `page`. */
function readRun(subject: FaultSubject, inode: Inode, page: number, end: number, eofPages: number): number {
  const table = subject.table;
  const fb = subject.firstBlock + page;
  // The run: same extent (or same hole), inside the mapping and EOF, pages
  // not mapped yet, at most the fault-around beyond what was asked.
  const run = inode.extents.runAt(fb);
  const written = isWritten(run);
  const runStart = run.fileBlock;
  const runEnd = run.fileBlock + run.length;
  // The fault-around window: aligned to its own size, like the kernel's.
  const around = subject.faultAround;
  const windowStart = around === Infinity ? 0 : page - (page % around);
  const windowEnd = around === Infinity ? Infinity : windowStart + around;
  let limit = Math.min(eofPages, runEnd - subject.firstBlock, Math.max(end, windowEnd));
  let from = page - subject.table.runBackWhere(page, Math.max(windowStart, runStart - subject.firstBlock, 0), (s) => s === PageState.none);
  const w = hugeWindow(subject, page, eofPages);
  if (w >= 0) {
    const wStart = subject.firstBlock + w;
    const covers = runStart <= wStart && runEnd >= wStart + HUGE_PAGES;
    const poolAligned = !written || (run.poolBlock + (wStart - runStart)) % HUGE_PAGES === 0;
    if (covers && poolAligned) {
      from = Math.min(from, w);
      limit = Math.max(limit, w + HUGE_PAGES);
      count(subject, 'huge');
    }
  }
  // states[page] is none, and every page of a huge window is none too.
  const to = page + table.runWhere(page, limit, (s) => s === PageState.none);
  if (written) {
    table.mapBlocks(from, to - from, run.poolBlock + (subject.firstBlock + from - runStart), false);
    count(subject, 'minor');
    return to - page;
  }
  const mapped = mapZeroRun(subject, page, from, to);
  count(subject, 'zeroPage');
  return mapped - page;
}

/**
 * Shows zeros over [from, to) (pages all none, `page` among them); returns
 * where the pages mapped from `page` end. Short of VMAs, only the 2 MiB
 * window holding `page` is mapped (the rest faults later, window by window).
 */
function mapZeroRun(subject: FaultSubject, page: number, from: number, to: number): number {
  const table = subject.table;
  try {
    table.mapZero(from, to - from);
    return to;
  } catch (e) {
    if (!isDaxfsError(e) || e.code !== 'ENOMEM') throw e;
    // The windows before the refused one were mapped: `page` may be among them.
    if (table.states[page] !== PageState.none) return page + table.runWhere(page, to, (s) => s === PageState.zero);
    const start = Math.max(from, page - (page % HUGE_PAGES));
    const end = Math.min(to, page - (page % HUGE_PAGES) + HUGE_PAGES);
    if (start === from && end === to) throw noZeroWindow(subject, page, e);
    try {
      table.mapZero(start, end - start);
    } catch (again) {
      if (!isDaxfsError(again) || again.code !== 'ENOMEM') throw again;
      throw noZeroWindow(subject, page, again);
    }
    return end;
  }
}

function noZeroWindow(subject: FaultSubject, page: number, cause: Error): Error {
  const error = daxfsError(
    'ENOMEM',
    `cannot show the hole at mapping offset ${page * PAGE} (file offset ${(subject.firstBlock + page) * BLOCK}): ` +
      `no VMA is left for even its 2 MiB window (${cause.message}); unmap mappings, or raise the zero-source limit ` +
      '(setZeroSourceLimit) or vm.max_map_count',
  );
  error.cause = cause;
  return error;
}

/** Makes pages from `page` (below `end` ≤ EOF) writable; returns the pages handled from `page`. */
function writeRun(subject: FaultSubject, inode: Inode, page: number, end: number, eofPages: number): number {
  const table = subject.table;
  const fb = subject.firstBlock + page;
  const e = inode.extents.runAt(fb);
  const runEnd = e.fileBlock + e.length - subject.firstBlock;
  const stop = Math.min(end, runEnd);
  if (!subject.shared) {
    // Copy on write: the file never changes through a private mapping.
    const n = table.runWhere(page, stop, (s) => s !== PageState.privateWrite);
    table.mapPrivate(page, n, isWritten(e) ? e.poolBlock + (fb - e.fileBlock) : -1);
    count(subject, 'copyOnWrite');
    return n;
  }
  if (isWritten(e)) {
    if (table.states[page] === PageState.blockRead) {
      const n = table.runWhere(page, stop, (s) => s === PageState.blockRead);
      table.makeWritable(page, n);
      count(subject, 'minor');
      return n;
    }
    const w = hugeWindow(subject, page, eofPages);
    if (w >= 0) {
      const wStart = subject.firstBlock + w;
      if (e.fileBlock <= wStart && e.fileBlock + e.length >= wStart + HUGE_PAGES && (e.poolBlock + (wStart - e.fileBlock)) % HUGE_PAGES === 0) {
        table.mapBlocks(w, HUGE_PAGES, e.poolBlock + (wStart - e.fileBlock), true);
        count(subject, 'huge');
        count(subject, 'minor');
        return w + HUGE_PAGES - page;
      }
    }
    const n = table.runWhere(page, stop, (s) => s === PageState.none || s === PageState.zero);
    table.mapBlocks(page, n, e.poolBlock + (fb - e.fileBlock), true);
    count(subject, 'minor');
    return n;
  }
  // A hole or unwritten blocks: the fill is durable before the fault returns
  // (the MAP_SYNC contract), and every other mapping showing zeros
  // here is switched to the new block before that (by the pool's commit).
  if (e.poolBlock >= 0) {
    const n = stop - page;
    subject.host.convertForFault(subject, inode, fb, n);
    table.mapBlocks(page, n, e.poolBlock + (fb - e.fileBlock), true);
    count(subject, 'major');
    return n;
  }
  const run = subject.host.allocateForFault(subject, inode, fb, stop - page);
  table.mapBlocks(page, run.count, run.poolBlock, true);
  count(subject, 'major');
  return run.count;
}
