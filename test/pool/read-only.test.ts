// Read-only means read-only and cheap: a read-only open reserves no memory
// (pools larger than memory open), and a pool whose journal holds a
// committed transaction is served as recovered, replayed in the opener's
// private copy, with nothing written to the backing.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { BLOCK } from '../../lib/pool/layout.js';
import { daxfs } from '../cli-helpers.js';
import { pattern, tmpfsDir, uniquePath } from '../helpers.js';
import { poolWithPendingTransaction } from './helpers.js';

const dir = tmpfsDir();
const GiB = 2 ** 30;

/** RAM + swap, from /proc/meminfo: what the kernel's overcommit heuristic compares a private writable mapping against. */
function memoryAndSwap(): number {
  const info = readFileSync('/proc/meminfo', 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(info)?.[1] ?? 0);
  return (kib('MemTotal') + kib('SwapTotal')) * 1024;
}

describe('read-only opens', () => {
  it('readonly-open-of-a-pool-larger-than-memory: ls, info, check, get and stat work', () => {
    const overcommit = readFileSync('/proc/sys/vm/overcommit_memory', 'utf8').trim();
    const size = Math.ceil((memoryAndSwap() + 4 * GiB) / GiB) * GiB;
    console.log(`read-only open of a ${size / GiB} GiB sparse pool (RAM + swap ${(memoryAndSwap() / GiB).toFixed(1)} GiB, vm.overcommit_memory ${overcommit})`);
    const path = uniquePath(dir, 'big');
    const pool = Pool.format(path, { size, sparse: true });
    const f = pool.open('data', { create: true });
    f.write(pattern(3 * BLOCK, 9), 0);
    f.close();
    pool.close();
    const ro = Pool.open(path, { readOnly: true });
    try {
      expect(ro.list().map((s) => s.name)).toEqual(['data']);
      const got = Buffer.alloc(3 * BLOCK);
      ro.open('data').read(got, 0);
      expect(got.equals(pattern(3 * BLOCK, 9))).toBe(true);
      expect(ro.info().size).toBe(size);
    } finally {
      ro.close();
    }
    for (const argv of [['ls', path], ['info', path], ['check', path], ['stat', path, 'data'], ['get', path, 'data', uniquePath(dir, 'out')]])
      expect(daxfs(...argv), argv[0]).toMatchObject({ code: 0, err: '' });
  });

  it('readonly-open-replays-in-memory: a committed transaction is served as recovered, the backing is not written', () => {
    // The transactions committed but were not applied: the bitmap and the
    // inode table as before them, the journal holding the last one (which
    // carries the whole file: the inode with its size and map, and the
    // bitmap words), its commit word set.
    const { path, image } = poolWithPendingTransaction((pool) => {
      const f = pool.open('x', { create: true });
      f.write(pattern(5 * BLOCK, 4), 0);
      f.close();
    });

    const ro = Pool.open(path, { readOnly: true });
    try {
      expect(ro.info().recovery).toMatchObject({ replayed: true, inMemory: true });
      const got = Buffer.alloc(5 * BLOCK);
      ro.open('x').read(got, 0);
      expect(got.equals(pattern(5 * BLOCK, 4))).toBe(true);
      expect(ro.check().problems).toEqual([]);
    } finally {
      ro.close();
    }
    const ls = daxfs('ls', path, '--json');
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.out)).toMatchObject([{ name: 'x', size: 5 * BLOCK }]);
    const out = uniquePath(dir, 'got');
    expect(daxfs('get', path, 'x', out).code).toBe(0);
    expect(readFileSync(out).equals(pattern(5 * BLOCK, 4))).toBe(true);
    const check = daxfs('check', path);
    expect(check.code).toBe(0);
    expect(check.out).toMatch(/^note: journal: a committed transaction of \d+ records is pending; checked as replayed in memory \(the next read-write open replays it\)\nclean: 1 files/);
    // nothing reached the backing
    expect(readFileSync(path).equals(image)).toBe(true);
    // the next read-write open replays it for real
    const rw = Pool.open(path);
    expect(rw.info().recovery).toEqual({ replayed: true, records: expect.any(Number) });
    rw.close();
    expect(daxfs('check', path)).toMatchObject({ code: 0, out: expect.not.stringMatching(/note:/) });
  });
});
