// What every page of one mapping points at, and the MMU operations that
// change it (each a few mmap / mprotect calls over a run of pages). The
// tables are native memory shared with the native layer: its EFAULT checks
// and the fault service (native/fault_service.h), which serves plain loads
// and stores, read and change them too, so the fault handler and
// invalidation here decide without a native call and never see a stale page
// — even one an operation that failed part way left changed.
import type { MmuMapping } from '../mmu.js';
import { PAGE, PageState } from '../mmu.js';
import { BLOCK } from '../pool/layout.js';

export { PageState };

/** Counters shared by a mapping and its pool. */
export interface FaultStats {
  /** Faults that mapped existing data (a written block) without allocating. */
  minor: number;
  /** Write faults that allocated (or converted unwritten) blocks. */
  major: number;
  /** Faults answered with the zero source (holes and unwritten blocks). */
  zeroPage: number;
  /** Private copies made (copy-on-write faults). */
  copyOnWrite: number;
  /** Faults that mapped an aligned 2 MiB range at once. */
  huge: number;
  /** Runs of pages switched or torn down because another path changed the file. */
  invalidations: number;
  /** Faults refused past EOF (the SIGBUS analogue). */
  sigbus: number;
  /** MMU system calls (mmap / mprotect) made, as the native layer counts them. */
  mmuCalls: number;
}

export function emptyStats(): FaultStats {
  return { minor: 0, major: 0, zeroPage: 0, copyOnWrite: 0, huge: 0, invalidations: 0, sigbus: 0, mmuCalls: 0 };
}

/** The runs handed to native retarget, reused (it runs on every transaction of a mapped file). */
let scratch = new Float64Array(64);

export class PageTable {
  /** PageState per page. */
  readonly states: Uint8Array;
  /** Pool block per page for block states, -1 otherwise. */
  readonly blocks: Float64Array;

  /** What a transparent fault resolves each page to (native/fault_service.h): kept in step with the file by the pool. */
  readonly targets: Float64Array;

  constructor(
    readonly mmu: MmuMapping,
    readonly pages: number,
    private readonly counters: readonly FaultStats[],
  ) {
    // Native memory: the fault service changes states and blocks as it
    // serves plain accesses, and reads the targets.
    const tables = mmu.tables();
    this.states = tables.states;
    this.blocks = tables.blocks;
    this.targets = tables.targets;
    this.syscalls = mmu.stats().syscalls;
  }

  /** The native layer's system-call count, as far as this table has counted it. */
  private syscalls: number;

  private counted(calls: number): void {
    this.syscalls += calls;
    for (const c of this.counters) c.mmuCalls += calls;
  }

  /**
   * Runs one MMU operation over [page, page + count), counting the system
   * calls it made (the native layer records each page's new state and
   * block in the shared tables as it goes, so a failure part way leaves
   * them true).
   */
  private apply(op: () => number): void {
    try {
      this.counted(op());
    } catch (e) {
      this.counted(this.mmu.stats().syscalls - this.syscalls);
      throw e;
    }
  }

  mapBlocks(page: number, count: number, poolBlock: number, writable: boolean): void {
    this.apply(() => this.mmu.mapBlocks(page * PAGE, count * PAGE, poolBlock * BLOCK, writable));
  }

  /**
   * The zero source over the pages (see MmuMapping.mapZero). ENOMEM when its
   * VMAs run short: the 2 MiB windows before the refused one may be mapped.
   */
  mapZero(page: number, count: number): void {
    this.apply(() => this.mmu.mapZero(page * PAGE, count * PAGE));
  }

  /** Private writable pages holding a copy of pool blocks from `sourceBlock`, or zeros (-1). */
  mapPrivate(page: number, count: number, sourceBlock: number): void {
    this.apply(() => this.mmu.mapPrivate(page * PAGE, count * PAGE, sourceBlock < 0 ? undefined : sourceBlock * BLOCK));
  }

  /** Read-only block pages become writable (the state says which). */
  makeWritable(page: number, count: number): void {
    this.apply(() => this.mmu.protect(page * PAGE, count * PAGE, true));
  }

  unmap(page: number, count: number): void {
    this.apply(() => this.mmu.unmap(page * PAGE, count * PAGE));
  }

  /**
   * Sets the targets of pages [page, page + count) from the file's block
   * map over those file blocks (`runs`, holes included): what a plain
   * access there is served with from now on.
   */
  retarget(page: number, count: number, runs: readonly { fileBlock: number; length: number; poolBlock: number; unwritten: boolean }[]): void {
    if (scratch.length < runs.length * 4) scratch = new Float64Array(Math.max(runs.length * 4, scratch.length * 2));
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i]!;
      scratch[i * 4] = r.fileBlock;
      scratch[i * 4 + 1] = r.length;
      scratch[i * 4 + 2] = r.poolBlock;
      scratch[i * 4 + 3] = r.unwritten ? 1 : 0;
    }
    // In native code, under the fault service's lock: a thread serving a
    // fault never sees a half-written table, and a fill not adopted yet
    // keeps its block.
    this.mmu.retarget(page, count, scratch, runs.length);
  }

  /** Pages just before `page` (not below `floor`) that all satisfy `test`. */
  runBackWhere(page: number, floor: number, test: (state: number) => boolean): number {
    let i = page;
    while (i > floor && test(this.states[i - 1]!)) i--;
    return page - i;
  }

  /** Length of the run from `page` (below `end`) whose pages all satisfy `test`. */
  runWhere(page: number, end: number, test: (state: number) => boolean): number {
    let i = page;
    while (i < end && test(this.states[i]!)) i++;
    return i - page;
  }
}
