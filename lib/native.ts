// Loads the addon: the file named by DAXFS_ADDON when set (the test suite uses
// it to run against the CMake and sanitizer builds), otherwise whatever
// node-gyp-build finds for this package: build/Release, then prebuilds/.
import { constants } from 'node:buffer';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { getSystemErrorName } from 'node:util';
import path from 'node:path';

import { DaxfsError } from './errors.js';

export interface NativeReport {
  path: string;
  kind: 'file' | 'devdax';
  size: number;
  readOnly: boolean;
  /** Read-only and mapped privately: stores reach only this process's copy-on-write pages. */
  privateCopy: boolean;
  mapSync: boolean;
  mapSyncError: string | null;
  persistence: 'cache-flush' | 'msync' | 'volatile';
  flush: 'clwb' | 'clflushopt' | 'clflush' | 'dc-cvac' | 'none';
  flushNeeded: boolean;
  flushNote: string;
  persistenceDomain: '' | 'cpu_cache' | 'memory_controller';
  align: number;
  fsMagic: number;
  ntThreshold: number;
  pageSize: number;
  viewsAvailable: boolean;
  cpu: { clflush: boolean; clflushopt: boolean; clwb: boolean; dcCvac: boolean };
  anonymousReadProbe: AnonymousReadProbe;
  userfaultfdProbe: UserfaultfdProbe;
  zeroSource: ZeroSourceInfo;
}

/** How the kernel answered one way of getting a userfaultfd. */
export interface UserfaultfdWay {
  available: boolean;
  /** The refusal (`userfaultfd: EPERM`, `/dev/userfaultfd: EACCES`), or null. */
  error: string | null;
}

/** What userfaultfd this process may use, probed once per process (native/uffd_probe.h). */
export interface UserfaultfdProbe {
  /** userfaultfd(2) in full mode: faults taken inside system calls are reported too. */
  syscall: UserfaultfdWay;
  /** userfaultfd(2) with UFFD_USER_MODE_ONLY: only faults taken in user mode. */
  userModeOnly: UserfaultfdWay;
  /** /dev/userfaultfd (full mode, by the device's permissions). */
  device: UserfaultfdWay;
  /** Features the kernel offers ('missing-shmem', 'wp', 'wp-shmem', 'minor-shmem', ...); empty when no fd was granted. */
  features: string[];
  /** UFFDIO_API's failure, or null. */
  error: string | null;
}

/** Loads of every page of fresh read-only private anonymous memory, measured once per process. */
export interface AnonymousReadProbe {
  /** Bytes probed (0 when the probe could not run). */
  bytes: number;
  /** Resident after the loads (the kernel's shared zero page is not counted). */
  rssKiB: number;
  /** Of which private to this process. */
  privateKiB: number;
  /** Why the probe could not run, or null. */
  error: string | null;
}

/** The engine's zero source: a sealed zero-filled memfd that every hole shows, read-only. */
export interface ZeroSourceInfo {
  kind: 'memfd' | 'none';
  bytes: number;
  /** Sealed against writes: no mapping of it can be made writable. */
  sealed: boolean;
  /** Zero-source VMAs the process holds now (one per 2 MiB window shown). */
  vmas: number;
  /** The most it may hold (null: only the kernel's vm.max_map_count). */
  vmaLimit: number | null;
  /** vm.max_map_count (0 when unreadable). */
  maxMapCount: number;
  /** Why the zero source could not be created, or null. */
  error: string | null;
}

export interface RegionStats {
  persistCalls: number;
  flushCalls: number;
  flushedLines: number;
  fences: number;
  msyncCalls: number;
  ntBytes: number;
  bytesWritten: number;
  bytesRead: number;
}

export interface NativeOpenOptions {
  create?: boolean;
  size?: number;
  readOnly?: boolean;
  requireMapSync?: boolean;
  forceMsync?: boolean;
  align?: number;
  flush?: string;
  sysfsRoot?: string;
  ntThreshold?: number;
}

