// Invalidating a file's mappings for one change of its layout or size, in
// phases around the change's commit (the kernel's order for truncate and
// punch hole, with the journal's commit point in the middle):
//
//   prepare   what changes (layout-diff) and which mappings see it: nothing
//             is touched, so a change that fails to commit leaves every
//             page as it was;
//   — the change commits —
//   tearDown  pages showing a block the change took away switch to what the
//             file shows now (zeros after a punch or zero range), pages past
//             a smaller EOF are torn down; the caller does this before the
//             freed blocks can be handed out again (they become reusable
//             only when the pool installs the change in memory, after this);
//   fill      pages showing zeros where the change put a written block
//             switch to it, except the pages a faulting mapping is about to
//             map itself.
import type { Inode } from '../pool/inode.js';
import { BLOCK } from '../pool/layout.js';
import type { AddressSpace, SpaceMember } from './address-space.js';
import { layoutChanges, type BlockRange } from './layout-diff.js';

/** Pages a write fault maps itself once its own transaction commits: the fill skips them. */
export interface FillExclusion {
  mapping: SpaceMember;
  /** Pages of that mapping, [from, to). */
  from: number;
  to: number;
}

/** What invalidation needs of a mapping. */
export interface InvalidatedMember extends SpaceMember {
  retarget(range: BlockRange, next: Inode): void;
  letGo(ranges: readonly BlockRange[], next: Inode): void;
  cutAtEof(next: Inode): void;
  eofMoved(next: Inode): void;
  fill(ranges: readonly BlockRange[], next: Inode, exclude: FillExclusion | undefined): void;
}

/** One file's share of a change, prepared: the mappings each phase visits. */
export class SpaceChange<M extends InvalidatedMember> {
  private constructor(
    private readonly next: Inode,
    /** Mappings overlapping each range that lost its block. */
    private readonly lost: readonly { range: BlockRange; members: readonly M[] }[],
    /** Mappings with pages past the new, smaller EOF. */
    private readonly cut: readonly M[],
    /** Mappings with pages between the old and the new EOF (the size changed). */
    private readonly resized: readonly M[],
    /** Mappings overlapping each range that gained a written block. */
    private readonly gained: readonly { range: BlockRange; members: readonly M[] }[],
  ) {}

  /**
   * Prepare: compares the file's layout before and after over file blocks
   * [from, to) and finds the mappings of `space` each phase will visit.
   * Null when no mapping sees the change.
   */
  static prepare<M extends InvalidatedMember>(space: AddressSpace<M>, before: Inode, after: Inode, from: number, to: number): SpaceChange<M> | null {
    const changes = layoutChanges(before.extents, after.extents, from, to);
    const lost = changes.lost.map((range) => ({ range, members: space.overlapping(range.from, range.to) })).filter((l) => l.members.length > 0);
    const gained = changes.gained.map((range) => ({ range, members: space.overlapping(range.from, range.to) })).filter((g) => g.members.length > 0);
    const cut = after.size < before.size ? space.overlapping(Math.ceil(after.size / BLOCK), 2 ** 32) : [];
    const [low, high] = [Math.min(before.size, after.size), Math.max(before.size, after.size)];
    const resized = low === high ? [] : space.overlapping(Math.floor(low / BLOCK), Math.ceil(high / BLOCK) + 1);
    if (lost.length === 0 && gained.length === 0 && cut.length === 0 && resized.length === 0) return null;
    return new SpaceChange(after, lost, cut, resized, gained);
  }

  /**
   * After the commit, before the freed blocks can be reused: every mapping
   * the size change concerns knows the new EOF, no page shows a block taken
   * away, none lies past EOF.
   */
  tearDown(): void {
    for (const m of this.resized) m.eofMoved(this.next);
    for (const { range, members } of this.lost) for (const m of members) m.letGo([range], this.next);
    for (const m of this.cut) m.cutAtEof(this.next);
  }

  /** After the change is installed: holes it filled show their new blocks. */
  fill(exclude: FillExclusion | undefined): void {
    for (const { range, members } of this.gained) for (const m of members) m.fill([range], this.next, exclude);
  }
}
