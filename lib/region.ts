// Region: a persistent-memory backing mapped once, with persistence
// primitives, zero-copy views and 8-byte atomics. A thin typed layer over
// the addon: every argument is checked (again) in native code.
import { Bitmap } from './bitmap.js';
import { describeCapabilities, type CapabilityReport } from './capabilities.js';
import { daxfsError } from './errors.js';
import { copiesOnLoop } from './loop-copies.js';
import { FaultReserve } from './fault-reserve.js';
import { MmuMapping } from './mmu.js';
import { addon, type FastCalls, type CopyProbe, type FaultMechanism, type FaultRoundTrip, type FirstTouch, type NativeRegion, type RegionStats } from './native.js';

export interface OpenOptions {
  /** Map read-only: writes fail with EROFS; views are private copy-on-write. */
  readOnly?: boolean;
  /** Fail with ENOTSUP unless the kernel grants MAP_SYNC. */
  requireMapSync?: boolean;
  /** Persist with msync even where cache flushing would do (testing, paranoia). */
  forceMsync?: boolean;
  /** Extra alignment for the region and its mappings (power of two >= page size). */
  align?: number;
  /**
   * Flush instruction to use instead of the best one the CPU offers:
   * 'clwb' | 'clflushopt' | 'clflush'. Defaults to the DAXFS_FLUSH environment variable.
   */
  flush?: string;
  /** Copy-ins of at least this many bytes use non-temporal stores (DAXFS_NT_THRESHOLD; default 256). */
  ntThreshold?: number;
  /** Where sysfs is mounted (tests point it at a fabricated tree). */
  sysfsRoot?: string;
}

export interface CreateOptions extends Omit<OpenOptions, 'readOnly'> {
  /** Permission bits of the new file (0 to 0o777), applied exactly; default 0o600. */
  mode?: number;
}

function nativeOptions(options: OpenOptions): Record<string, unknown> {
  const env = process.env;
  const threshold = options.ntThreshold ?? (env['DAXFS_NT_THRESHOLD'] ? Number(env['DAXFS_NT_THRESHOLD']) : undefined);
  const flush = options.flush ?? (env['DAXFS_FLUSH'] || undefined);
  return {
    readOnly: options.readOnly,
    requireMapSync: options.requireMapSync,
    forceMsync: options.forceMsync,
    align: options.align,
    flush,
    ntThreshold: threshold,
    sysfsRoot: options.sysfsRoot,
  };
}

export class Region {
  readonly #native: NativeRegion;
  // The data path: numbers go through #args, checked in native code like
  // every other argument. Calls whose arguments are not all numbers take the
  // ordinary methods, which report the precise type error.
  readonly #fast: FastCalls;
  readonly #args: Float64Array;
  // The region as ArrayBuffers: one when it fits the engine's limit, else
  // overlapping windows every #stride bytes, created on first use.
  readonly #windows: ArrayBuffer[] = [];
  readonly #stride: number;
  readonly #lastWindow: number;
  readonly #report: CapabilityReport;
  #closed = false;

  private constructor(path: string, options: Record<string, unknown>) {
    this.#native = new addon.Region(path, options);
    this.#report = describeCapabilities(this.#native.report());
    const windows = this.#native.viewWindows();
    this.#stride = windows.stride;
    this.#lastWindow = windows.count - 1;
    this.#fast = this.#native.fastCalls();
    this.#args = this.#fast.args;
  }

  /** Opens an existing file or device-dax instance; its size is the region's size. */
  static open(path: string, options: OpenOptions = {}): Region {
    return new Region(path, nativeOptions(options));
  }

  /**
   * Creates a new file of `size` bytes (a multiple of the page size); EEXIST
   * if it exists. The file gets exactly `mode` (default 0o600: private to its
   * owner), whatever the umask.
   */
  static create(path: string, size: number, options: CreateOptions = {}): Region {
    return new Region(path, { ...nativeOptions(options), create: true, size, mode: options.mode });
  }

