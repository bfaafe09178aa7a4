// Space is real before it is promised: a pool reserves its backing at
// format, or — formatted sparse — each block's range as it is allocated, so
// that a full file system fails the operation with ENOSPC and changes
// nothing. The cases run on a small tmpfs mounted for this file.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { daxfs } from '../cli-helpers.js';
import { expectCode, pattern, smallFileSystem, tmpfsDir, uniquePath } from '../helpers.js';

const roomy = tmpfsDir();
const MiB = 2 ** 20;
const BLOCK = 4096;
const fs = smallFileSystem(24 * MiB);
if (fs.skip) console.log(fs.skip);
const ramfs = smallFileSystem(0, 'ramfs');
if (ramfs.skip) console.log(ramfs.skip);

/** Fills the file system holding `dir` with a file of its own, until ENOSPC; returns the file's path. */
function fill(dir: string, name = 'filler'): string {
  const file = path.join(dir, name);
  const fd = openSync(file, 'a');
  const chunk = Buffer.alloc(64 * 1024, 0xee);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  // what is left is less than a page
  for (let n = 2048; n >= 1; n = Math.floor(n / 2)) {
    const fd2 = openSync(file, 'a');
    try {
      writeSync(fd2, Buffer.alloc(n));
    } catch {
      // full
    } finally {
      closeSync(fd2);
    }
  }
  return file;
}

