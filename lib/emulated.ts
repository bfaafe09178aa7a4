// Where emulated pmem goes when the user names no device: a file on tmpfs
// (/dev/shm) when there is one, so that stores live in RAM as they would on
// pmem; else the temporary directory (page-cache backed, msync mode).
import { rmSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const TMPFS_MAGIC = 0x01021994;

/** The directory for emulated pmem files on this machine. */
export function emulatedPmemDir(): string {
  try {
    if (statfsSync('/dev/shm').type === TMPFS_MAGIC) return '/dev/shm';
  } catch {
    // no /dev/shm here
  }
  return os.tmpdir();
}

/** A fresh path for an emulated pmem file. */
export function emulatedPmemPath(name: string): string {
  return path.join(emulatedPmemDir(), `daxfs-${name}-${process.pid}-${Date.now()}`);
}

/** Removes a file, ignoring that it may not exist. */
export function removeQuietly(file: string): void {
  rmSync(file, { force: true });
}
