// The pool's side of transparent faults (native/fault_service.h): what it
// grants the fault service ahead of time, and the adoption of what the
// service did with it.
//
// A plain store into a hole of a shared writable mapping is served without
// JavaScript: the service takes a block from the grant, zeroes it durably
// (non-temporal stores and a fence), maps it and logs it. The pool adopts
// every logged block into its file's block map — one transaction per file
// (in msync mode the blocks are written back first, so the journal's
// barrier orders them before the commit point) — on the next turn of the event loop
// (the service's wake-up) and, before that, at the start of every call on
// the pool, on any of its files, and in `persist` and `sync` of a mapping:
// so no call ever sees a hole where a store already landed, and after
// `persist` returns the stored bytes and their allocation are durable.
//
// Invariants: the grant is in memory only — its blocks stay free in the
// bitmap, and the allocator skips them (Allocator.granted) until they are
// adopted (then owned and marked by the adoption's commit) or taken back; a
// crash before adoption leaves them free, holding nothing anyone can read.
// The grant covers what live shared writable mappings could fill, up to a
// cap and to what is free; an allocation that finds no room takes back the
// unused part first (Allocator.onShort), and a store that then finds the
// grant empty ends its process with SIGBUS, as on a full file system.
import type { BlockRun, FaultAdoption, FaultReserve } from '../fault-reserve.js';
import { cloneInode, type Inode } from './inode.js';
import { makeExtent } from './extents.js';
import { BLOCK } from './layout.js';
import { commit } from './commit.js';
import type { PoolState } from './state.js';
import { Txn } from './txn.js';

/** The most blocks granted at once: 256 MiB of stores into holes between two turns of the event loop. */
export const MAX_GRANT_BLOCKS = 65536;
/** Room in the adoption log beyond the grant (conversions of unwritten blocks take no granted block). */
const LOG_SLACK = 4096;

export interface FaultService {
  readonly reserve: FaultReserve;
  /** Set while adopting: the adoption's own commit must not adopt again. */
  adopting: boolean;
  /** Entries taken from the log whose adoption failed: tried again first (their blocks stay granted). */
  unadopted: FaultAdoption[];
  /** Pages of the live shared writable mappings: what their stores could fill at most. */
  writablePages: number;
  /** Adopts what is pending when the process exits normally (process.exit, the loop running dry). */
  readonly onExit: () => void;
}

/** What adopts at exit, for every pool of this thread with a fault service (one 'exit' listener for all). */
const atExit = new Set<() => void>();
function adoptAllAtExit(): void {
  for (const adopt of atExit) adopt();
}

/** The pool's fault service, started on first use (a shared writable mapping). */
export function faultService(s: PoolState): FaultService {
  if (s.faults) return s.faults;
  const reserve = s.region.faultReserve();
  const onExit = () => {
    if (!s.closed && !s.stopped) adoptQuietly(s);
  };
  const service: FaultService = { reserve, adopting: false, unadopted: [], writablePages: 0, onExit };
  s.faults = service;
  s.allocator.onShort = () => takeBackGrant(s) > 0;
  reserve.onLogged(() => {
    if (s.closed || s.stopped) return;
    adoptQuietly(s);
    refillGrant(s, true);
  });
  if (atExit.size === 0) process.on('exit', adoptAllAtExit);
  atExit.add(onExit);
  return service;
}

/** Stops the service at close: what is pending is adopted (or, when that fails, lost as in a crash), the grant goes back. */
export function stopFaultService(s: PoolState): void {
  const f = s.faults;
  if (!f) return;
  adoptQuietly(s);
  takeBackGrant(s);
  f.reserve.onLogged(null);
  atExit.delete(f.onExit);
  if (atExit.size === 0) process.off('exit', adoptAllAtExit);
}

/** A shared writable mapping came or went (`pages`, negative when it went). */
export function writableMappingChanged(s: PoolState, pages: number): void {
  const f = faultService(s);
  f.writablePages += pages;
  if (f.writablePages === 0) takeBackGrant(s);
  else refillGrant(s, true);
}

