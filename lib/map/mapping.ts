// A mapping of a pool file: real virtual memory whose pages point straight
// into the pool's blocks, filled page by page by the fault handler.
//
// Loads and stores through `buffer` (or any typed array, DataView or Buffer
// over it) go to pmem with no software in between once a page is in, and
// bring it in themselves when it is not, as on a kernel DAX mapping: the
// fault service (native/fault_service.h) serves the access from what this
// mapping published (its page targets, kept in step with every transaction
// by retarget()) — a load maps the run around the page (zeros over a hole,
// the block read-only), a store makes a block writable, fills a hole with a
// zeroed block granted ahead of time (adopted into the file by the pool
// before any call can look: lib/pool/fault-adoption.ts), or copies the
// page in a private mapping. What it cannot serve ends the process as the
// kernel would: a page wholly past EOF with SIGBUS, a store into a
// read-only mapping with SIGSEGV, a store into a hole with no block left
// with SIGBUS — each after one line on stderr naming file, mapping and
// offset. A system call given pages not brought in yet (fs.readSync into
// the buffer) fails with EFAULT: populate them first.
//
// The API is the explicit path: `view()` faults a range in and returns a
// Uint8Array over it; `read()` / `write()` fault and copy; `persist()`
// makes stores durable (adopting filled holes first, so their allocation
// is durable too). Pages stay valid until this mapping is unmapped; a
// truncate, punch hole or zero range of the file switches or tears them
// down, and they come back on the next access. `unmap()` detaches the
// buffer and every view of it (length 0). A buffer made from it by
// `transfer()` escapes the detach, but not the unmap: its whole range stays
// reserved and inaccessible (a load kills the process) until that buffer
// is garbage-collected, so it never shows memory mapped later. The buffer
// never moves to another thread: Node 20 copies it, later versions refuse
// (DataCloneError); and a copy — postMessage, structuredClone, slice —
// reads every page, so it is a direct load like any other.
import { daxfsError, isDaxfsError } from '../errors.js';
import { checkBufferRange, checkIndex } from '../checks.js';
import { PAGE, PAGE_STATE_NAMES, type MmuMapping } from '../mmu.js';
import type { Region } from '../region.js';
import { isWritten, runsIn } from '../pool/extents.js';
import type { Inode } from '../pool/inode.js';
import { BLOCK } from '../pool/layout.js';
import { fault, HUGE_PAGES, pagesInsideEof, type FaultHost, type FaultSubject } from './fault.js';
import type { FillExclusion, InvalidatedMember } from './invalidation.js';
import type { BlockRange } from './layout-diff.js';
import { emptyStats, PageState, PageTable, type FaultStats } from './page-table.js';
import { faultUserBuffer, registerBuffer, unregisterBuffer, type BufferOwner } from './user-buffers.js';

export interface MapOptions {
  /** File offset of the first byte, a multiple of the page size, 4096 (default 0). */
  offset?: number;
  /** Bytes to map (> 0); may pass EOF (those pages fault with SIGBUS until the file grows). */
  length: number;
  /** Shared (stores reach the file) or private (copy on write). Default true. */
  shared?: boolean;
  /** Allow stores. Default false. */
  write?: boolean;
  /**
   * Most pages a read fault maps (fault-around, a window aligned to its
   * size, always covering the pages asked for). Default: the whole run of
   * the extent or hole, as far as the mapping covers it.
   */
  faultAround?: number;
  /** Map aligned 2 MiB ranges at once where the layout allows. Default true. */
  huge?: boolean;
}

/** What a mapping needs of its pool. */
export interface MappingHost extends FaultHost {
  readonly region: Region;
  readonly faultCounters: FaultStats;
  inodeFor(ino: number, generation: number): Inode;
  detachMapping(mapping: FileMapping): void;
  /** Adopts what plain stores filled (lib/pool/fault-adoption.ts) before a call that must see it. */
  adoptFaults(): void;
}

// Page p of a mapping shows file block firstBlock + p: one MMU page per pool
// block. Larger pages need a pages-per-block ratio throughout lib/map first;
// until then this fails to compile.
const onePagePerBlock: typeof PAGE extends typeof BLOCK ? true : never = true;
void onePagePerBlock;

export class FileMapping implements FaultSubject, BufferOwner, InvalidatedMember {
  /** File offset of the first byte. */
  readonly offset: number;
  /** Bytes mapped (the buffer covers them, rounded up to whole pages). */
  readonly length: number;
  readonly shared: boolean;
  readonly writable: boolean;
  readonly firstBlock: number;
  readonly blockCount: number;
  readonly faultAround: number;
  readonly hugeCapable: boolean;
  /** @internal */
  readonly table: PageTable;
  /** @internal */
  readonly counters: readonly FaultStats[];
  readonly #stats = emptyStats();
  readonly #mmu: MmuMapping;
  readonly #buffer: ArrayBuffer;
  #unmapped = false;

