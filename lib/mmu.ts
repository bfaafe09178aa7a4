// MMU primitives: a reserved virtual range whose pages are pointed, one run
// at a time, at region blocks, the shared zero page or private copies. The
// fault handler (a later layer) decides; this only does.
//
// Direct access through `buffer`: a page is usable only in the state it was
// put in. Loads from 'none' pages and stores to read-only pages (zero page,
// read-only blocks) raise SIGSEGV in the process: the buffer is raw virtual
// memory. Native I/O given a buffer inside a mapping checks the page states
// and fails with EFAULT instead.
import type { KernelVma, MmuStats, NativeMapping } from './native.js';

export const PageState = {
  none: 0,
  zero: 1,
  blockRead: 2,
  blockWrite: 3,
  privateRead: 4,
  privateWrite: 5,
} as const;
export type PageStateValue = (typeof PageState)[keyof typeof PageState];

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
  mapBlocks(offset: number, length: number, regionOffset: number, writable = false): void {
    this.#native.mapBlocks(offset, length, regionOffset, writable);
  }

  /** Points [offset, offset + length) at the shared zero page, read-only: no memory, no pool space. */
  mapZero(offset: number, length: number): void {
    this.#native.mapZero(offset, length);
  }

  /** Private writable pages holding a copy of region bytes at `sourceRegionOffset`, or zeros. */
  mapPrivate(offset: number, length: number, sourceRegionOffset?: number): void {
    this.#native.mapPrivate(offset, length, sourceRegionOffset);
  }

  /** Changes protection of pages that hold region blocks or private copies. */
  protect(offset: number, length: number, writable: boolean): void {
    this.#native.protect(offset, length, writable);
  }

  /** Tears [offset, offset + length) down: inaccessible, still reserved. */
  unmap(offset: number, length: number): void {
    this.#native.unmap(offset, length);
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
}