  get path(): string { return this.#report.path; }
  get size(): number { return this.#report.size; }
  get readOnly(): boolean { return this.#report.readOnly; }
  get closed(): boolean { return this.#closed; }
  /** The capability report, fixed when the region was opened. */
  get capabilities(): CapabilityReport { return this.#report; }

  stats(): RegionStats { return this.#native.stats(); }

  /**
   * A zero-copy view of [offset, offset + length): loads and stores go
   * straight to the mapped backing. Stores are durable only after
   * persist(offset, length). After close() the view is detached (length 0).
   */
  view(offset: number, length: number): Buffer {
    if (typeof offset === 'number' && typeof length === 'number') {
      this.#args[0] = offset;
      this.#args[1] = length;
      this.#fast.checkView();
    } else {
      this.#native.checkView(offset, length);
    }
    const index = Math.min(Math.floor(offset / this.#stride), this.#lastWindow);
    let window = this.#windows[index];
    // A window has bytes until it is detached: by close() (checkView threw
    // above), or by JS moving its memory away with transfer(); the region
    // then hands out a fresh one.
    if (window === undefined || window.byteLength === 0) {
      window = this.#native.arrayBuffer(index);
      this.#windows[index] = window;
    }
    return Buffer.from(window, offset - index * this.#stride, length);
  }

  /**
   * A zero-copy view like view(), over its own ArrayBuffer of exactly that
   * range: for long-lived views of small parts of a large region (the engine
   * counts a whole ArrayBuffer as memory pressure, so the shared windows of a
   * large region cost garbage collections when first created). Detached on
   * close like every view.
   */
  dedicatedView(offset: number, length: number): Buffer {
    return Buffer.from(this.#native.rangeBuffer(offset, length));
  }

  /** Copies region bytes into `target`; returns the byte count. */
  read(offset: number, target: ArrayBufferView, targetOffset = 0, length?: number): number {
    const n = length !== undefined ? length : ArrayBuffer.isView(target) ? target.byteLength - targetOffset : 0;
    if (typeof offset === 'number' && typeof targetOffset === 'number' && typeof n === 'number') {
      const a = this.#args;
      a[0] = offset;
      a[1] = targetOffset;
      a[2] = n;
      this.#fast.read(target); // all or nothing: it throws or copies n bytes
      return n;
    }
    return this.#native.read(offset, target, targetOffset, n);
  }

  /**
   * Copies `source` into the region. With persist (the default) the bytes are
   * durable when this returns; large copies use non-temporal stores. With
   * 'flush' they are written back but not fenced: durable at this thread's
   * next fence (any persisting call, or drain()), for a caller whose next
   * step makes a barrier anyway.
   */
  write(offset: number, source: ArrayBufferView, sourceOffset = 0, length?: number, persist: boolean | 'flush' = true): number {
    const n = length !== undefined ? length : ArrayBuffer.isView(source) ? source.byteLength - sourceOffset : 0;
    if (typeof offset === 'number' && typeof sourceOffset === 'number' && typeof n === 'number' && (typeof persist === 'boolean' || persist === 'flush')) {
      const a = this.#args;
      a[0] = offset;
      a[1] = sourceOffset;
      a[2] = n;
      a[3] = persist === 'flush' ? 2 : persist ? 1 : 0;
      this.#fast.write(source); // all or nothing: it throws or copies n bytes
      return n;
    }
    return this.#native.write(offset, source, sourceOffset, n, persist);
  }

  /**
   * Copies `count` ranges of `source` into the region and persists them with
   * one barrier: `list` holds (regionOffset, sourceOffset, length) triples.
   * Every triple is checked before the first byte is copied. The journal
   * stages and applies its records with it: one call and one fence for many
   * small writes.
   */
  writeScatter(source: ArrayBufferView, list: Float64Array, count: number): void {
    this.#native.writeScatter(source, list, count);
  }

  /**
   * A redo-journal commit in one call (native/journal_commit.h has the
   * on-media layout and the barriers): the `count` records of `list`
   * ((targetOffset, sourceOffset, length) triples, their bytes in `staging`)
   * go to the journal body at `bodyOffset` with a checksummed header at
   * `headerOffset`; then the commit word (at headerOffset + 64) takes `seq`;
   * the records are applied in place, record `backupIndex` (when given) last
   * with a barrier of its own; the commit word is cleared. Every argument is
   * checked before the first store. `seals` (at least `count` entries, or
   * undefined) seals record i unless seals[i] is -1: its last 4 bytes go to
   * media as the CRC-32 of its other bytes, the 8 at offset seals[i] counted
   * as zeros. Returns the body's size. A thrown error has `committed`: true
   * when it came at or after the commit point (the transaction may be
   * durable, not known to be applied).
   */
  journalCommit(staging: ArrayBufferView, list: Float64Array, count: number, headerOffset: number, bodyOffset: number, seq: number, backupIndex?: number, seals?: Float64Array): number {
    return this.#native.journalCommit(staging, list, count, headerOffset, bodyOffset, seq, backupIndex, seals);
  }

  /**
   * writeScatter() into this process's private copy of a region opened
   * read-only (`capabilities.privateCopy`): the pages change for this opener
   * only and nothing reaches the backing. Read-only pool opens recover a
   * committed journal transaction this way. EINVAL on other regions.
   */
  writeScatterPrivate(source: ArrayBufferView, list: Float64Array, count: number): void {
    this.#native.writeScatter(source, list, count, true);
  }

  /**
   * write() as a promise: a copy over 1 MiB runs on a thread-pool thread,
   * so the main thread stays free during it; one of at most 1 MiB runs on
   * this thread, once its event loop has nothing else to do (no thread
   * hand-off: loop-copies.ts). The region stays
   * mapped until the copy is done, even if closed meanwhile; `source` must
   * not be changed until the promise settles.
   */
  writeAsync(offset: number, source: ArrayBufferView, sourceOffset = 0, length?: number, persist = true): Promise<number> {
    const n = length !== undefined ? length : ArrayBuffer.isView(source) ? source.byteLength - sourceOffset : 0;
    return this.#native.writeAsync(offset, source, sourceOffset, n, persist, copiesOnLoop(n));
  }

  /** read() as a promise, the copy run as writeAsync's is. */
  readAsync(offset: number, target: ArrayBufferView, targetOffset = 0, length?: number): Promise<number> {
    const n = length !== undefined ? length : ArrayBuffer.isView(target) ? target.byteLength - targetOffset : 0;
    return this.#native.readAsync(offset, target, targetOffset, n, copiesOnLoop(n));
  }

  /**
   * Takes an advisory lock on the backing (exclusive, or shared), held until
   * close or process exit. False when another opener holds a conflicting one.
   */
  lock(exclusive = true): boolean {
    return this.#native.lock(exclusive);
  }

  /**
   * Has the backing's file system allocate [offset, offset + length) now
   * (fallocate, the size unchanged), so that no store there can fault for
   * want of space: ENOSPC here instead of SIGBUS later. A region file is
   * created sparse; device-dax needs nothing.
   */
  reserve(offset: number, length: number): void {
    this.#native.reserve(offset, length);
  }

  /**
   * Fills this process's page tables for [offset, offset + length) (whole
   * pages) ahead of use, so that stores there take no first-touch fault
   * (madvise MADV_POPULATE_WRITE, Linux 5.14). On a hole of a sparse backing
   * it allocates the hole: populate only what is reserved. Returns false
   * when the kernel lacks the advice (nothing is done); EROFS on a
   * read-only region.
   */
  populate(offset: number, length: number): boolean {
    return this.#native.populate(offset, length);
  }

  /**
   * The first offset at or after `offset` that its file system has not
   * allocated (the size when there is none): [offset, result) cannot fault
   * for want of space.
   */
  backedUntil(offset: number): number {
    return this.#native.backedUntil(offset);
  }

  /** Bytes of the backing its file system has allocated (the whole size for device-dax). */
  backedBytes(): number {
    return this.#native.backedBytes();
  }

  /** Zeroes [offset, offset + length) with non-temporal stores; durable on return with persist. */
  zero(offset: number, length: number, persist = true): void {
    if (typeof offset === 'number' && typeof length === 'number' && typeof persist === 'boolean') {
      const a = this.#args;
      a[0] = offset;
      a[1] = length;
      a[2] = persist ? 1 : 0;
      return this.#fast.zero();
    }
    this.#native.zero(offset, length, persist);
  }

  /** Makes [offset, offset + length) durable: flush + fence, or msync in msync mode. */
  persist(offset: number, length: number): void {
    if (typeof offset === 'number' && typeof length === 'number') {
      this.#args[0] = offset;
      this.#args[1] = length;
      return this.#fast.persist();
    }
    this.#native.persist(offset, length);
  }

  /** Starts write-back of the range's cache lines (msync mode: writes the pages back). */
  flush(offset: number, length: number): void {
    if (typeof offset === 'number' && typeof length === 'number') {
      this.#args[0] = offset;
      this.#args[1] = length;
      return this.#fast.flush();
    }
    this.#native.flush(offset, length);
  }
  /** Waits for earlier flushes and non-temporal stores (store fence). */
  drain(): void { this.#native.drain(); }

  /** Atomic 8-byte load at an 8-byte aligned offset. */
  load64(offset: number): bigint { return this.#native.load64(offset); }
  /** Atomic 8-byte store, durable on return. */
  store64(offset: number, value: bigint | number): void {
    if (typeof offset === 'number' && typeof value === 'number') {
      this.#args[0] = offset;
      this.#args[1] = value;
      return this.#fast.store64();
    }
    this.#native.store64(offset, value);
  }
  /**
   * write() and persist, then an atomic 8-byte store of (high << 32) | low
   * at `wordOffset`, persisted: the bytes are durable before the word that
   * publishes them (the pool's appends and their size word). One call.
   */
  writePublish(offset: number, source: ArrayBufferView, sourceOffset: number, length: number, wordOffset: number, low: number, high: number): number {
    const a = this.#args;
    a[0] = offset;
    a[1] = sourceOffset;
    a[2] = length;
    a[3] = wordOffset;
    a[4] = low;
    a[5] = high;
    this.#fast.writePublish(source);
    return length;
  }

  /** Atomic 8-byte store of (high << 32) | low, durable on return: for words wider than a safe integer. */
  store64Parts(offset: number, low: number, high: number): void {
    this.#args[0] = offset;
    this.#args[1] = low;
    this.#args[2] = high;
    this.#fast.store64Parts();
  }
  /**
   * Atomic compare-and-swap; returns the previous value (equal to `expected`
   * when the swap happened, which is then durable on return).
   */
  cas64(offset: number, expected: bigint | number, desired: bigint | number): bigint {
    return this.#native.cas64(offset, expected, desired);
  }

  /** The block bitmap of `nbits` bits stored at `offset` (8-byte aligned). */
  bitmap(offset: number, nbits: number): Bitmap {
    return new Bitmap(this.#native, this.#fast, offset, nbits);
  }

  /**
   * Reserves `length` bytes of address space (a multiple of the region's
   * alignment) for a mapping whose pages the caller points at region blocks,
   * the zero source or private copies.
   */
  /**
   * Returns once no asynchronous copy in flight touches [offset, offset +
   * length): the pool calls it before blocks are freed.
   */
  waitIdle(offset: number, length: number): void { this.#native.waitIdle(offset, length); }

  /**
   * Benchmark helper: maps [offset, offset + length) of the backing afresh
   * with plain mmap and touches a byte every `stride` bytes, timing the
   * kernel's own first-touch faults in C.
   */
  firstTouch(offset: number, length: number, stride = 4096, write = false): FirstTouch {
    return this.#native.firstTouch(offset, length, stride, write);
  }

  /**
   * Benchmark helper: `pages` read faults on a fresh reserved range, each
   * resolved by the bare `mechanism` with the backing's pages from
   * `offset` (a userfaultfd handler thread, or a SIGSEGV handler installed
   * for the measurement only), timed in C: the floor a fault handler built
   * on it cannot beat. Throws the kernel's refusal (EPERM, ENOSYS) where
   * the mechanism is not available to this process.
   */
  faultRoundTrip(offset: number, pages: number, mechanism: FaultMechanism): FaultRoundTrip {
    return this.#native.faultRoundTrip(offset, pages, mechanism);
  }

  /**
   * Benchmark helper: `length` bytes copied between `buffer` and the region
   * at each of `offsets` (durably into the region with `write`, as write()
   * does; out of it otherwise, as read() does) in a C loop: the copy alone,
   * without JavaScript or a Node-API call per copy.
   */
  copyProbe(offsets: Float64Array, length: number, buffer: ArrayBufferView, write = false): CopyProbe {
    return this.#native.copyProbe(offsets, length, buffer, write);
  }

  /**
   * Testing: starts recording every store the engine makes to this region
   * through its primitives (with the bytes), every flush and every fence
   * (native/persist_trace.h documents the format). The crash-state
   * simulator rebuilds from it what a power failure could leave.
   */
  traceStart(): void { this.#native.traceStart(); }
  /** Testing: a marker in the trace (the simulator uses them for operation boundaries). */
  traceMark(value: number): void { this.#native.traceMark(value); }
  /** Testing: the trace recorded so far; with `stop`, recording ends. */
  traceTake(stop = false): Buffer { return this.#native.traceTake(stop); }

  createMapping(length: number): MmuMapping {
    if (this.#closed) throw daxfsError('EBADF', 'the region is closed');
    return new MmuMapping(new addon.Mapping(this.#native, length));
  }

  /** The blocks granted to the fault service of this region's mappings, and its adoption log. */
  faultReserve(): FaultReserve {
    if (this.#closed) throw daxfsError('EBADF', 'the region is closed');
    return new FaultReserve(this.#native);
  }


  /**
   * Releases every mapping made from this region and the region's own
   * mapping. Views and mapping buffers are detached first (length 0); the
   * addresses stay reserved and inaccessible while a buffer that escaped the
   * detach (by transfer()) exists, so none ever shows other memory.
   * Idempotent.
   */
  close(): void {
    this.#native.close();
    this.#closed = true;
  }
}