  /** @internal created by PoolFile.map() */
  constructor(
    readonly host: MappingHost,
    /** @internal */
    readonly inodeNumber: number,
    private readonly generation: number,
    mmu: MmuMapping,
    options: Required<MapOptions>,
    inode: Inode,
  ) {
    this.offset = options.offset;
    this.length = options.length;
    this.shared = options.shared;
    this.writable = options.write;
    this.firstBlock = options.offset / BLOCK;
    this.blockCount = Math.ceil(options.length / PAGE);
    this.faultAround = options.faultAround;
    this.hugeCapable = options.huge && this.firstBlock % HUGE_PAGES === 0 && mmu.addressAlign >= HUGE_PAGES * PAGE;
    this.#mmu = mmu;
    this.#buffer = mmu.buffer;
    registerBuffer(this.#buffer, this);
    this.counters = [this.#stats, host.faultCounters];
    // The reservation itself was one mmap.
    for (const c of this.counters) c.mmuCalls += mmu.stats().syscalls;
    this.table = new PageTable(mmu, this.blockCount, this.counters);
    // Plain loads and stores are served from here on (native/fault_service.h):
    // published first (the targets are relative to the first file block it
    // records), then every target set — no thread has the buffer yet.
    const uffd = host.region.capabilities.transparentFaultMechanism === 'userfaultfd+signal';
    mmu.publish(inodeNumber, this.firstBlock, this.shared, this.writable, this.faultAround === Infinity ? 0 : this.faultAround, uffd);
    this.retarget({ from: this.firstBlock, to: this.firstBlock + this.blockCount }, inode);
  }

  /** The mapped memory; detached (length 0) once unmapped. */
  get buffer(): ArrayBuffer {
    return this.#buffer;
  }

  get unmapped(): boolean {
    return this.#unmapped;
  }

  /** @internal the file's current inode. */
  inode(): Inode {
    if (this.#unmapped) throw daxfsError('EBADF', 'the mapping is unmapped');
    return this.host.inodeFor(this.inodeNumber, this.generation);
  }

  #range(offset: unknown, length: unknown): [number, number] {
    if (this.#unmapped) throw daxfsError('EBADF', 'the mapping is unmapped');
    const off = checkIndex(offset, 'offset');
    const len = checkIndex(length, 'length');
    if (off + len > this.length)
      throw daxfsError('ERANGE', `offset ${off} + length ${len} is past the end of the mapping (${this.length} bytes)`);
    return [off, len];
  }

  #pages(off: number, len: number): [number, number] {
    const first = Math.floor(off / PAGE);
    return [first, Math.max(1, Math.ceil((off + len) / PAGE) - first)];
  }

  /** Faults the page holding mapping offset `offset` (for a store with `write`). */
  fault(offset: number, options: { write?: boolean } = {}): void {
    const [off] = this.#range(offset, 1);
    fault(this, Math.floor(off / PAGE), 1, options.write ?? false);
  }

  /** Faults every page of [offset, offset + length), like MAP_POPULATE / MADV_WILLNEED. */
  populate(offset = 0, length = this.length - offset, options: { write?: boolean } = {}): void {
    const [off, len] = this.#range(offset, length);
    if (len === 0) return;
    const [page, pages] = this.#pages(off, len);
    fault(this, page, pages, options.write ?? false);
  }

  /** A Uint8Array over [offset, offset + length), faulted for loads (and stores with `write`). */
  view(offset: number, length: number, options: { write?: boolean } = {}): Uint8Array {
    this.#range(offset, length); // both required: no defaults here
    this.populate(offset, length, options);
    return new Uint8Array(this.#buffer, offset, length);
  }

  /** Copies [offset, offset + length) of the mapping into `target`; returns the count. */
  read(offset: number, target: Uint8Array, targetOffset = 0, length?: number): number {
    const n = checkBufferRange(target, targetOffset, length, 'target');
    const t = targetOffset;
    const [off] = this.#range(offset, n);
    if (n === 0) return 0;
    this.populate(off, n);
    faultUserBuffer(target, t, n, true);
    target.set(new Uint8Array(this.#buffer, off, n), t);
    return n;
  }

  /**
   * Copies `source` into the mapping at `offset` through write faults; with
   * `persist` (the default) the bytes are durable on return.
   */
  write(offset: number, source: Uint8Array, sourceOffset = 0, length?: number, options: { persist?: boolean } = {}): number {
    const n = checkBufferRange(source, sourceOffset, length, 'source');
    const s = sourceOffset;
    const [off] = this.#range(offset, n);
    if (n === 0) return 0;
    this.populate(off, n, { write: true });
    faultUserBuffer(source, s, n, false);
    new Uint8Array(this.#buffer, off, n).set(source.subarray(s, s + n));
    if (options.persist ?? true) this.persist(off, n);
    return n;
  }

  /**
   * Makes stores to [offset, offset + length) durable (flush + fence, or
   * msync in msync mode). Private copies have no durability: they are skipped.
   */
  persist(offset: number, length: number): void {
    const [off, len] = this.#range(offset, length);
    if (len === 0) return;
    // Blocks plain stores filled become the file's (durably) first.
    this.host.adoptFaults();
    const { states, blocks } = this.table;
    const end = off + len;
    let p = Math.floor(off / PAGE);
    while (p * PAGE < end) {
      if (states[p] !== PageState.blockWrite) {
        p++;
        continue;
      }
      let q = p + 1;
      while (q * PAGE < end && states[q] === PageState.blockWrite && blocks[q] === blocks[q - 1]! + 1) q++;
      const from = Math.max(off, p * PAGE);
      const to = Math.min(end, q * PAGE);
      this.host.region.persist(blocks[p]! * BLOCK + (from - p * PAGE), to - from);
      p = q;
    }
  }

  /**
   * @internal the write-back half of a sync: starts write-back (flush, or
   * msync in msync mode) of every page stores may have reached — the pages
   * mapped writable, which only a write fault makes so — with no fence;
   * returns the bytes. A walk over the mapping's page table.
   */
  writeBack(): number {
    const { states, blocks } = this.table;
    let bytes = 0;
    for (let p = 0; p < this.blockCount; ) {
      if (states[p] !== PageState.blockWrite) {
        p++;
        continue;
      }
      let q = p + 1;
      while (q < this.blockCount && states[q] === PageState.blockWrite && blocks[q] === blocks[q - 1]! + 1) q++;
      this.host.region.flush(blocks[p]! * BLOCK, (q - p) * PAGE);
      bytes += (q - p) * PAGE;
      p = q;
    }
    return bytes;
  }

  /**
   * Drops what the pages of [offset, offset + length) hold (MADV_DONTNEED):
   * private copies are discarded and the pages show the file's data again
   * (read-only); shared pages lose their write permission.
   */
  discard(offset: number, length: number): void {
    const [off, len] = this.#range(offset, length);
    if (off % PAGE !== 0) throw daxfsError('EINVAL', `offset ${off} must be a multiple of ${PAGE}`);
    if (len === 0) return;
    const [page, pages] = this.#pages(off, len);
    const inode = this.inode();
    const eof = pagesInsideEof(this, inode);
    const states = this.table.states;
    for (let p = page; p < page + pages; ) {
      if (states[p] === PageState.none) {
        p++;
        continue;
      }
      const n = this.table.runWhere(p, page + pages, (s) => s !== PageState.none);
      if (p >= eof) this.table.unmap(p, n);
      else {
        const inside = Math.min(n, eof - p);
        this.showFile(p, inside, inode);
        if (inside < n) this.table.unmap(p + inside, n - inside);
      }
      p += n;
    }
  }

  /** Page states of [offset, offset + length), by name. */
  pageStates(offset = 0, length = this.length - offset): string[] {
    const [off, len] = this.#range(offset, length);
    const [page, pages] = this.#pages(off, len);
    return Array.from(this.table.states.subarray(page, page + pages), (s) => PAGE_STATE_NAMES[s]!);
  }

  /** @internal the native page table (for verification). */
  nativeStates(): number[] {
    return this.#mmu.states();
  }

  /** What the kernel reports for this mapping (/proc/self/smaps), one entry per VMA. */
  kernelView(): ReturnType<MmuMapping['kernelView']> {
    if (this.#unmapped) throw daxfsError('EBADF', 'the mapping is unmapped');
    return this.#mmu.kernelView();
  }

  /** This mapping's fault statistics. */
  stats(): FaultStats {
    return { ...this.#stats };
  }

  /** Plain loads and stores the fault service served in this mapping (native/fault_service.h). */
  servedFaults(): ReturnType<MmuMapping['servedStats']> {
    return this.#mmu.servedStats();
  }

  /** MMU counters from native code (system calls made, bytes copied for private pages). */
  mmuStats(): ReturnType<MmuMapping['stats']> {
    return this.#mmu.stats();
  }

  /** Unmaps: the buffer and every view of it are detached. Idempotent. */
  unmap(): void {
    if (this.#unmapped) return;
    this.#unmapped = true;
    unregisterBuffer(this.#buffer);
    try {
      this.#mmu.release();
    } finally {
      this.host.detachMapping(this);
    }
  }

  /** @internal user I/O is about to touch the buffer: fault it, or EFAULT. */
  faultForIO(byteOffset: number, length: number, write: boolean): void {
    // (an unmapped mapping's buffer is detached and no longer registered: never here)
    try {
      const [page, pages] = this.#pages(byteOffset, length);
      if (page + pages > this.blockCount) throw daxfsError('EFAULT', 'the buffer range passes the end of the mapping');
      fault(this, page, pages, write);
    } catch (e) {
      if (isDaxfsError(e) && (e.code === 'SIGBUS' || e.code === 'EACCES'))
        throw daxfsError('EFAULT', `the buffer lies in a mapping of '${this.inode().name}' and cannot be ${write ? 'written' : 'read'} there: ${e.message}`);
      throw e;
    }
  }

  // ------------------------------------------------------------ invalidation (called by the pool)

  /**
   * Maps pages [page, page + count) (inside EOF) to what a read fault would
   * show now: the file's written blocks read-only, the zero source elsewhere.
   * Short of VMAs (ENOMEM), a run is torn down instead — always correct, its
   * pages fault again when touched.
   */
  private showFile(page: number, count: number, inode: Inode): void {
    for (const run of inode.extents.runsIn(this.firstBlock + page, this.firstBlock + page + count)) {
      const p = run.fileBlock - this.firstBlock;
      try {
        if (isWritten(run)) this.table.mapBlocks(p, run.length, run.poolBlock, false);
        else this.table.mapZero(p, run.length);
      } catch (err) {
        if (!isDaxfsError(err) || err.code !== 'ENOMEM') throw err;
        this.table.unmap(p, run.length);
      }
    }
  }

  /**
   * @internal the file's block map changed over `range` (file blocks):
   * what plain accesses there are served with follows `next`. Called
   * before any page is switched or torn down for the change.
   */
  retarget(range: BlockRange, next: Inode): void {
    const [from, to] = this.#pagesOf(range);
    if (from >= to) return;
    const fb = this.firstBlock + from;
    this.table.retarget(from, to - from, next.extents.runsIn(fb, this.firstBlock + to));
  }

  #pagesOf(range: BlockRange): [number, number] {
    return [Math.max(0, range.from - this.firstBlock), Math.min(this.blockCount, range.to - this.firstBlock)];
  }

  #invalidated(): void {
    for (const c of this.counters) c.invalidations++;
  }

  /**
   * @internal before blocks of `ranges` are freed or change meaning: pages
   * showing them switch to what `next` shows there (zeros after a
   * punch or zero range). Private copies stay: they reference no block.
   */
  letGo(ranges: readonly BlockRange[], next: Inode): void {
    const eof = pagesInsideEof(this, next);
    const isBlock = (s: number) => s === PageState.blockRead || s === PageState.blockWrite;
    for (const range of ranges) {
      const [from, to] = this.#pagesOf(range);
      for (let p = from; p < to; ) {
        if (!isBlock(this.table.states[p]!)) {
          p++;
          continue;
        }
        const n = this.table.runWhere(p, to, isBlock);
        const inside = Math.max(0, Math.min(n, eof - p));
        if (inside > 0) this.showFile(p, inside, next);
        if (inside < n) this.table.unmap(p + inside, n - inside);
        this.#invalidated();
        p += n;
      }
    }
  }

  /** @internal the file's size is now next's: a plain access to a page wholly past it is a SIGBUS. */
  eofMoved(next: Inode): void {
    this.#mmu.setEndOfFile(pagesInsideEof(this, next) * PAGE);
  }

  /** @internal the file shrank: every page past its new EOF (private copies too) is torn down. */
  cutAtEof(next: Inode): void {
    const eof = pagesInsideEof(this, next);
    const states = this.table.states;
    let last = this.blockCount - 1;
    while (last >= eof && states[last] === PageState.none) last--;
    let first = eof;
    while (first <= last && states[first] === PageState.none) first++;
    if (first > last) return;
    this.table.unmap(first, last - first + 1);
    this.#invalidated();
  }

  /**
   * @internal holes of `ranges` were filled: pages showing zeros
   * there now show the new blocks (read-only), before the fill is reported
   * done, so a buffer read before shows the new data.
   */
  fill(ranges: readonly BlockRange[], next: Inode, exclude: FillExclusion | undefined): void {
    const isZero = (s: number) => s === PageState.zero;
    for (const range of ranges) {
      const [from, to] = this.#pagesOf(range);
      for (let p = from; p < to; ) {
        if (exclude && exclude.mapping === this && p >= exclude.from && p < exclude.to) {
          p = exclude.to;
          continue;
        }
        if (!isZero(this.table.states[p]!)) {
          p++;
          continue;
        }
        const limit = exclude && exclude.mapping === this && exclude.from > p ? Math.min(to, exclude.from) : to;
        const n = this.table.runWhere(p, limit, isZero);
        this.showFile(p, n, next);
        this.#invalidated();
        p += n;
      }
    }
  }
}