export interface NativeRegion {
  close(): void;
  report(): NativeReport;
  stats(): RegionStats;
  arrayBuffer(index: number): ArrayBuffer;
  viewWindows(): { stride: number; length: number; count: number };
  rangeBuffer(offset: number, length: number): ArrayBuffer;
  checkView(offset: number, length: number): void;
  read(offset: number, target: ArrayBufferView, targetOffset: number, length: number): number;
  write(offset: number, source: ArrayBufferView, sourceOffset: number, length: number, persist: boolean | 'flush'): number;
  writeScatter(source: ArrayBufferView, list: Float64Array, count: number, privateCopy?: boolean): void;
  journalCommit(staging: ArrayBufferView, list: Float64Array, count: number, headerOffset: number, bodyOffset: number, seq: number, backupIndex?: number, seals?: Float64Array): number;
  zero(offset: number, length: number, persist: boolean): void;
  persist(offset: number, length: number): void;
  flush(offset: number, length: number): void;
  drain(): void;
  load64(offset: number): bigint;
  store64(offset: number, value: bigint | number): void;
  cas64(offset: number, expected: bigint | number, desired: bigint | number): bigint;
  bitmapFind(bitmapOffset: number, nbits: number, goal: number, want: number, minRun: number): [number, number] | null;
  bitmapSet(bitmapOffset: number, nbits: number, start: number, count: number): number;
  bitmapClear(bitmapOffset: number, nbits: number, start: number, count: number): number;
  bitmapCount(bitmapOffset: number, nbits: number): number;
  fastCalls(): FastCalls;
  /** onLoop: the copy is left to this thread, which runs it when its event loop would otherwise wait (loop-copies.ts). */
  writeAsync(offset: number, source: ArrayBufferView, sourceOffset: number, length: number, persist: boolean, onLoop: boolean): Promise<number>;
  readAsync(offset: number, target: ArrayBufferView, targetOffset: number, length: number, onLoop: boolean): Promise<number>;
  lock(exclusive: boolean): boolean;
  reserve(offset: number, length: number): void;
  populate(offset: number, length: number): boolean;
  backedBytes(): number;
  backedUntil(offset: number): number;
  waitIdle(offset: number, length: number): void;
  traceStart(): void;
  traceMark(value: number): void;
  traceTake(stop: boolean): Buffer;
  firstTouch(offset: number, length: number, stride: number, write: boolean): FirstTouch;
  faultRoundTrip(offset: number, pages: number, mechanism: FaultMechanism): FaultRoundTrip;
  copyProbe(offsets: Float64Array, length: number, buffer: ArrayBufferView, write: boolean): CopyProbe;
}

/** The kernel's own first-touch faults on a fresh shared mapping (benchmarks). */
export interface FirstTouch {
  touches: number;
  ns: number;
  mapNs: number;
}

/**
 * A bare mechanism for resolving a read fault in user space
 * (native/fault_round_trip.h): a userfaultfd handler thread mapping the
 * backing's page, or answering with its zero page; a SIGSEGV handler
 * mapping the page.
 */
export type FaultMechanism = 'uffd-map' | 'uffd-zeropage' | 'signal-map';

/** Read faults resolved by a bare mechanism, timed in C (benchmarks). */
export interface FaultRoundTrip {
  faults: number;
  ns: number;
}

export interface CopyProbe {
  copies: number;
  ns: number;
}

/**
 * The data path bound to one region, taking numbers from `args` (see
 * native/region_fast.h for the layout): one boundary crossing per call.
 */
export interface FastCalls {
  args: Float64Array;
  write(source: ArrayBufferView): void;
  read(target: ArrayBufferView): void;
  zero(): void;
  persist(): void;
  flush(): void;
  checkView(): void;
  store64(): void;
  store64Parts(): void;
  writePublish(source: ArrayBufferView): void;
  bitmapFind(): number;
}

export interface KernelVma {
  offset: number;
  length: number;
  perms: string;
  fileOffset: number;
  inode: number;
  regionFile: boolean;
  /** The VMA maps the engine's zero source. */
  zeroSource: boolean;
  /** Resident: a shared page counts once in every VMA mapping it. */
  rssKiB: number;
  /** Proportional: a shared page's size divided among everything mapping it. */
  pssKiB: number;
}

