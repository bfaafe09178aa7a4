// Allocation policy over the block bitmap: contiguity first (a run at the
// goal, normally just after the file's previous block), the longest free
// fragment when the pool is fragmented. Runs handed out by a transaction that
// has not committed yet are `pending`: not on media, so the search clips them.
// The bitmap is not trusted alone: a run it calls free is checked against
// the pool's in-memory record of owned blocks before it is handed out, so
// damage to the bitmap (a stray write into the mapping, say) cannot give one
// file's blocks to another. Blocks a damaged file may own are `held`: skipped
// like pending ones until a repair decides. In a sparse pool each run is
// backed (its range of the backing reserved) before it is handed out; when
// the backing's file system is full, free blocks that are backed already
// (freed by files since) are handed out instead.

/** The backing of a sparse pool, as the allocator sees it. */
export interface RunBacking {
  /** Reserves the run's range of the backing; ENOSPC when the file system is full. */
  reserve(run: Run): void;
  /** How many blocks from the start of `run` are backed already. */
  backedPrefix(run: Run): number;
}

/** Free runs looked at for backed blocks when the file system is full. */
const BACKED_SEARCH_RUNS = 256;
import type { Bitmap } from '../bitmap.js';
import { daxfsError, isDaxfsError } from '../errors.js';
import { BlockSet } from './block-set.js';
import type { Run } from './extents.js';
import type { Prefault } from './prefault.js';

export class Allocator {
  /** Where the last allocation ended: the goal for a file with no blocks yet. */
  private cursor: number;
  /**
   * Blocks granted to the fault service of this pool's mappings (free on
   * media, taken by plain stores into holes until adopted): skipped like
   * `held` ones (lib/pool/fault-adoption.ts).
   */
  readonly granted = new BlockSet();
  /**
   * Called when a search finds nothing: takes back what the fault service
   * was granted and has not used; true when that freed anything (the
   * search then runs again).
   */
  onShort: (() => boolean) | undefined;
  /** The bitmap's words (a live view), for the length of a free run. */
  words: Uint32Array | undefined;

  /**
   * `owned`: every block a file or the metadata owns, kept in step with
   * every commit; `held`: blocks damaged files may own; `ownerOf` names the
   * owner of a block, for the error (a scan: only on that path); `back`,
   * in a sparse pool, reserves a run's backing (throwing ENOSPC) before the
   * run is handed out.
   */
  constructor(
    private readonly bitmap: Bitmap,
    private readonly dataStart: number,
    private readonly nblocks: number,
    private readonly owned: BlockSet,
    private readonly held: BlockSet,
    private readonly ownerOf: (block: number) => string,
    private readonly backing?: RunBacking,
    /** Populates the mapping ahead of the stores a run handed out is about to take (prefault.ts). */
    private readonly prefault?: Prefault,
  ) {
    this.cursor = dataStart;
  }

  /**
   * Up to `want` blocks (at least `min`), as one run, near `goal`; null
   * when the pool has no such run outside `pending` and `held`. EUCLEAN, naming the blocks,
   * when the bitmap offers blocks that are owned.
   */
  allocate(goal: number | undefined, want: number, pending: readonly Run[], min = 1): Run | null {
    const run = this.allocateOnce(goal, want, pending, min);
    if (run || this.granted.size === 0 || !this.onShort?.()) return run;
    return this.allocateOnce(goal, want, pending, min);
  }

  /** allocate() that leaves the cursor where it was: for runs set aside (the fault grant), away from where files grow. */
  allocateAside(goal: number, want: number, pending: readonly Run[]): Run | null {
    const cursor = this.cursor;
    try {
      return this.allocate(goal, want, pending);
    } finally {
      this.cursor = cursor;
    }
  }

  private allocateOnce(goal: number | undefined, want: number, pending: readonly Run[], min: number): Run | null {
    try {
      return this.search(goal, want, pending, false, min);
    } catch (e) {
      if (!this.backing || !isDaxfsError(e) || e.code !== 'ENOSPC') throw e;
      const backed = this.search(this.dataStart, want, pending, true, min);
      if (backed) return backed;
      throw e;
    }
  }

