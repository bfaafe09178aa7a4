// A region's fault reserve, as the pool drives it (native/fault_service.h):
// runs of free pool blocks granted to the fault service, which takes one
// for each plain store into a hole of a shared writable mapping, and the log
// of those fills (and of unwritten blocks a store converted) that the pool
// adopts into the files' block maps. Nothing here is on media: a granted
// block, taken or not, stays free in the bitmap until an adoption commits it.
import { addon, type FaultReserveHandle, type NativeRegion } from './native.js';

/** A run of pool blocks. */
export interface BlockRun {
  start: number;
  length: number;
}

/** One fill or conversion the fault service made, to adopt. */
export interface FaultAdoption {
  /** The file (inode number) of the mapping that took the fault. */
  ino: number;
  fileBlock: number;
  poolBlock: number;
  /** 'fill': a granted block filled a hole; 'convert': an unwritten block was zeroed. */
  kind: 'fill' | 'convert';
}

export class FaultReserve {
  readonly #region: NativeRegion;
  /** [0] adoptions logged, [1] granted blocks left, [3] the low-water mark. */
  readonly #counters: Uint32Array;
  readonly #handle: FaultReserveHandle;

  constructor(region: NativeRegion) {
    this.#region = region;
    this.#counters = addon.faultCounters(region);
    this.#handle = addon.faultHandle(region);
  }

  /** Adoptions waiting: read from shared memory, no call. */
  get pending(): number {
    return this.#counters[0]!;
  }

  /** Granted blocks the fault service has not taken. */
  get left(): number {
    return this.#counters[1]!;
  }

  /** A fill that leaves fewer granted blocks than this wakes the pool to refill. */
  set lowWater(blocks: number) {
    this.#counters[3] = blocks;
  }

  /**
   * Runs `body` with file `ino`'s faults held: the fault service serves
   * none on its mappings from another thread until `body` returns (the
   * kernel's invalidate lock, taken exclusive, around a layout change).
   */
  holding<T>(ino: number, body: () => T): T {
    addon.faultHold(this.#handle, ino);
    try {
      return body();
    } finally {
      addon.faultRelease(this.#handle, ino);
    }
  }

  /** Adds `runs` to the grant, with room for `logCapacity` adoptions in all. */
  grant(runs: readonly BlockRun[], logCapacity: number): void {
    const flat = new Float64Array(runs.length * 2);
    runs.forEach((r, i) => {
      flat[i * 2] = r.start;
      flat[i * 2 + 1] = r.length;
    });
    addon.faultGrant(this.#region, flat, logCapacity);
  }

  /** Takes back every granted block not used yet. */
  revoke(): BlockRun[] {
    const flat = addon.faultRevoke(this.#region);
    const runs: BlockRun[] = [];
    for (let i = 0; i < flat.length; i += 2) runs.push({ start: flat[i]!, length: flat[i + 1]! });
    return runs;
  }

  /** The log's entries, in the order the faults were served; the log is emptied. */
  takeAdoptions(): FaultAdoption[] {
    const flat = addon.faultAdoptions(this.#region);
    const out: FaultAdoption[] = [];
    for (let i = 0; i < flat.length; i += 4)
      out.push({ ino: flat[i]!, fileBlock: flat[i + 1]!, poolBlock: flat[i + 2]!, kind: flat[i + 3] === 1 ? 'convert' : 'fill' });
    return out;
  }

  /**
   * Testing: while the region's persistence trace runs, records the bytes of
   * adopted blocks as stored (the fault service's zeroing and plain stores
   * are no primitive's), so the crash simulator's images hold them.
   */
  traced(offset: number, length: number): void {
    addon.faultTraced(this.#region, offset, length);
  }

  /** `fn` runs on this thread's event loop after the fault service logs adoptions; null stops it. */
  onLogged(fn: (() => void) | null): void {
    addon.faultWake(this.#region, fn);
  }
}
