// MMU primitives: a reserved virtual range whose pages are pointed, one run
// at a time, at region blocks, the zero source or private copies. The fault
// handler (lib/map/fault.ts) decides; this only does. Every operation
// returns the system calls it made.
//
// The zero source is one sealed, zero-filled 2 MiB memfd per process, mapped
// read-only wherever a hole is shown: its pages exist once, so a hole costs
// no memory however many mappings show it, whatever the kernel does with
// read faults on anonymous memory. Each run of zero (or torn-down) pages
// inside one 2 MiB-aligned window of the address space is one kernel VMA of
// the source, counted against a process-wide limit (below) so that holes
// cannot use up vm.max_map_count, which the rest of the process (the JS heap
// among it) needs too: past the limit mapZero fails with ENOMEM, changing
// nothing.
//
// Direct access through `buffer`: a page is usable only in the state it was
// put in. Loads from 'none' pages and stores to read-only pages (zeros,
// read-only blocks) raise SIGSEGV in the process: the buffer is raw virtual
// memory. Native I/O given a buffer inside a mapping checks the page states
// and fails with EFAULT instead.
import { addon, type KernelVma, type MappingTables, type MmuStats, type NativeMapping, type ServedFaults, type ZeroSourceInfo } from './native.js';

/**
 * The MMU page file mappings are made of: a mapping's offsets, lengths and
 * page indexes are in these units. A name of its own, apart from the pool's
 * block (BLOCK, lib/pool/layout.ts), though both are 4 KiB today: one
 * mapping page shows one file block (lib/map/mapping.ts relies on it), and
 * larger MMU units would change this, not the pool's format.
 */
export const PAGE = 4096;

export const PageState = {
  none: 0,
  zero: 1,
  blockRead: 2,
  blockWrite: 3,
  privateRead: 4,
  privateWrite: 5,
} as const;
export type PageStateValue = (typeof PageState)[keyof typeof PageState];

/**
 * The name of each state by value ('block-read' for blockRead): the names
 * FileMapping.pageStates() reports and native errors use. Native code has
 * its own enum (native/page_state.h); a test holds the two tables equal.
 */
export const PAGE_STATE_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [key, value] of Object.entries(PageState)) names[value] = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return names;
})();

export class MmuMapping {
  readonly #native: NativeMapping;
  readonly #buffer: ArrayBuffer;
  /** Bytes reserved. */
  readonly length: number;
  /** Granularity of every operation: the page size, or the device-dax alignment. */
  readonly unit: number;

  constructor(native: NativeMapping) {
    this.#native = native;
    this.#buffer = native.buffer();
    const info = native.info();
    this.length = info.length;
    this.unit = info.unit;
  }

