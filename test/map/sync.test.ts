// file.sync() and pool.sync() make stores through mappings durable, as the
// kernel's fsync does with dax_writeback_mapping_range: every page a write
// fault made writable is written back (its cache lines flushed, or msync),
// then one fence; pages only read, showing zeros, or private copies are
// not. Checked on the persist trace: which region bytes get flushed, and
// that a fence ends it.
import { afterEach, describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
const PAGE = 4096;
const pools: Pool[] = [];
afterEach(() => {
  for (const p of pools.splice(0)) p.close();
});

function fresh(): Pool {
  const p = Pool.format(uniquePath(shm, 'pool'), { size: 32 << 20 });
  pools.push(p);
  return p;
}

/** Flushed region ranges (merged, in order) and the kind of the last event. */
function flushesOf(log: Buffer): { ranges: [number, number][]; last: number } {
  const ranges: [number, number][] = [];
  let last = 0;
  for (let at = 0; at < log.length; ) {
    const kind = log[at]!;
    last = kind;
    if (kind === 1) at += 17 + Number(log.readBigUInt64LE(at + 9));
    else if (kind === 2) {
      const offset = Number(log.readBigUInt64LE(at + 1));
      const length = Number(log.readBigUInt64LE(at + 9));
      const prev = ranges[ranges.length - 1];
      if (prev && prev[1] === offset) prev[1] = offset + length;
      else ranges.push([offset, offset + length]);
      at += 17;
    } else at += kind === 4 ? 9 : 1;
  }
  return { ranges, last };
}

/** The region byte ranges of the file's pages `pages` (each page's own block). */
function blocksOf(f: ReturnType<Pool['open']>, pages: number[]): [number, number][] {
  return pages.map((p) => {
    const at = f.getBlock(p).poolBlock * PAGE;
    return [at, at + PAGE] as [number, number];
  });
}

function sortedUnion(ranges: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (const [a, b] of [...ranges].sort((x, y) => x[0] - y[0])) {
    const prev = out[out.length - 1];
    if (prev && prev[1] >= a) prev[1] = Math.max(prev[1], b);
    else out.push([a, b]);
  }
  return out;
}

describe('sync writes back what mappings stored', () => {
  it('file.sync(): exactly the pages write faults made writable, then a fence', () => {
    const pool = fresh();
    const f = pool.open('f', { create: true });
    f.write(Buffer.alloc(16 * PAGE, 1), 0);
    const m = f.map({ length: 16 * PAGE, write: true });
    m.view(1 * PAGE, 2 * PAGE, { write: true }).fill(7); // pages 1, 2
    m.view(5 * PAGE, PAGE, { write: true })[9] = 3; // page 5
    expect(m.view(8 * PAGE, PAGE)[0]).toBe(1); // page 8: read only
    const p = f.map({ length: 4 * PAGE, shared: false, write: true });
    p.view(0, PAGE, { write: true })[0] = 9; // a private copy: never written back
    pool.region.traceStart();
    f.sync();
    const { ranges, last } = flushesOf(pool.region.traceTake(true));
    expect(sortedUnion(ranges)).toEqual(sortedUnion(blocksOf(f, [1, 2, 5])));
    expect(last).toBe(3);
    p.unmap();
    m.unmap();
    f.close();
  });

  it('a file with no writable page: sync is a fence alone; other files\' mappings are not its business', () => {
    const pool = fresh();
    const a = pool.open('a', { create: true });
    const b = pool.open('b', { create: true });
    a.write(Buffer.alloc(4 * PAGE, 1), 0);
    b.write(Buffer.alloc(4 * PAGE, 2), 0);
    const mb = b.map({ length: 4 * PAGE, write: true });
    mb.view(0, PAGE, { write: true })[0] = 5;
    const ma = a.map({ length: 4 * PAGE });
    ma.view(0, 4 * PAGE);
    pool.region.traceStart();
    a.sync();
    const only = flushesOf(pool.region.traceTake(true));
    expect(only.ranges).toEqual([]);
    expect(only.last).toBe(3);
    // the pool's sync covers every file
    pool.region.traceStart();
    pool.sync();
    const all = flushesOf(pool.region.traceTake(true));
    expect(sortedUnion(all.ranges)).toEqual(blocksOf(b, [0]));
    expect(all.last).toBe(3);
    ma.unmap();
    mb.unmap();
    a.close();
    b.close();
  });

  it('a hole filled by a write fault is written back too; bytes stored land in the file', () => {
    const pool = fresh();
    const f = pool.open('f', { create: true });
    f.truncate(8 * PAGE);
    const m = f.map({ length: 8 * PAGE, write: true });
    m.view(3 * PAGE, PAGE, { write: true }).fill(0x5a);
    pool.region.traceStart();
    f.sync();
    const { ranges, last } = flushesOf(pool.region.traceTake(true));
    expect(sortedUnion(ranges)).toEqual(blocksOf(f, [3]));
    expect(last).toBe(3);
    const back = Buffer.alloc(PAGE);
    f.read(back, 3 * PAGE);
    expect(back.every((x) => x === 0x5a)).toBe(true);
    m.unmap();
    f.close();
  });

  it('sync on a closed pool or handle fails with EBADF', () => {
    const pool = fresh();
    const f = pool.open('f', { create: true });
    f.close();
    expect(() => f.sync()).toThrow(expect.objectContaining({ code: 'EBADF' }));
    pools.pop();
    pool.close();
    expect(() => pool.sync()).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