export interface MmuStats {
  mapBlocks: number;
  mapZero: number;
  mapPrivate: number;
  protect: number;
  unmap: number;
  syscalls: number;
  bytesCopied: number;
  /** Zero-source VMAs the mapping holds now. */
  zeroVmas: number;
}

/** The MMU operations return the system calls they made. */
export interface NativeMapping {
  mapBlocks(offset: number, length: number, regionOffset: number, writable: boolean): number;
  mapZero(offset: number, length: number): number;
  mapPrivate(offset: number, length: number, sourceRegionOffset?: number): number;
  protect(offset: number, length: number, writable: boolean): number;
  unmap(offset: number, length: number): number;
  release(): void;
  buffer(): ArrayBuffer;
  states(offset: number, length: number): Uint8Array;
  kernelView(): KernelVma[];
  stats(): MmuStats;
  info(): { released: boolean; length: number; unit: number; addressAlign: number };
  /** What the fatal line of a SIGSEGV or SIGBUS in this mapping calls it. */
  setLabel(label: string): void;
  /** Pages from this mapping offset on lie wholly past the end of the file: a plain access there ends the process by SIGBUS. */
  setEndOfFile(offset: number): void;
  /** The page states, the block each page shows and the fault service's targets, shared with native code. */
  tables(): MappingTables;
  /** Turns transparent faults on for this mapping (native/fault_service.h). */
  publish(group: number, firstBlock: number, shared: boolean, writable: boolean, faultAround: number, userfaultfd: boolean): void;
  /** Sets the targets of pages from runs of [fileBlock, length, poolBlock, unwritten], under the service's lock. */
  retarget(page: number, count: number, runs: Float64Array, nruns: number): void;
  /** Faults the fault service served in this mapping. */
  servedStats(): ServedFaults;
}

/** An opaque native handle of a region's fault reserve. */
export type FaultReserveHandle = { readonly __faultReserveHandle: unique symbol };

/** A mapping's tables, over native memory (see NativeMapping.tables). */
export interface MappingTables {
  /** PageState per page. */
  states: Uint8Array;
  /** Pool block per page in a block state, -1 otherwise. */
  blocks: Float64Array;
  /** What a transparent fault resolves each page to: a written block (>= 0), a hole (-1), an unwritten block b (-(b + 2)). */
  targets: Float64Array;
}

/** Plain accesses the fault service served in one mapping. */
export interface ServedFaults {
  /** Loads on pages showing nothing (each maps a run: fault-around). */
  reads: number;
  /** Stores made writable on written blocks. */
  writes: number;
  /** Stores into holes, each filled with a granted block. */
  fills: number;
  /** Stores into unwritten blocks, each zeroed and converted. */
  converts: number;
  /** Private copies made on a store (copy on write). */
  copies: number;
}

