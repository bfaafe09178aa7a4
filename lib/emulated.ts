// Where emulated pmem goes when the user names no device: a file on tmpfs
// (/dev/shm) when there is one, so that stores live in RAM as they would on
// pmem; else the temporary directory (page-cache backed, msync mode). Either
// way inside a directory of the user's own (daxfs-<uid>, mode 0700), so that
// no other user can open, list or swap what a run keeps there.
import { chmodSync, closeSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { daxfsError } from './errors.js';

const TMPFS_MAGIC = 0x01021994;

function sharedParent(): string {
  try {
    if (statfsSync('/dev/shm').type === TMPFS_MAGIC) return '/dev/shm';
  } catch {
    // no /dev/shm here
  }
  return os.tmpdir();
}

/**
 * The user's private directory under `parent`: created (0700) when missing;
 * refused (EACCES) when something else has the name — a symbolic link (never
 * followed), a file, or a directory of another owner or with another mode
 * (another user could have made it to watch or replace what goes in it).
 */
export function privateDir(parent: string): string {
  const uid = process.getuid!();
  const dir = path.join(parent, `daxfs-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
    // mkdir applies the umask; the parent is sticky (others cannot swap the
    // new directory), so setting the mode by name reaches the one just made
    chmodSync(dir, 0o700);
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;
  }
  const st = lstatSync(dir);
  const refuse = (why: string) => daxfsError('EACCES', `'${dir}' ${why}: emulated pmem must go in a directory private to uid ${uid}; remove it (daxfs creates it, mode 0700)`);
  if (st.isSymbolicLink()) throw refuse('is a symbolic link');
  if (!st.isDirectory()) throw refuse('is not a directory');
  if (st.uid !== uid) throw refuse(`belongs to uid ${st.uid}`);
  if ((st.mode & 0o777) !== 0o700) throw refuse(`has mode 0${(st.mode & 0o777).toString(8)}, not 0700`);
  return dir;
}

/** The directory for emulated pmem files of this user on this machine (created if missing). */
export function emulatedPmemDir(): string {
  return privateDir(sharedParent());
}

/** A fresh path for an emulated pmem file. */
export function emulatedPmemPath(name: string): string {
  return path.join(emulatedPmemDir(), `daxfs-${name}-${process.pid}-${Date.now()}`);
}

/** Removes a file, ignoring that it may not exist. */
export function removeQuietly(file: string): void {
  rmSync(file, { force: true });
}

/**
 * A file whose name is already gone: one descriptor keeps it alive, and
 * `path` (/proc/self/fd/N) opens it again for as long as that descriptor is
 * open. A process that is killed, even with SIGKILL, leaves nothing behind:
 * the kernel frees the file's memory when its last descriptor and mapping go.
 */
export interface UnlinkedFile {
  /** Opens the file again (in this process only). */
  readonly path: string;
  /** The name it had, for messages. */
  readonly name: string;
  /** Closes the descriptor that keeps the file alive; regions opened on `path` stay valid. */
  close(): void;
}

function unlinked(name: string, fd: number): UnlinkedFile {
  let open = true;
  return {
    path: `/proc/self/fd/${fd}`,
    name,
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** Opens `name` (an existing file), then removes its name at once. */
export function unlinkKeepingOpen(name: string): UnlinkedFile {
  const fd = openSync(name, 'r+');
  try {
    unlinkSync(name);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return unlinked(name, fd);
}

/**
 * Creates emulated pmem of `size` bytes named after `label`, and removes the
 * name before anything else is done with it.
 */
export function createUnlinkedPmem(label: string, size: number): UnlinkedFile {
  const name = emulatedPmemPath(label);
  const fd = openSync(name, 'wx+', 0o600);
  try {
    unlinkSync(name);
    ftruncateSync(fd, size);
  } catch (e) {
    closeSync(fd);
    removeQuietly(name);
    throw e;
  }
  return unlinked(name, fd);
}

/**
 * Removes every name in the emulated directory that `pid` made (names carry
 * their maker's pid, see emulatedPmemPath): what a benchmark process killed
 * by its parent may leave, such as the directory of small files that a
 * node:fs comparison needs named. Returns the names removed.
 */
export function removeLeftoversOf(pid: number): string[] {
  const dir = emulatedPmemDir();
  const mine = new RegExp(`^daxfs-.+-${pid}-\\d+(\\..*)?$`);
  const names = readdirSync(dir).filter((n) => mine.test(n));
  for (const n of names) rmSync(path.join(dir, n), { recursive: true, force: true });
  return names;
}