async function codeOfAsync(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe.skipIf(fs.skip !== undefined)('space is real before it is promised', () => {
  const dir = fs.dir!;

  it('full-fs-format-refuses: a pool larger than the file system is refused with ENOSPC saying how much is free, and leaves nothing', () => {
    const file = path.join(dir, 'too-big.pool');
    expectCode(() => Pool.format(file, { size: 64 * MiB }), 'ENOSPC', /has no space for a pool of 64\.0 MiB: .*sparse pool.*\(\d+(\.\d+)? MiB free there\)/);
    expect(readdirSync(dir)).toEqual([]);
    const cli = daxfs('mkfs', file, '--size', '64M');
    expect(cli.code).not.toBe(0);
    expect(cli.err).toMatch(/ENOSPC.*has no space for a pool of 64\.0 MiB/);
    expect(readdirSync(dir)).toEqual([]);
    // an existing empty file given a size is emptied again
    closeSync(openSync(file, 'w'));
    expectCode(() => Pool.format(file, { size: 64 * MiB }), 'ENOSPC');
    expect(statSync(file).size).toBe(0);
    rmSync(file);
  });

  it('a reserved pool is all allocated at format; a sparse one only its metadata', () => {
    const reserved = Pool.format(path.join(dir, 'reserved.pool'), { size: 4 * MiB });
    expect(reserved.info()).toMatchObject({ sparse: false, backedBytes: 4 * MiB });
    reserved.close();
    const sparse = Pool.format(path.join(dir, 'sparse.pool'), { size: 64 * MiB, sparse: true });
    const info = sparse.info();
    expect(info.sparse).toBe(true);
    expect(info.backedBytes).toBe(sparse.superblock().dataStart * BLOCK);
    sparse.close();
    expect(daxfs('info', path.join(dir, 'sparse.pool')).out).toMatch(/backing {5}sparse: [\d.]+ [KM]iB of 64\.0 MiB allocated, the rest as blocks are allocated/);
    expect(daxfs('info', path.join(dir, 'reserved.pool')).out).toMatch(/backing {5}reserved: all 4\.00 MiB allocated/);
    expectCode(() => Pool.format(path.join(dir, 'x.pool'), { size: 4 * MiB, sparse: 'yes' as unknown as boolean }), 'EINVAL', /sparse must be a boolean/);
    rmSync(path.join(dir, 'reserved.pool'));
    rmSync(path.join(dir, 'sparse.pool'));
  });

  it('full-fs-sparse-pool-enospc: every allocating operation fails with ENOSPC and changes nothing; freed blocks and freed space are used again', async () => {
    const file = path.join(dir, 'fill.pool');
    const pool = Pool.format(file, { size: 64 * MiB, sparse: true });
    try {
      const a = pool.open('a', { create: true });
      a.write(pattern(256 * 1024, 1), 0);
      const b = pool.open('b', { create: true });
      b.write(pattern(64 * 1024, 2), 0);
      const filler = fill(dir);
      const before = { a: a.stat(), b: b.stat(), free: pool.info().freeBlocks };
      const expectUnchanged = () => {
        expect(a.stat()).toEqual(before.a);
        expect(b.stat()).toEqual(before.b);
        expect(pool.info().freeBlocks).toBe(before.free);
        const got = Buffer.alloc(256 * 1024);
        a.read(got, 0);
        expect(got.equals(pattern(256 * 1024, 1))).toBe(true);
        expect(pool.check().problems).toEqual([]);
      };
      const noSpace = /ENOSPC|has no space for pool blocks? \d+/;
      expectCode(() => a.write(pattern(4 * MiB, 3), 256 * 1024), 'ENOSPC', /no space for pool block/);
      expectUnchanged();
      expectCode(() => b.allocate(0, 8 * MiB), 'ENOSPC', noSpace);
      expectUnchanged();
      expectCode(() => pool.open('c', { create: true }).write(pattern(2 * MiB, 4), 0), 'ENOSPC', noSpace);
      pool.unlink('c');
      expectUnchanged();
      expect(await codeOfAsync(a.writeAsync(pattern(4 * MiB, 5), 512 * 1024))).toBe('ENOSPC');
      expectUnchanged();
      // a store through a mapping into a hole: the write fault cannot allocate
      b.truncate(8 * MiB);
      const sizeAfterTruncate = b.stat();
      const m = b.map({ length: 8 * MiB, write: true, huge: false });
      expectCode(() => m.fault(4 * MiB, { write: true }), 'ENOSPC', noSpace);
      expect(b.stat()).toEqual(sizeAfterTruncate);
      m.unmap();
      b.truncate(64 * 1024);
      before.b = b.stat(); // the truncates changed its mtime, nothing else
      expectUnchanged();
      // overwriting blocks a file has needs no space
      a.write(pattern(256 * 1024, 6), 0);
      const got = Buffer.alloc(256 * 1024);
      a.read(got, 0);
      expect(got.equals(pattern(256 * 1024, 6))).toBe(true);
      // blocks a file frees are backed: a new file gets them though the file system is still full
      a.close();
      pool.unlink('a');
      const d = pool.open('d', { create: true });
      d.write(pattern(128 * 1024, 7), 0);
      const back = Buffer.alloc(128 * 1024);
      d.read(back, 0);
      expect(back.equals(pattern(128 * 1024, 7))).toBe(true);
      expect(pool.check().problems).toEqual([]);
      // space freed on the file system is used again
      rmSync(filler);
      d.write(pattern(4 * MiB, 8), 128 * 1024);
      expect(d.stat().size).toBe(128 * 1024 + 4 * MiB);
      expect(pool.check().problems).toEqual([]);
      d.close();
      b.close();
    } finally {
      pool.close();
      rmSync(path.join(dir, 'filler'), { force: true });
      rmSync(file, { force: true });
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe.skipIf(fs.skip !== undefined)('the backing fails under the engine', () => {
  it('a fault after the commit point stops the pool; the next open replays, or fails cleanly while the backing still cannot take it', () => {
    const dir = fs.dir!;
    // A pool whose inode table has a page its file system never allocated
    // (copied sparse): the journal and the first inodes are backed, the
    // page of inodes 8..15 is a hole.
    const made = uniquePath(roomy, 'pool');
    const pool0 = Pool.format(made, { size: 4 * MiB });
    for (let i = 0; i < 8; i++) {
      const h = pool0.open(`f${i}`, { create: true });
      h.write(pattern(1000, i), 0);
      h.close();
    }
    pool0.close();
    const file = path.join(dir, 'holes.pool');
    execFileSync('cp', ['--sparse=always', made, file]);
    const filler = fill(dir);

    const pool = Pool.open(file);
    expect(pool.info().sparse).toBe(true);
    // creating a ninth file commits, then applying its inode faults: the operation fails, the pool stops
    expectCode(() => pool.open('ninth', { create: true }), 'ENOSPC', /no space to back the page at offset \d+.*the change is committed but not applied: pool '.*' stopped/);
    expectCode(() => pool.list(), 'EIO', /stopped: a committed transaction could not be applied/);
    pool.close();
    // a read-write open replays and faults again: a clean error, the process alive
    expectCode(() => Pool.open(file), 'ENOSPC', /no space to back the page at offset/);
    // a read-only open recovers in memory
    const ro = Pool.open(file, { readOnly: true });
    expect(ro.list().map((st) => st.name).sort()).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'ninth']);
    ro.close();
    // once the file system has room, the open applies it
    rmSync(filler);
    const again = Pool.open(file);
    expect(again.info().recovery).toEqual({ replayed: true, records: expect.any(Number) });
    expect(again.list().map((st) => st.name).sort()).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'ninth']);
    for (let i = 0; i < 8; i++) {
      const got = Buffer.alloc(1000);
      again.open(`f${i}`).read(got, 0);
      expect(got.equals(pattern(1000, i))).toBe(true);
    }
    expect(again.check().problems).toEqual([]);
    again.close();
    rmSync(file);
  });
});

describe.skipIf(ramfs.skip !== undefined)('a file system that cannot reserve space (ramfs)', () => {
  it('refuses a reserved pool, naming the way out; a sparse pool works', () => {
    const dir = ramfs.dir!;
    const file = path.join(dir, 'p.pool');
    expectCode(() => Pool.format(file, { size: 8 * MiB }), 'ENOTSUP', /cannot reserve space ahead of use \(fallocate: ENOTSUP\): ask for a sparse pool/);
    expect(readdirSync(dir)).toEqual([]);
    const pool = Pool.format(file, { size: 8 * MiB, sparse: true });
    const f = pool.open('a', { create: true });
    f.write(pattern(64 * 1024, 3), 0);
    const got = Buffer.alloc(64 * 1024);
    f.read(got, 0);
    expect(got.equals(pattern(64 * 1024, 3))).toBe(true);
    f.close();
    expect(pool.check().problems).toEqual([]);
    pool.close();
    rmSync(file);
  });
});