export interface NativeAddon {
  setMaxArrayBufferLength(length: number): void;
  /** The class every error thrown by native code is made with. */
  setErrorClass(errorClass: typeof DaxfsError): void;
  /** names[n]: the name of errno n as Node prints it, for the errors native code makes. */
  setErrnoNames(names: (string | undefined)[]): void;
  /** The name Node prints for a (positive) errno value; the table native errors use. */
  errnoName(errno: number): string;
  maxArrayBufferLength(): number;
  Region: new (path: string, options?: NativeOpenOptions) => NativeRegion;
  Mapping: new (region: NativeRegion, length: number) => NativeMapping;
  pageSize: number;
  cacheLine: number;
  /** Every MMU page state's value by its name ('block-read', …): the table lib/mmu.ts PageState must equal. */
  pageStates: Readonly<Record<string, number>>;
  zeroSource(): ZeroSourceInfo;
  /** Process-wide; 2^53 - 1 leaves only the kernel's limit. */
  setZeroSourceLimit(limit: number): void;
  /** The limit without creating the zero source (null: none set). */
  zeroSourceLimit(): number | null;
  maxMapCount(): number;
  /** zlib's CRC-32 of the bytes (what node:zlib's crc32 returns), computed natively: several times faster on x86-64. */
  crc32(data: Uint8Array): number;
  probeAnonymousReads(): AnonymousReadProbe;
  probeUserfaultfd(): UserfaultfdProbe;
  /** Grants the fault service runs of pool blocks ([start, length, ...]) and room for `logCapacity` adoptions. */
  faultGrant(region: NativeRegion, runs: Float64Array, logCapacity: number): void;
  /** Takes back every granted block not used yet, as runs. */
  faultRevoke(region: NativeRegion): Float64Array;
  /** The adoption log ([group, fileBlock, poolBlock, kind, ...]), emptied. */
  faultAdoptions(region: NativeRegion): Float64Array;
  /** [0] adoptions logged, [1] granted blocks left, [3] the low-water mark (native/fault_service.h). */
  faultCounters(region: NativeRegion): Uint32Array;
  /** The file `group`'s layout is about to change: faults on its mappings from other threads wait until faultRelease. */
  faultHold(handle: FaultReserveHandle, group: number): void;
  faultRelease(handle: FaultReserveHandle, group: number): void;
  /** The region's reserve as a handle for faultHold / faultRelease. */
  faultHandle(region: NativeRegion): FaultReserveHandle;
  /** While the persistence trace runs, records the bytes of [offset, offset + length) as stored. */
  faultTraced(region: NativeRegion, offset: number, length: number): void;
  /** Calls `fn` on this thread's loop after the fault service logs an adoption (null: never). */
  faultWake(region: NativeRegion, fn: (() => void) | null): void;
  /**
   * Testing: loads from a plain mmap of the (empty) file at `path`, outside
   * every region and mapping: a SIGBUS daxfs must pass on to whatever
   * handled SIGBUS before it (by default, the process dies).
   */
  loadPastEndOfFile(path: string): void;
}

const require = createRequire(import.meta.url);

/**
 * Errno names as Node prints them: libuv's table (util.getSystemErrorName),
 * then os.constants.errno for the values libuv does not name (EDQUOT, …).
 */
function errnoNames(): (string | undefined)[] {
  const fromConstants = new Map<number, string>();
  for (const [name, value] of Object.entries(os.constants.errno)) if (!fromConstants.has(value)) fromConstants.set(value, name);
  const top = Math.max(...fromConstants.keys(), 200);
  const names: (string | undefined)[] = [];
  for (let n = 1; n <= top; n++) {
    let name: string | undefined;
    try {
      name = getSystemErrorName(-n);
    } catch {
      name = undefined;
    }
    names[n] = name && /^E[A-Z0-9]+$/.test(name) ? name : fromConstants.get(n);
  }
  return names;
}

/** The package root: the nearest directory above this file holding binding.gyp. */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'binding.gyp'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('daxfs: cannot find the package root (binding.gyp)');
    dir = parent;
  }
  return dir;
}
export const packageRoot = findPackageRoot();

function resolveAddon(): string {
  const forced = process.env['DAXFS_ADDON'];
  if (forced) return path.resolve(forced);
  const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  return gypBuild.resolve(packageRoot);
}

/** Absolute path of the addon binary in use. */
export const addonPath: string = resolveAddon();
export const addon: NativeAddon = require(addonPath) as NativeAddon;
// The limit Node declares; what the engine really takes is found by trying,
// as each length first matters (see maxArrayBufferLength).
addon.setMaxArrayBufferLength(constants.MAX_LENGTH);
// Native errors are DaxfsErrors: `instanceof` holds whichever side threw.
addon.setErrorClass(DaxfsError);
addon.setErrnoNames(errnoNames());

/**
 * The largest ArrayBuffer over region or mapping memory this engine takes,
 * found by trying, halving from the limit Node declares: 4 GiB on Node 20;
 * later versions take more than a process can map, so there it is the
 * largest power of two this process could reserve. A region the engine
 * cannot take as one buffer is seen through overlapping windows of this
 * size (one view is then at most half of it); a mapping the engine cannot
 * take is refused. The first call may cost a full garbage collection (the
 * engine counts a trial buffer's bytes as memory pressure).
 */
export function maxArrayBufferLength(): number {
  return addon.maxArrayBufferLength();
}
