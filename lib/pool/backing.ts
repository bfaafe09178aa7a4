// The pool's backing path as found before anything is written to it: who
// may open it, and what formatting it would destroy.
import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';

import { daxfsError } from '../errors.js';
import { BLOCK, MAGIC } from './layout.js';

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined; // opening it reports why, with the system's own error
  }
}

/**
 * Refuses (EACCES) a backing that belongs to another user when its mode does
 * not give this user the access asked for, saying so. The kernel would
 * refuse the open too, with a bare EACCES; this names the owner and the mode.
 * Root is not refused (it reaches any file, as with every other tool).
 */
export function checkAccess(path: string, write: boolean): void {
  const uid = process.getuid!();
  if (uid === 0) return;
  const st = statOrUndefined(path);
  if (!st || st.uid === uid) return;
  const groups = new Set([process.getgid!(), ...process.getgroups!()]);
  const bits = groups.has(st.gid) ? (st.mode >> 3) & 7 : st.mode & 7;
  const need = write ? 6 : 4;
  if ((bits & need) === need) return;
  throw daxfsError(
    'EACCES',
    `'${path}' belongs to uid ${st.uid} and its mode 0${(st.mode & 0o777).toString(8)} does not let uid ${uid} open it ${write ? 'read-write' : 'read-only'} (its owner can share it with chmod, or create it with mkfs --mode)`,
  );
}

/** Whether either superblock slot of `path` starts with the pool magic (however damaged the rest). */
function hasPoolMagic(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const word = Buffer.alloc(8);
    for (const at of [0, BLOCK]) if (readSync(fd, word, 0, 8, at) === 8 && word.readBigUInt64LE(0) === MAGIC) return true;
    return false;
  } catch {
    return false; // device-dax has no read(): only a mount can tell
  } finally {
    closeSync(fd);
  }
}

/**
 * What formatting `path` would destroy, in words ("a daxfs pool with 3
 * files", "a file of 8192 bytes", "a device"); undefined when nothing: no
 * such path, or an empty file. A directory, block device, FIFO or socket is
 * left to the open, which refuses each by type. `countFiles` mounts the pool
 * read-only and counts its files (it throws when the pool cannot be mounted).
 */
export function describeExisting(path: string, countFiles: (path: string) => number): string | undefined {
  const st = statOrUndefined(path);
  if (!st || !(st.isFile() || st.isCharacterDevice()) || (st.isFile() && st.size === 0)) return undefined;
  const what = st.isFile() ? `a file of ${st.size} bytes` : 'a device';
  try {
    const n = countFiles(path);
    return `a daxfs pool with ${n} file${n === 1 ? '' : 's'}${st.isFile() ? '' : ' (on a device)'}`;
  } catch (e) {
    if (hasPoolMagic(path)) return `a daxfs pool that cannot be mounted read-only (${(e as Error).message})`;
    return what;
  }
}