  /** One ArrayBuffer over the whole range; detached (length 0) once released. */
  get buffer(): ArrayBuffer { return this.#buffer; }
  get released(): boolean { return this.#native.info().released; }
  /** Alignment of the range's start address (for huge mappings). */
  get addressAlign(): number { return this.#native.info().addressAlign; }

  /** Points [offset, offset + length) at region bytes [regionOffset, ...). */
  mapBlocks(offset: number, length: number, regionOffset: number, writable = false): number {
    return this.#native.mapBlocks(offset, length, regionOffset, writable);
  }

  /**
   * Points [offset, offset + length) at the zero source, read-only: no
   * memory, no pool space. Pages where the source is mapped already
   * (torn down since) take an mprotect; elsewhere one mmap per 2 MiB window,
   * or — for a run covering part of a window of torn-down pages — an mmap of
   * the whole window, inaccessible, and an mprotect. ENOMEM when the zero
   * source's VMA limit would be passed (nothing changes) or the kernel's
   * (the windows before the refused one are then mapped).
   */
  mapZero(offset: number, length: number): number {
    return this.#native.mapZero(offset, length);
  }

  /** Private writable pages holding a copy of region bytes at `sourceRegionOffset`, or zeros. */
  mapPrivate(offset: number, length: number, sourceRegionOffset?: number): number {
    return this.#native.mapPrivate(offset, length, sourceRegionOffset);
  }

  /** Changes protection of pages that hold region blocks or private copies. */
  protect(offset: number, length: number, writable: boolean): number {
    return this.#native.protect(offset, length, writable);
  }

  /**
   * Tears [offset, offset + length) down: inaccessible, still reserved. No
   * system call when it is already; an mprotect where every page shows the
   * zero source (it stays mapped, inaccessible); else an mmap.
   */
  unmap(offset: number, length: number): number {
    return this.#native.unmap(offset, length);
  }

  /** Page states of [offset, offset + length), one entry per unit. */
  states(offset = 0, length = this.length): PageStateValue[] {
    return Array.from(this.#native.states(offset, length)) as PageStateValue[];
  }

  /** What the kernel reports for this range (/proc/self/smaps), one entry per VMA. */
  kernelView(): KernelVma[] { return this.#native.kernelView(); }

  stats(): MmuStats { return this.#native.stats(); }

  /**
   * Detaches the buffer and tears the whole range down; the addresses are
   * given back once no buffer over them (one made by transfer()) is left.
   * Idempotent.
   */
  release(): void { this.#native.release(); }

  /**
   * What the one line written before the process ends on a bad access
   * (SIGSEGV: a page not faulted in, or a store to a page not writable;
   * SIGBUS: a page the backing cannot supply) calls this mapping.
   */
  setLabel(label: string): void { this.#native.setLabel(label); }

  /**
   * Pages from mapping offset `offset` on lie wholly past the end of the
   * file this mapping shows: a plain access there ends the process by
   * SIGBUS (after its line), as the kernel's does, not by SIGSEGV.
   */
  setEndOfFile(offset: number): void { this.#native.setEndOfFile(offset); }

  /**
   * The page states, the block each page shows and the targets of
   * transparent faults: typed arrays over native memory, shared with the
   * fault service (which changes states and blocks while serving).
   */
  tables(): MappingTables { return this.#native.tables(); }

  /**
   * From now on a plain load or store on a page this mapping does not show
   * is served by the fault service from the targets (native/fault_service.h)
   * instead of ending the process: `group` names the file (mappings of one
   * group switch together when a hole is filled), `firstBlock` is the file
   * block of page 0, `faultAround` the pages a load maps at most (0: the
   * whole run); with `userfaultfd`, pages showing nothing go through the
   * service's userfaultfd (native/uffd_service.h), so system calls touching
   * them are served too.
   */
  publish(group: number, firstBlock: number, shared: boolean, writable: boolean, faultAround: number, userfaultfd = false): void {
    this.#native.publish(group, firstBlock, shared, writable, faultAround, userfaultfd);
  }

  /**
   * Sets the targets of pages [page, page + count) from the first `nruns`
   * runs of `runs` (fileBlock, length, poolBlock — -1 for a hole — and
   * unwritten (1/0), four numbers per run), under the fault service's lock;
   * fills not adopted yet keep their blocks.
   */
  retarget(page: number, count: number, runs: Float64Array, nruns = runs.length / 4): void { this.#native.retarget(page, count, runs, nruns); }

  /** Plain accesses the fault service served in this mapping. */
  servedStats(): ServedFaults { return this.#native.servedStats(); }
}

/**
 * The share of vm.max_map_count the zero source may hold by default. Its
 * VMAs also split the reservation's inaccessible VMA around them, so they
 * can cost up to twice their count: a quarter leaves at least half of the
 * process's VMAs to everything else — the JS heap, whose growth fails
 * fatally without one.
 */
export const ZERO_SOURCE_SHARE = 0.25;

/** The zero source and how many VMAs it holds now, process-wide. */
export function zeroSourceInfo(): ZeroSourceInfo {
  return addon.zeroSource();
}

/**
 * Sets the most VMAs the zero source may hold in this process (all threads);
 * null leaves only the kernel's vm.max_map_count.
 */
export function setZeroSourceLimit(limit: number | null): void {
  addon.setZeroSourceLimit(limit === null ? Number.MAX_SAFE_INTEGER : limit);
}

// The default, unless a limit was set already (by another thread's copy of
// this module, or by the application).
if (addon.zeroSourceLimit() === null && addon.maxMapCount() > 0) setZeroSourceLimit(Math.floor(addon.maxMapCount() * ZERO_SOURCE_SHARE));
