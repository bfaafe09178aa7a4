// The namespace: names to inodes — lookups, creating an inode, unlink,
// rename, listing and stat, and publishing or discarding temporaries (see
// temporary.ts). Each change is one transaction.
//
// Invariants: a name is taken by at most one file, and a rename replaces a
// target in the same transaction that gives the new name; an unlinked file
// still in use (open, mapped or with a transfer in flight) becomes an
// orphan that keeps its blocks until its last user goes (handles.ts);
// names of damaged files answer EUCLEAN, and names reserved for files a
// repair sets aside are refused for new files; temporaries are neither
// listed nor counted.
import { daxfsError } from '../errors.js';
import { describeDamaged, isReservedName, QUARANTINE_PREFIX } from './damage.js';
import { checkName, cloneInode, blocksInsideEof, makeInode, FLAG_ORPHAN, FLAG_USED, type Inode } from './inode.js';
import { BLOCK } from './layout.js';
import { commit, releaseInode } from './commit.js';
import type { PoolFile } from './file.js';
import { ensureOpen, ensureWritable, type PoolState } from './state.js';
import { isTemporaryName } from './temporary.js';
import { growInodeTable } from './table-growth.js';
import { Txn } from './txn.js';
import type { FileStat } from './types.js';

function inodeByName(s: PoolState, name: string): Inode {
  const ino = s.names.get(name);
  if (ino === undefined) {
    refuseDamaged(s, name);
    throw daxfsError('ENOENT', `no file named '${name}'`);
  }
  return s.inodes.get(ino)!;
}

/** EUCLEAN naming the file, when `name` is a damaged file's. */
export function refuseDamaged(s: PoolState, name: string): void {
  if (s.damagedNames.size === 0) return; // the usual pool: no string lookup
  const ino = s.damagedNames.get(name);
  if (ino === undefined || s.names.has(name)) return;
  const d = s.damaged.get(ino)!;
  throw daxfsError('EUCLEAN', `${describeDamaged(d)} (check({ repair: true }) sets what can be recovered of it aside under a '${QUARANTINE_PREFIX}' name)`);
}

/** A name a new file may take: not one reserved for files a repair sets aside. */
export function checkNewName(name: string, what = 'name'): void {
  if (isReservedName(name))
    throw daxfsError('EINVAL', `${what} '${name}' is reserved: names starting with '${QUARANTINE_PREFIX}' are kept for files a repair sets aside`);
}

export function createInode(s: PoolState, name: string): number {
  ensureWritable(s);
  const txn = new Txn();
  let ino = s.freeInodes.take();
  const reused = ino !== undefined;
  if (ino === undefined) {
    if (s.sb.inodeHighWater >= s.table.capacity) growInodeTable(s);
    ino = s.sb.inodeHighWater;
    txn.highWater = ino + 1;
  }
  txn.nextGeneration = s.sb.nextGeneration + 1;
  txn.put(makeInode(ino, FLAG_USED, name, 0, Date.now(), s.sb.nextGeneration, [], []));
  try {
    commit(s, txn);
  } catch (e) {
    if (reused) s.freeInodes.add(ino);
    throw e;
  }
  return ino;
}

function statOf(s: PoolState, inode: Inode): FileStat {
  const st: FileStat = {
    name: inode.name,
    ino: inode.ino,
    size: inode.size,
    allocated: blocksInsideEof(inode) * BLOCK,
    mtimeMs: inode.mtimeMs,
    extents: inode.extents.length,
  };
  const d = s.damaged.get(inode.ino);
  if (d) st.damaged = d.reason; // a salvage mount's recovered view
  return st;
}

/** Every file, sorted by name; damaged files too, marked `damaged`. */
export function list(s: PoolState): FileStat[] {
  ensureOpen(s);
  // every linked file, read without keeping its inode (inode-store.ts): a list of millions of files holds the list, not the inodes too
  const files: FileStat[] = [];
  for (const inode of s.inodes.all()) if (!(inode.flags & FLAG_ORPHAN) && !isTemporaryName(inode.name)) files.push(statOf(s, inode));
  if (!s.salvage)
    for (const ino of s.damagedNames.values()) {
      const d = s.damaged.get(ino)!;
      // what the block map holds is not known: nothing is counted as allocated
      files.push({ name: d.name, ino, size: d.size ?? 0, allocated: 0, mtimeMs: d.mtimeMs, extents: d.extents.length, damaged: d.reason });
    }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function stat(s: PoolState, name: string): FileStat {
  ensureOpen(s);
  return statOf(s, inodeByName(s, checkName(name)));
}

/** Removes a name. A file still open keeps its blocks until its last handle closes. */
export function unlink(s: PoolState, name: string): void {
  ensureWritable(s);
  const inode = inodeByName(s, checkName(name));
  const txn = new Txn();
  unlinkInTxn(s, txn, inode);
  commit(s, txn);
}

function unlinkInTxn(s: PoolState, txn: Txn, inode: Inode): void {
  if ((s.openCount.get(inode.ino) ?? 0) > 0 || s.pins.has(inode.ino)) {
    const orphan = cloneInode(inode);
    orphan.flags = FLAG_USED | FLAG_ORPHAN;
    orphan.name = '';
    txn.put(orphan);
  } else {
    releaseInode(txn, inode);
  }
}

/** Renames `from` to `to`, atomically replacing an existing `to`. */
export function rename(s: PoolState, from: string, to: string): void {
  ensureWritable(s);
  checkName(from, 'from');
  checkName(to, 'to');
  const inode = inodeByName(s, from);
  if (from === to) return;
  refuseDamaged(s, to);
  checkNewName(to, 'to');
  renameInode(s, inode, to);
}

/** Gives `inode` the name `to` in one transaction, unlinking a file that had it. */
function renameInode(s: PoolState, inode: Inode, to: string): void {
  if (inode.name === to) return;
  const txn = new Txn();
  const target = s.names.get(to);
  if (target !== undefined) unlinkInTxn(s, txn, s.inodes.get(target)!);
  const renamed = cloneInode(inode);
  renamed.name = to;
  txn.put(renamed);
  commit(s, txn);
}

/** Renames the temporary `file` (still open) to `name`, atomically replacing a file of that name. */
export function publishTemporary(s: PoolState, file: PoolFile, name: string): void {
  ensureWritable(s);
  checkName(name);
  renameInode(s, temporaryOf(s, file), name);
}

/** Closes the temporary `file` and removes it. */
export function discardTemporary(s: PoolState, file: PoolFile): void {
  ensureWritable(s);
  const inode = temporaryOf(s, file);
  file.close();
  const txn = new Txn();
  unlinkInTxn(s, txn, s.inodes.get(inode.ino) ?? inode);
  commit(s, txn);
}

function temporaryOf(s: PoolState, file: PoolFile): Inode {
  const { name, ino } = file.stat(); // EBADF for a closed or stale handle
  if (!isTemporaryName(name) || s.names.get(name) !== ino) throw daxfsError('EINVAL', 'file is not a temporary of this pool');
  return s.inodes.get(ino)!;
}

/** Files with a name of their own (temporaries are not counted). */
export function fileCount(s: PoolState): number {
  return s.names.size - s.names.temporaryCount;
}
