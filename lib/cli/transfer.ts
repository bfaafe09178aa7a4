// daxfs put and get: copies between a pool and an ordinary file that never
// leave the destination half-written. put fills a temporary file in the pool
// and renames it over the old one; get fills a temporary file beside its
// output and renames it into place. Neither may write into the pool's own
// backing file.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import path from 'node:path';

import { daxfsError } from '../errors.js';
import { checkName } from '../pool/inode.js';
import type { PoolFile } from '../pool/file.js';
import { Pool } from '../pool/pool.js';
import { Progress } from './progress.js';
import { formatSize } from '../units.js';

const CHUNK = 8 << 20;

function identity(st: BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

/** The identity (device and inode) of `file`, following symbolic links; undefined when there is none. */
function identityOf(file: string): string | undefined {
  try {
    return identity(statSync(file, { bigint: true }));
  } catch {
    return undefined;
  }
}

/** Copies the file `source` into the pool as `name`, replacing a file of that name atomically; returns the bytes copied. */
export function put(poolPath: string, source: string, name: string): number {
  checkName(name);
  const fd = openSync(source, 'r');
  try {
    const st = fstatSync(fd, { bigint: true });
    if (identity(st) === identityOf(poolPath)) throw daxfsError('EINVAL', `the source '${source}' is the pool itself`);
    const total = Number(st.size);
    const pool = Pool.open(poolPath);
    try {
      const tmp = pool.createTemporary();
      let done: number;
      try {
        done = fill(fd, tmp, st.isFile() ? total : -1, name);
        pool.publishTemporary(tmp, name);
      } catch (e) {
        try {
          pool.discardTemporary(tmp);
        } catch {
          // the pool's next read-write mount removes it: this process is gone by then
        }
        throw e;
      }
      tmp.close();
      return done;
    } finally {
      pool.close();
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads `fd` to its end into `file`; `total` is the source's size, -1 when it has none (a pipe). */
function fill(fd: number, file: PoolFile, total: number, name: string): number {
  const chunk = Buffer.alloc(total < 0 ? CHUNK : Math.min(CHUNK, Math.max(total, 1)));
  const progress = new Progress(`put ${name}`);
  let done = 0;
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    const written = file.write(chunk, done, 0, n);
    if (written < n) throw daxfsError('ENOSPC', `the pool is full after ${formatSize(done + written)} of '${name}'`);
    done += n;
    progress.update(done, Math.max(total, done));
  }
  progress.done();
  return done;
}

/**
 * Copies `name` out of the pool to `output` ('-': stdout); returns the bytes
 * copied. A regular file (new or existing) is written as a temporary file in
 * its directory, made durable, then renamed over it: the old file stays whole
 * until the new one is. Anything else that exists (a device, a FIFO) is
 * written in place. The output may never be the pool itself.
 */
export function get(poolPath: string, name: string, output: string): number {
  const pool = Pool.open(poolPath, { readOnly: true });
  try {
    const poolId = identityOf(poolPath);
    const refuse = (what: string) => daxfsError('EINVAL', `${what} is the pool itself: get would overwrite the pool it reads`);
    const f = pool.open(name);
    try {
      if (output === '-') {
        if (identity(fstatSync(1, { bigint: true })) === poolId) throw refuse('stdout');
        return copyOut(f, 1, name);
      }
      let target = output;
      try {
        target = realpathSync(output); // write through symbolic links, as cp does
      } catch {
        // nothing there yet
      }
      let st;
      try {
        st = statSync(target);
      } catch {
        st = undefined;
      }
      if (st && identityOf(target) === poolId) throw refuse(`'${output}'`);
      if (st?.isDirectory()) throw daxfsError('EISDIR', `'${output}' is a directory`);
      if (st && !st.isFile()) {
        const fd = openSync(target, constants.O_WRONLY);
        try {
          return copyOut(f, fd, name);
        } finally {
          closeSync(fd);
        }
      }
      return replaceWith(target, st, (fd) => copyOut(f, fd, name));
    } finally {
      f.close();
    }
  } finally {
    pool.close();
  }
}

/**
 * Writes a temporary file beside `target` with `write`, makes it durable and
 * renames it over `target`; removes it if anything fails. It gets the mode
 * (and, for root, the owner) of the file it replaces, or 0600 for a new file.
 */
function replaceWith(target: string, old: { mode: number; uid: number; gid: number } | undefined, write: (fd: number) => number): number {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.daxfs-get-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number | undefined = openSync(tmp, 'wx', 0o600);
  try {
    fchmodSync(fd, old ? old.mode & 0o777 : 0o600);
    if (old && process.getuid!() === 0) fchownSync(fd, old.uid, old.gid);
    const n = write(fd);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
    return n;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}

function copyOut(f: PoolFile, fd: number, name: string): number {
  const chunk = Buffer.alloc(Math.min(CHUNK, Math.max(f.size, 1)));
  const progress = new Progress(`get ${name}`);
  let done = 0;
  for (;;) {
    const n = f.read(chunk, done);
    if (n === 0) break;
    for (let at = 0; at < n; ) at += writeSync(fd, chunk, at, n - at);
    done += n;
    progress.update(done, f.size);
  }
  progress.done();
  return done;
}
