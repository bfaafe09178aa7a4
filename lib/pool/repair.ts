// check() on a mounted pool, and its repairs: check.ts finds the problems
// (from the state this module hands it); this module fixes what can be
// fixed without guessing and sets damaged files aside.
//
// Invariants: every repair is a journal transaction (one for each damaged
// file set aside, then one for everything else), so a crash leaves each of
// them done or not done; that last transaction is skipped while a block is
// owned twice or lies past the end (fixing the counts then would mean
// guessing an owner); blocks a damaged file may own stay held from the
// allocator until its quarantine decides what it keeps.
import { isDaxfsError } from '../errors.js';
import { claims, quarantineName, recoveredSize, recoverExtents, type DamagedInode } from './damage.js';
import { mappedBlocks } from './extents.js';
import { extentBlocksFor, makeInode, FLAG_USED } from './inode.js';
import { clearRuns, inspectPool, type CheckReport, type Inspection, type Problem } from './check.js';
import { commit, releaseInode } from './commit.js';
import { readTable } from './inode-table.js';
import { ownedRuns } from './mount.js';
import { ensureOpen, ensureWritable, type PoolState } from './state.js';
import { Txn } from './txn.js';

/**
 * Verifies the pool: superblocks, journal, every block map against the
 * bitmap (leaked blocks, blocks owned twice, blocks past the end), the free
 * count, inodes, names, orphans and damaged files. With `repair`, sets
 * each damaged file aside (one transaction each: see quarantine), then
 * fixes what can be fixed without guessing (leaks, unmarked blocks, the
 * free count, orphans, the backup superblock) in one transaction, and
 * reports the rest.
 */
export function check(s: PoolState, options: { repair?: boolean; onProgress?: (done: number, total: number) => void } = {}): CheckReport {
  ensureOpen(s);
  if (options.repair) ensureWritable(s);
  let found = inspect(s, options.onProgress);
  const repaired: Problem[] = [];
  if (options.repair && s.damaged.size > 0) {
    const damaged = found.problems.filter((p) => p.kind === 'damaged');
    for (const p of damaged) {
      try {
        quarantine(s, s.damaged.get(p.ino!)!);
        repaired.push(p);
      } catch (e) {
        if (!isDaxfsError(e)) throw e;
        p.message += ` (not set aside: ${e.message})`;
        p.repairable = false;
      }
    }
    // What the damaged files claimed and did not keep is now leaked: look again.
    const again = inspect(s, undefined);
    found = { ...again, problems: [...damaged, ...again.problems.filter((p) => p.kind !== 'damaged')], files: found.files };
  }
  if (options.repair) repaired.push(...repairFound(s, found));
  const remaining = found.problems.filter((p) => !repaired.includes(p));
  return { ok: remaining.length === 0, problems: found.problems, repaired, blocksChecked: s.sb.nblocks, filesChecked: found.files };
}

/** check() without repairs: the problems, and what a repair would need. */
function inspect(s: PoolState, onProgress: ((done: number, total: number) => void) | undefined): Inspection {
  return inspectPool(
    {
      region: s.region,
      sb: s.sb,
      inodes: s.inodes.all(),
      nameOf: (ino) => s.inodes.peek(ino)?.name,
      damaged: s.damaged,
      held: s.held,
      runs: ownedRuns(s),
      isOpen: (ino) => (s.openCount.get(ino) ?? 0) > 0,
      damageRepairable: !s.salvage,
      // a salvage mount may have set a damaged map aside: it checks the table it reads
      table: { chunks: s.table.chunks, onMedia: () => (s.sb.tableChunks === 0 ? [] : readTable(s.sb, (offset, target) => s.region.read(offset, target)).chunks) },
    },
    onProgress,
  );
}

/** The one transaction of a repair (everything but damaged files); the problems it fixed. */
function repairFound(s: PoolState, found: Inspection): Problem[] {
  const { problems, leaked, unmarked, orphans, free } = found;
  const fixable = problems.filter((p) => p.repairable && p.kind !== 'damaged');
  if (fixable.length === 0 || problems.some((p) => p.kind === 'double-owner' || p.kind === 'out-of-range')) return [];
  const txn = new Txn();
  txn.freed.push(...leaked);
  txn.allocated.push(...unmarked);
  for (const inode of orphans) releaseInode(txn, inode);
  const orphanBlocks = orphans.reduce((n, i) => n + i.extents.mappedBlocks() + i.extentBlocks.length, 0);
  // the free count from the bitmap as it will be, not from the (wrong) counter
  txn.freeBlocks = free + leaked.reduce((n, r) => n + r.length, 0) - unmarked.reduce((n, r) => n + r.length, 0) + orphanBlocks;
  commit(s, txn, { force: true });
  return fixable;
}

/**
 * Sets a damaged file aside, in one transaction: its inode slot becomes
 * the file `lost+found.<inode>` holding the extents recoverExtents keeps
 * (blocks of them the bitmap calls free are marked in use), with a new
 * generation; an unlinked one is freed. Its block map goes in its old
 * block-map blocks where they are nobody else's (a full pool can still
 * take it). What it claimed and does not keep is left to the leak repair
 * that follows.
 */
function quarantine(s: PoolState, d: DamagedInode): void {
  const txn = new Txn();
  const kept = d.orphan ? [] : recoverExtents(d, s.sb, s.owned);
  if (d.orphan) {
    txn.put(makeInode(d.ino, 0, '', 0, 0, 0, [], []));
  } else {
    const taken = (name: string) => s.names.has(name) || (s.damagedNames.has(name) && s.damagedNames.get(name) !== d.ino);
    txn.nextGeneration = s.sb.nextGeneration + 1;
    const map = d.chain.filter((b) => !s.owned.covers(b, 1)).slice(0, extentBlocksFor(kept.length));
    txn.put(makeInode(d.ino, FLAG_USED, quarantineName(d.ino, taken), recoveredSize(d, kept), d.mtimeMs, s.sb.nextGeneration, kept, map));
    for (const e of kept) txn.allocated.push(...clearRuns(s.bitmapWords, e.poolBlock, e.length));
    for (const b of map) txn.allocated.push(...clearRuns(s.bitmapWords, b, 1));
  }
  commit(s, txn);
  for (const e of kept) s.owned.add(e.poolBlock, e.length);
  for (const b of s.inodes.get(d.ino)?.extentBlocks ?? []) s.owned.add(b, 1);
  s.damaged.delete(d.ino);
  if (s.damagedNames.get(d.name) === d.ino) s.damagedNames.delete(d.name);
  s.held.clear();
  for (const other of s.damaged.values()) for (const r of claims(other, s.sb)) s.held.add(r.start, r.length);
}
