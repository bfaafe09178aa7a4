// Allocation policy over the block bitmap: contiguity first (a run at the
// goal, normally just after the file's previous block), the longest free
// fragment when the pool is fragmented. Runs handed out by a transaction that
// has not committed yet are `pending`: not on media, so the search clips them.
// The bitmap is not trusted alone: a run it calls free is checked against
// the pool's in-memory record of owned blocks before it is handed out, so
// damage to the bitmap (a stray write into the mapping, say) cannot give one
// file's blocks to another. Blocks a damaged file may own are `held`: skipped
// like pending ones until a repair decides.
import type { Bitmap } from '../bitmap.js';
import { daxfsError } from '../errors.js';
import type { BlockSet } from './block-set.js';
import type { Run } from './extents.js';

export class Allocator {
  /** Where the last allocation ended: the goal for a file with no blocks yet. */
  private cursor: number;

  /**
   * `owned`: every block a file or the metadata owns, kept in step with
   * every commit; `held`: blocks damaged files may own; `ownerOf` names the
   * owner of a block, for the error (a scan: only on that path).
   */
  constructor(
    private readonly bitmap: Bitmap,
    private readonly dataStart: number,
    private readonly nblocks: number,
    private readonly owned: BlockSet,
    private readonly held: BlockSet,
    private readonly ownerOf: (block: number) => string,
  ) {
    this.cursor = dataStart;
  }

  /**
   * Up to `want` blocks, as one run, near `goal`; null when the pool has no
   * free block outside `pending` and `held`. EUCLEAN, naming the blocks,
   * when the bitmap offers blocks that are owned.
   */
  allocate(goal: number | undefined, want: number, pending: readonly Run[]): Run | null {
    let g = goal === undefined || goal < this.dataStart || goal >= this.nblocks ? this.cursor : goal;
    if (g >= this.nblocks) g = this.dataStart;
    for (let attempt = 0; attempt < 2 * (pending.length + this.held.runCount) + 2; attempt++) {
      const run = this.bitmap.find(g, want, 1);
      if (!run) return null;
      const overlapping = pending.filter((p) => p.start < run.start + run.length && run.start < p.start + p.length);
      const held = this.held.size === 0 ? undefined : this.held.firstOverlap(run.start, run.length);
      if (held) overlapping.push(held);
      if (overlapping.length === 0) return this.taken(run);
      overlapping.sort((a, b) => a.start - b.start);
      const first = overlapping[0]!;
      if (first.start > run.start) return this.taken({ start: run.start, length: first.start - run.start });
      g = Math.max(...overlapping.filter((p) => p.start <= run.start).map((p) => p.start + p.length));
      if (g >= this.nblocks) g = this.dataStart;
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

  private taken(run: Run): Run {
    const owned = this.owned.firstOverlap(run.start, run.length);
    if (owned) {
      const from = Math.max(owned.start, run.start);
      const to = Math.min(owned.start + owned.length, run.start + run.length);
      throw daxfsError(
        'EUCLEAN',
        `bitmap: blocks ${from}..${to - 1} are marked free but belong to ${this.ownerOf(from)}: not handing them out (the bitmap is damaged; check({ repair: true }) marks them in use again)`,
      );
    }
    this.cursor = run.start + run.length;
    return run;
  }
}
