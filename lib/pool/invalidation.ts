// What a transaction does to mappings and to in-flight copies, in the
// phases commit() runs it in (see lib/map/invalidation.ts):
//
//   prepare (before the commit point)  each changed file's address space
//            finds what its mappings will need, and the byte ranges of the
//            blocks the transaction frees are noted; nothing changes, so
//            a transaction that then fails to commit leaves every mapping
//            as it was;
//   apply (after the commit point, before the change is installed in
//            memory — only that makes freed blocks reusable)  pages let go
//            of the blocks taken away and pages past a smaller EOF are torn
//            down, then every asynchronous copy still touching a freed
//            block is waited out;
//   fill (after the install)  holes the transaction filled are shown.
import type { FileMapping } from '../map/mapping.js';
import { SpaceChange, type FillExclusion } from '../map/invalidation.js';
import type { Inode } from './inode.js';
import { BLOCK } from './layout.js';
import type { PoolState } from './state.js';
import type { Txn } from './txn.js';

/** One file's mappings whose fault-service targets follow the change over file blocks [from, to). */
interface Retarget {
  members: readonly FileMapping[];
  next: Inode;
  from: number;
  to: number;
}

export class PreparedInvalidation {
  constructor(
    /** Undefined only for a transaction that frees nothing. */
    private readonly s: PoolState | undefined,
    private readonly changes: readonly SpaceChange<FileMapping>[],
    /** Region byte ranges of the blocks the transaction frees. */
    private readonly freed: readonly { offset: number; length: number }[],
    private readonly retargets: readonly Retarget[] = [],
  ) {}

  /** After the commit point: no page shows a block taken away, nor anything past EOF; no copy touches a freed block. */
  apply(): void {
    // The targets first: a plain access after this sees the new layout.
    for (const r of this.retargets) for (const m of r.members) m.retarget(r, r.next);
    for (const change of this.changes) change.tearDown();
    for (const r of this.freed) this.s!.region.waitIdle(r.offset, r.length);
  }

  /** After the install: holes filled show their blocks, except the pages `faulting` maps itself. */
  fill(faulting: FillExclusion | undefined): void {
    for (const change of this.changes) change.fill(faulting);
  }
}

/** A transaction that frees nothing in a pool with no mapping: nothing to do (most creates and writes). */
const NOTHING_TO_INVALIDATE = new PreparedInvalidation(undefined, [], []);

/** Prepare: changes nothing. */
export function prepareInvalidation(s: PoolState, txn: Txn): PreparedInvalidation {
  if (s.spaces.size === 0 && txn.freed.length === 0) return NOTHING_TO_INVALIDATE;
  const changes: SpaceChange<FileMapping>[] = [];
  const retargets: Retarget[] = [];
  if (s.spaces.size !== 0) {
    for (const inode of txn.inodes.values()) {
      const space = s.spaces.get(inode.ino);
      const old = s.inodes.get(inode.ino);
      if (!space || !old) continue;
      const [from, to] = txn.touched(inode.ino) ?? [0, 2 ** 32];
      const change = SpaceChange.prepare(space, old, inode, from, to);
      if (change) changes.push(change);
      const members = space.overlapping(from, to);
      if (members.length > 0) retargets.push({ members, next: inode, from, to });
    }
  }
  const freed = txn.freed.map((run) => ({ offset: run.start * BLOCK, length: run.length * BLOCK }));
  return new PreparedInvalidation(s, changes, freed, retargets);
}
