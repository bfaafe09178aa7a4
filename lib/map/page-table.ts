// What every page of one mapping points at, kept on the TypeScript side so
// that the fault handler and invalidation decide without a native call, and
// the MMU operations that change it (each a few mmap / mprotect calls over a
// run of pages; the native layer keeps its own copy for its EFAULT checks,
// and is read back when an operation fails part way).
import type { MmuMapping } from '../mmu.js';
import { PAGE, PageState, type PageStateValue } from '../mmu.js';
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

export class PageTable {
  /** PageState per page. */
  readonly states: Uint8Array;
  /** Pool block per page for block states, -1 otherwise. */
  readonly blocks: Float64Array;

  constructor(
    readonly mmu: MmuMapping,
    readonly pages: number,
    private readonly counters: readonly FaultStats[],
  ) {
    this.states = new Uint8Array(pages);
    this.blocks = new Float64Array(pages).fill(-1);
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
   * calls it made; when it fails, the pages take the states the native
   * table reports (an operation in several system calls may have done part
   * of its work).
   */
  private apply(page: number, count: number, op: () => number): void {
    try {
      this.counted(op());
    } catch (e) {
      this.counted(this.mmu.stats().syscalls - this.syscalls);
      this.resync(page, count);
      throw e;
    }
  }

  private resync(page: number, count: number): void {
    const native = this.mmu.states(page * PAGE, count * PAGE);
    for (let i = 0; i < count; i++) {
      if (native[i] === this.states[page + i]) continue;
      this.states[page + i] = native[i]!;
      this.blocks[page + i] = -1;
    }
  }

  private set(page: number, count: number, state: PageStateValue, poolBlock: number): void {
    this.states.fill(state, page, page + count);
    if (poolBlock < 0) this.blocks.fill(-1, page, page + count);
    else for (let i = 0; i < count; i++) this.blocks[page + i] = poolBlock + i;
  }

  mapBlocks(page: number, count: number, poolBlock: number, writable: boolean): void {
    this.apply(page, count, () => this.mmu.mapBlocks(page * PAGE, count * PAGE, poolBlock * BLOCK, writable));
    this.set(page, count, writable ? PageState.blockWrite : PageState.blockRead, poolBlock);
  }

  /**
   * The zero source over the pages (see MmuMapping.mapZero). ENOMEM when its
   * VMAs run short: the 2 MiB windows before the refused one may be mapped.
   */
  mapZero(page: number, count: number): void {
    this.apply(page, count, () => this.mmu.mapZero(page * PAGE, count * PAGE));
    this.set(page, count, PageState.zero, -1);
  }

  /** Private writable pages holding a copy of pool blocks from `sourceBlock`, or zeros (-1). */
  mapPrivate(page: number, count: number, sourceBlock: number): void {
    this.apply(page, count, () => this.mmu.mapPrivate(page * PAGE, count * PAGE, sourceBlock < 0 ? undefined : sourceBlock * BLOCK));
    this.set(page, count, PageState.privateWrite, -1);
  }

  /** Read-only block pages become writable (the state says which). */
  makeWritable(page: number, count: number): void {
    this.apply(page, count, () => this.mmu.protect(page * PAGE, count * PAGE, true));
    this.states.fill(PageState.blockWrite, page, page + count);
  }

  unmap(page: number, count: number): void {
    this.apply(page, count, () => this.mmu.unmap(page * PAGE, count * PAGE));
    this.set(page, count, PageState.none, -1);
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