/**
 * Adopts what is pending; a failure (no block left for the block map's
 * growth, say) leaves the entries for the next try, their blocks still
 * granted — so nothing else is handed them — and returns the error.
 */
export function adoptQuietly(s: PoolState): Error | undefined {
  try {
    adoptFaults(s);
    return undefined;
  } catch (e) {
    return e as Error;
  }
}

/**
 * Runs a change of file `ino`'s layout (`body`, given the file's current
 * inode) with the fault service held off the file's mappings on every
 * other thread — the kernel's invalidate lock, taken exclusive — and what
 * stores filled adopted first: no fill can land in a hole the change is
 * filling itself, or in blocks it frees, between its plan and its commit.
 * Without mappings (or without a fault service), just `body`.
 */
export function holdingFile<T>(s: PoolState, inode: Inode, body: (current: Inode) => T): T {
  const f = s.faults;
  if (!f || !s.spaces.has(inode.ino)) return body(inode);
  return f.reserve.holding(inode.ino, () => {
    adoptFaults(s);
    return body(s.inodes.get(inode.ino) ?? inode);
  });
}

/** Whether adoptions wait (a read of shared memory). */
export function faultsPending(s: PoolState): boolean {
  const f = s.faults;
  return f !== undefined && !f.adopting && (f.reserve.pending !== 0 || f.unadopted.length !== 0);
}

/**
 * Blocks the grant should hold: what the live shared writable mappings
 * could fill, capped, and leaving room for the block maps the adoption of
 * that many fills may have to grow (an extent block per 256 extents).
 */
function grantTarget(s: PoolState, f: FaultService): number {
  if (s.readOnly) return 0;
  const pages = Math.min(f.writablePages, MAX_GRANT_BLOCKS);
  const margin = 16 + Math.ceil(pages / 256);
  return Math.max(0, Math.min(pages, s.sb.freeBlocks - margin));
}

/** Whether the grant is below half of its target (a read of shared memory and a little arithmetic). */
export function grantLow(s: PoolState): boolean {
  const f = s.faults;
  return f !== undefined && f.writablePages !== 0 && f.reserve.left * 2 < grantTarget(s, f);
}

/**
 * Tops the grant up to its target (best effort: what the pool has free):
 * whenever it is short with `full` (after fills: the adoption's turn),
 * else only below half of it (fewer, larger runs; every call checks).
 */
export function refillGrant(s: PoolState, full = false): void {
  const f = s.faults;
  if (!f || s.closed) return;
  const target = grantTarget(s, f);
  // A fill that leaves less than half wakes the pool to refill.
  f.reserve.lowWater = Math.floor(target / 2);
  let want = target - f.reserve.left;
  if (want <= 0 || (!full && f.reserve.left * 2 >= target)) return;
  const runs: BlockRun[] = [];
  const onShort = s.allocator.onShort;
  s.allocator.onShort = undefined; // a grant never takes back a grant
  // From the end of the pool: allocations start from the cursor and go up,
  // so a grant there stays out of their way (a grant in their path would
  // scatter every file growing past it).
  let goal = Math.max(s.sb.dataStart, s.sb.nblocks - target);
  try {
    while (want > 0) {
      const run = s.allocator.allocateAside(goal, want, s.pins.held);
      if (!run) break;
      s.allocator.granted.add(run.start, run.length);
      runs.push({ start: run.start, length: run.length });
      want -= run.length;
      goal = run.start + run.length;
    }
  } catch {
    // a sparse pool whose file system is full: grant what was found
  } finally {
    s.allocator.onShort = onShort;
  }
  if (runs.length > 0) f.reserve.grant(runs, MAX_GRANT_BLOCKS + LOG_SLACK);
}