  /** allocate()'s search; `backedOnly` takes only blocks whose backing is allocated already, and gives up after a while. */
  private search(goal: number | undefined, want: number, pending: readonly Run[], backedOnly: boolean, min: number): Run | null {
    let g = goal === undefined || goal < this.dataStart || goal >= this.nblocks ? this.cursor : goal;
    if (g >= this.nblocks) g = this.dataStart;
    // What is asked of the bitmap: `want`, until what it offers is wholly
    // pending, held or granted — with no free run of `want` it offers its
    // longest run, every time, and a skipped longest run would hide every
    // shorter one behind it. Then `min`: the first free run from g on,
    // taken as far as it goes.
    let ask = want;
    const words = this.words;
    const attempts = 2 * (pending.length + this.held.runCount + this.granted.runCount) + 2 + (backedOnly ? BACKED_SEARCH_RUNS : 0);
    for (let attempt = 0; attempt < attempts; attempt++) {
      const found = this.bitmap.find(g, ask, min);
      if (!found || (backedOnly && found.start < g)) return null; // none, or wrapped around
      let run: Run = found;
      // First-fit mode found the first free run after g: as much of it as wanted.
      if (ask < want && words) run = { start: run.start, length: freeLength(words, run.start, Math.min(this.nblocks, run.start + want)) };
      // nothing pending, held or granted in the way (the common case): the run as found
      if (pending.length === 0 && this.held.size === 0 && run.length >= min && (this.granted.size === 0 || !this.granted.firstOverlap(run.start, run.length))) {
        const taken = this.taken(run, backedOnly);
        if (taken && taken.length >= min) return taken;
        g = run.start + run.length;
        if (g >= this.nblocks) {
          if (backedOnly) return null;
          g = this.dataStart;
        }
        continue;
      }
      const overlapping = pending.filter((p) => p.start < run.start + run.length && run.start < p.start + p.length);
      const held = this.held.size === 0 ? undefined : this.held.firstOverlap(run.start, run.length);
      if (held) overlapping.push(held);
      const granted = this.granted.size === 0 ? undefined : this.granted.firstOverlap(run.start, run.length);
      if (granted) overlapping.push(granted);
      overlapping.sort((a, b) => a.start - b.start);
      const first = overlapping[0];
      if (first && first.start > run.start) run = { start: run.start, length: first.start - run.start };
      if ((!first || first.start > run.start) && run.length >= min) {
        const taken = this.taken(run, backedOnly);
        if (taken && taken.length >= min) return taken;
        g = run.start + run.length;
      } else if (first && first.start > run.start) {
        g = first.start + first.length; // clipped shorter than `min`: look past the pending run
      } else {
        g = Math.max(...overlapping.filter((p) => p.start <= run.start).map((p) => p.start + p.length));
        if (words) ask = min;
      }
      if (g >= this.nblocks) {
        if (backedOnly) return null;
        g = this.dataStart;
      }
    }
    return null;
  }

  /**
   * Like allocate(), for a run meant to start a 2 MiB-mappable part of a
   * file: prefers a run that starts on a multiple of `align` blocks and is
   * at least that long (so that a mapping can map it with huge pages),
   * falling back to any run.
   */
  allocateAligned(goal: number | undefined, want: number, pending: readonly Run[], align: number): Run | null {
    const cursor = this.cursor;
    let g = Math.ceil((goal ?? cursor) / align) * align;
    for (let attempt = 0; attempt < 4 && g < this.nblocks; attempt++) {
      const run = this.allocate(g, want, pending);
      if (!run) break;
      if (run.start % align === 0 && run.length >= align) return run;
      g = Math.ceil((run.start + 1) / align) * align;
    }
    this.cursor = cursor;
    return this.allocate(goal, want, pending);
  }

  /** Hands `run` out: checked against the owners, backed in a sparse pool (only its backed prefix when `backedOnly`; undefined when it has none). */
  private taken(run: Run, backedOnly = false): Run | undefined {
    const owned = this.owned.firstOverlap(run.start, run.length);
    if (owned) {
      const from = Math.max(owned.start, run.start);
      const to = Math.min(owned.start + owned.length, run.start + run.length);
      throw daxfsError(
        'EUCLEAN',
        `bitmap: blocks ${from}..${to - 1} are marked free but belong to ${this.ownerOf(from)}: not handing them out (the bitmap is damaged; check({ repair: true }) marks them in use again)`,
      );
    }
    if (backedOnly) {
      const length = this.backing!.backedPrefix(run);
      if (length === 0) return undefined;
      run = { start: run.start, length };
    } else {
      this.backing?.reserve(run);
    }
    this.cursor = run.start + run.length;
    this.prefault?.allocated(run);
    return run;
  }
}

/** Free blocks from `start` (free) on, stopping at `limit` or the first block in use. */
function freeLength(words: Uint32Array, start: number, limit: number): number {
  let b = start;
  while (b < limit && ((words[b >>> 5]! >>> (b & 31)) & 1) === 0) b++;
  return b - start;
}
