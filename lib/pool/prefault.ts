// Populating the pool's mapping ahead of allocation. A block handed out is
// stored to at once (its data, or zeros); on a mapping this process has not
// touched there yet, each of those first stores takes a page fault. So the
// first time allocation enters a 2 MiB window of the data area, the whole
// window is populated with one call (Region.populate): one system call
// instead of up to 512 faults. Only in a pool whose whole backing is
// reserved — populating a hole of a sparse backing would allocate it — and
// never in a read-only one. Populating is ahead-of-time work only: when
// the kernel lacks it or it fails, the pages fault on first touch as before.
import { isDaxfsError } from '../errors.js';
import type { Region } from '../region.js';
import type { Run } from './extents.js';
import { BLOCK } from './layout.js';

/** Blocks per window: 2 MiB. */
const WINDOW_BLOCKS = 512;

export class Prefault {
  /** Per window: populated already (or tried). */
  private readonly done: Uint8Array;
  /** Windows populated (statistics, and what the tests check). */
  windows = 0;
  private enabled: boolean;

  constructor(
    private readonly region: Region,
    private readonly dataStart: number,
    private readonly nblocks: number,
    enabled: boolean,
  ) {
    this.enabled = enabled;
    this.done = new Uint8Array(enabled ? Math.ceil(nblocks / WINDOW_BLOCKS) : 0);
  }

  /** Whether populating is on (off: not asked for, the kernel lacks it, or it failed). */
  get active(): boolean {
    return this.enabled;
  }

  /** `run` was just handed out: populates the windows it enters for the first time. */
  allocated(run: Run): void {
    if (!this.enabled) return;
    const last = (run.start + run.length - 1) >>> 9;
    for (let w = run.start >>> 9; w <= last; w++) {
      if (this.done[w] === 1) continue;
      this.done[w] = 1;
      const from = Math.max(w * WINDOW_BLOCKS, this.dataStart);
      const to = Math.min((w + 1) * WINDOW_BLOCKS, this.nblocks);
      if (to <= from) continue;
      try {
        if (!this.region.populate(from * BLOCK, (to - from) * BLOCK)) {
          this.enabled = false; // the kernel does not know the advice
          return;
        }
        this.windows++;
      } catch (e) {
        if (!isDaxfsError(e)) throw e;
        this.enabled = false; // out of memory, say: leave the pages to fault on first touch
        return;
      }
    }
  }
}