/** Takes back every granted block not used yet; returns how many. */
export function takeBackGrant(s: PoolState): number {
  const f = s.faults;
  if (!f) return 0;
  let n = 0;
  for (const run of f.reserve.revoke()) {
    s.allocator.granted.remove(run.start, run.length);
    n += run.length;
  }
  return n;
}

/**
 * Adopts every fill and conversion the fault service logged: each file's
 * entries in one transaction. The blocks are flushed first; the journal's
 * first barrier fences them before the commit point.
 */
export function adoptFaults(s: PoolState): void {
  const f = s.faults;
  if (!f || f.adopting || (f.reserve.pending === 0 && f.unadopted.length === 0)) return;
  const entries = f.unadopted.concat(f.reserve.takeAdoptions());
  f.unadopted = [];
  if (entries.length === 0) return;
  const byFile = new Map<number, FaultAdoption[]>();
  for (const e of entries) {
    let list = byFile.get(e.ino);
    if (!list) byFile.set(e.ino, (list = []));
    list.push(e);
  }
  f.adopting = true;
  const files = [...byFile];
  try {
    for (let k = 0; k < files.length; k++) {
      try {
        const [ino, list] = files[k]!;
        f.reserve.holding(ino, () => adoptFile(s, ino, list));
      } catch (e) {
        // Kept for the next try (an extent block could not be allocated,
        // say); the pages keep showing the blocks meanwhile.
        for (let j = k; j < files.length; j++) f.unadopted.push(...files[j]![1]);
        throw e;
      }
    }
  } finally {
    f.adopting = false;
  }
}

/** One file's entries, in one transaction. */
function adoptFile(s: PoolState, ino: number, list: FaultAdoption[]): void {
  const f = s.faults!;
  const msync = s.region.capabilities.persistence === 'msync';
  const inode = s.inodes.get(ino);
  if (!inode) {
    // Unreachable while a mapping holds the file open; a granted block is free anyway.
    for (const e of list) if (e.kind === 'fill') s.allocator.granted.remove(e.poolBlock, 1);
    return;
  }
  list.sort((a, b) => a.fileBlock - b.fileBlock);
  const next: Inode = cloneInode(inode);
  const txn = new Txn();
  const fills: BlockRun[] = [];
  let from = Infinity;
  let to = -Infinity;
  for (let i = 0; i < list.length; ) {
    const e = list[i]!;
    // a run of entries of one kind over consecutive file and pool blocks
    let n = 1;
    while (i + n < list.length) {
      const x = list[i + n]!;
      if (x.kind !== e.kind || x.fileBlock !== e.fileBlock + n || x.poolBlock !== e.poolBlock + n) break;
      n++;
    }
    const run = next.extents.runAt(e.fileBlock);
    if (e.kind === 'fill') {
      if (run.poolBlock < 0 && run.fileBlock + run.length >= e.fileBlock + n) {
        next.extents.insert(makeExtent(e.fileBlock, e.poolBlock, n, false));
        txn.allocated.push({ start: e.poolBlock, length: n });
        fills.push({ start: e.poolBlock, length: n });
      }
      // Else the file has a block there already — which the holds around
      // every layout change rule out. The granted block stays granted, so
      // nothing else is ever handed a block a page may still show.
    } else {
      next.extents.setUnwritten(e.fileBlock, e.fileBlock + n, false);
    }
    f.reserve.traced(e.poolBlock * BLOCK, n * BLOCK);
    // The service's zeroing is durable already (non-temporal stores, or
    // flushed, then a fence) where the CPU's caches are the way to media;
    // a page-cache backing needs it written back.
    if (msync) s.region.flush(e.poolBlock * BLOCK, n * BLOCK);
    from = Math.min(from, e.fileBlock);
    to = Math.max(to, e.fileBlock + n);
    i += n;
  }
  next.mtimeMs = Date.now();
  txn.put(next);
  txn.touch(ino, from, to);
  commit(s, txn);
  for (const r of fills) s.allocator.granted.remove(r.start, r.length);
}
