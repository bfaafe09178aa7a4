// Transparent faults: plain loads and stores through a mapping's buffer,
// with no call first, behave as on a kernel DAX mapping (the fault service,
// native/fault_service.h, serves them from what the pool published). They
// run with the mechanism this process gets (userfaultfd where granted in
// full), and again with the SIGSEGV handler alone (transparent-signal.test.ts).
import { spawnSync } from 'node:child_process';
import { randomFill } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { describe as group, expect, it } from 'vitest';

import { faultMechanismOf, type Userfaultfd } from '../../lib/capabilities.js';
import { Pool, Region, type FileMapping } from '../../lib/index.js';
import { packageRoot } from '../../lib/native.js';
import { NOBODY, nobodyCanRunThis, tmpfsDir, uniquePath } from '../helpers.js';
import { expectMappingsSound, MiB, PAGE, poolPerTest } from './helpers.js';

const pools = poolPerTest({ check: true });
const fresh = (size?: number) => pools.fresh(size);

function served(m: FileMapping) {
  return m.servedFaults();
}

group('loads', () => {
  it('a load on a hole shows zeros (the zero source), on a written block its bytes (read-only), with fault-around', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(64 * PAGE);
    f.write(Buffer.alloc(2 * PAGE, 7), 16 * PAGE);
    const free = p.info().freeBlocks;
    const m = f.map({ length: 64 * PAGE });
    const u8 = new Uint8Array(m.buffer);
    expect(u8[5 * PAGE + 3]).toBe(0);
    // the whole hole before the written run came in at once
    expect(m.pageStates(0, 16 * PAGE)).toEqual(new Array(16).fill('zero'));
    expect(m.pageStates(16 * PAGE, PAGE)).toEqual(['none']);
    expect(u8[17 * PAGE + 100]).toBe(7);
    expect(m.pageStates(16 * PAGE, 2 * PAGE)).toEqual(['block-read', 'block-read']);
    expect(served(m)).toMatchObject({ reads: 2, writes: 0, fills: 0 });
    expect(p.info().freeBlocks).toBe(free);
    expectMappingsSound(p);
  });

  it('fault-around bounds what one load maps', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(64 * PAGE);
    const m = f.map({ length: 64 * PAGE, faultAround: 4 });
    expect(new Uint8Array(m.buffer)[9 * PAGE]).toBe(0);
    expect(m.pageStates(0, 16 * PAGE)).toEqual([...new Array(8).fill('none'), ...new Array(4).fill('zero'), ...new Array(4).fill('none')]);
  });

  it('a typed array of any kind, and a Buffer, over the buffer work the same', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    const bytes = Buffer.alloc(3 * PAGE);
    new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8).fill(2.5);
    f.write(bytes, 0);
    const m = f.map({ length: 3 * PAGE });
    expect(new Float64Array(m.buffer)[PAGE / 8 + 1]).toBe(2.5);
    expect(Buffer.from(m.buffer).readDoubleLE(2 * PAGE)).toBe(2.5);
    expect(new DataView(m.buffer).getFloat64(8, true)).toBe(2.5);
  });
});

group('stores', () => {
  it('a store into a hole gets a zeroed block, straight to pmem; every lookup sees it before any adoption call', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(16 * PAGE);
    const m = f.map({ length: 16 * PAGE, write: true });
    const u8 = new Uint8Array(m.buffer);
    u8[3 * PAGE + 10] = 0xab;
    expect(m.pageStates(3 * PAGE, PAGE)).toEqual(['block-write']);
    expect(served(m)).toMatchObject({ fills: 1 });
    // the block shows through the region's own view too: no copy anywhere
    const block = f.getBlock(3);
    expect(block).toMatchObject({ mapped: true, unwritten: false, count: 1 });
    expect(p.region.view(block.poolBlock * PAGE, PAGE)[10]).toBe(0xab);
    expect(p.region.view(block.poolBlock * PAGE, PAGE).reduce((a, b) => a + b, 0)).toBe(0xab); // zeroed first
    const back = Buffer.alloc(PAGE);
    f.read(back, 3 * PAGE);
    expect(back[10]).toBe(0xab);
    expect(f.stat().allocated).toBe(PAGE);
  });

  it('fills are adopted on the next turn of the event loop with no call on the pool', async () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(16 * PAGE);
    const m = f.map({ length: 16 * PAGE, write: true });
    const commits = p.info().transactions;
    const fences = p.region.stats().fences;
    new Uint8Array(m.buffer)[0] = 1;
    new Uint8Array(m.buffer)[5 * PAGE] = 1;
    expect(p.region.stats().fences).toBe(fences);
    // The wake-up is an async handle: its callback runs in the loop's poll
    // phase, at most one iteration after the stores.
    for (let i = 0; i < 3 && p.region.stats().fences === fences; i++) await turn();
    expect(p.region.stats().fences).toBeGreaterThan(fences); // the adoption's commit
    expect(p.info().transactions).toBe(commits + 1);
    expect(p.info().faults.pendingAdoptions).toBe(0);
  });

  it('a store into a block shown read-only makes it writable, with no allocation', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.alloc(4 * PAGE, 1), 0);
    const m = f.map({ length: 4 * PAGE, write: true });
    const u8 = new Uint8Array(m.buffer);
    expect(u8[PAGE]).toBe(1);
    const free = p.info().freeBlocks;
    u8[PAGE] = 2;
    expect(m.pageStates(0, 4 * PAGE)).toEqual(['block-read', 'block-write', 'block-read', 'block-read']);
    expect(p.info().freeBlocks).toBe(free);
    const back = Buffer.alloc(1);
    f.read(back, PAGE);
    expect(back[0]).toBe(2);
  });

  it('a store into a page showing zeros (a hole read first) replaces the zero page', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(8 * PAGE);
    const m = f.map({ length: 8 * PAGE, write: true });
    const u8 = new Uint8Array(m.buffer);
    expect(u8[2 * PAGE]).toBe(0);
    expect(m.pageStates()).toEqual(new Array(8).fill('zero'));
    u8[2 * PAGE + 1] = 5;
    expect(m.pageStates()).toEqual(['zero', 'zero', 'block-write', 'zero', 'zero', 'zero', 'zero', 'zero']);
    expect(u8[2 * PAGE + 1]).toBe(5);
    expect(u8[2 * PAGE]).toBe(0);
  });

  it('a store into an unwritten extent zeroes its block and converts it; the old bytes never show', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.alloc(4 * PAGE, 0x77), 0);
    f.zeroRange(0, 4 * PAGE); // unwritten, old bytes still in the blocks
    const before = f.getBlock(1);
    expect(before.unwritten).toBe(true);
    const m = f.map({ length: 4 * PAGE, write: true });
    const u8 = new Uint8Array(m.buffer);
    u8[PAGE + 9] = 3;
    expect(served(m)).toMatchObject({ converts: 1, fills: 0 });
    expect(u8.subarray(PAGE, 2 * PAGE).reduce((a, b) => a + b, 0)).toBe(3);
    expect(f.getBlock(1)).toMatchObject({ poolBlock: before.poolBlock, unwritten: false });
    expect(f.getBlock(0).unwritten).toBe(true);
  });

  it('a private mapping copies on write: the file and other mappings never change', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.alloc(2 * PAGE, 4), 0);
    f.truncate(4 * PAGE);
    const shared = f.map({ length: 4 * PAGE });
    const priv = f.map({ length: 4 * PAGE, shared: false, write: true });
    const s = new Uint8Array(shared.buffer);
    const v = new Uint8Array(priv.buffer);
    v[10] = 9; // over a written block
    v[3 * PAGE] = 8; // over a hole
    expect(priv.pageStates()).toEqual(['private-write', 'none', 'none', 'private-write']);
    expect([v[10], v[11], v[3 * PAGE]]).toEqual([9, 4, 8]);
    expect([s[10], s[3 * PAGE]]).toEqual([4, 0]);
    expect(f.stat().allocated).toBe(2 * PAGE);
    expect(served(priv)).toMatchObject({ copies: 2 });
  });

  it('a large run of stores into holes in one synchronous stretch (the grant covers the mapping)', () => {
    const p = fresh(64 * MiB);
    const f = p.open('f', { create: true });
    f.truncate(16 * MiB);
    const m = f.map({ length: 16 * MiB, write: true });
    new Uint8Array(m.buffer).fill(0x5a);
    expect(served(m).fills).toBe(16 * MiB / PAGE);
    expect(f.stat().allocated).toBe(16 * MiB);
    const back = Buffer.alloc(16 * MiB);
    f.read(back, 0);
    expect(back.every((b) => b === 0x5a)).toBe(true);
  });
});

group('coherence', () => {
  it('a store into a hole through B shows through A at once, with no call in between', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(8 * PAGE);
    const a = f.map({ length: 8 * PAGE });
    const b = f.map({ offset: 2 * PAGE, length: 4 * PAGE, write: true });
    const av = new Uint8Array(a.buffer);
    const bv = new Uint8Array(b.buffer);
    expect(av[3 * PAGE]).toBe(0); // A shows the zero page there
    bv[PAGE + 4] = 0x42; // file block 3
    expect(av[3 * PAGE + 4]).toBe(0x42);
    expect(a.pageStates(3 * PAGE, PAGE)).toEqual(['block-read']);
    // a mapping made later sees it too
    const c = f.map({ length: 8 * PAGE });
    expect(new Uint8Array(c.buffer)[3 * PAGE + 4]).toBe(0x42);
  });

  it('a hole filled by write, zero range or unwritten conversion shows through a kept buffer', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(8 * PAGE);
    const m = f.map({ length: 8 * PAGE, write: true });
    const u8 = new Uint8Array(m.buffer);
    expect(u8[PAGE]).toBe(0);
    f.write(Buffer.alloc(PAGE, 6), PAGE);
    expect(u8[PAGE]).toBe(6);
    f.zeroRange(0, 8 * PAGE);
    expect(u8[PAGE]).toBe(0);
    u8[PAGE] = 1; // converts the unwritten block
    expect(u8[PAGE]).toBe(1);
  });
});

group('invalidation: a kept buffer re-faults after any layout change', () => {
  for (const change of ['punch', 'zero', 'truncate', 'discard'] as const) {
    it(`${change}: the next access shows what the file holds now`, () => {
      const p = fresh();
      const f = p.open('f', { create: true });
      f.write(Buffer.alloc(8 * PAGE, 3), 0);
      const m = f.map({ length: 8 * PAGE, write: true });
      const u8 = new Uint8Array(m.buffer);
      u8[2 * PAGE] = 9;
      expect(u8[4 * PAGE]).toBe(3);
      if (change === 'punch') f.punchHole(0, 8 * PAGE);
      else if (change === 'zero') f.zeroRange(0, 8 * PAGE);
      else if (change === 'truncate') {
        f.truncate(0);
        f.truncate(8 * PAGE);
      } else m.discard(0, 8 * PAGE);
      const want = change === 'discard' ? [9, 3] : [0, 0];
      expect([u8[2 * PAGE], u8[4 * PAGE]]).toEqual(want);
      u8[5 * PAGE] = 7;
      expect(u8[5 * PAGE]).toBe(7);
      const back = Buffer.alloc(1);
      f.read(back, 5 * PAGE);
      expect(back[0]).toBe(7);
      expectMappingsSound(p);
    });
  }
});

group('durability', () => {
  it('persist adopts first: after it, the bytes and their allocation survive a reopen', () => {
    const p = fresh();
    const path = pools.path;
    const f = p.open('f', { create: true });
    f.truncate(8 * PAGE);
    const m = f.map({ length: 8 * PAGE, write: true });
    const u8 = new Uint8Array(m.buffer);
    u8.set([1, 2, 3], 6 * PAGE);
    m.persist(6 * PAGE, 3);
    pools.forget();
    p.close();
    const q = pools.adopt(Pool.open(path));
    const back = Buffer.alloc(3);
    q.open('f').read(back, 6 * PAGE);
    expect([...back]).toEqual([1, 2, 3]);
    expect(q.check().problems).toEqual([]);
  });

  it('file.sync() and pool.sync() adopt and write back stored pages', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(8 * PAGE);
    const m = f.map({ length: 8 * PAGE, write: true });
    new Uint8Array(m.buffer)[0] = 1;
    const flushed = p.region.stats().flushedLines;
    f.sync();
    expect(p.region.stats().flushedLines).toBeGreaterThanOrEqual(flushed + PAGE / 64);
    expect(p.info().faults.pendingAdoptions).toBe(0);
    new Uint8Array(m.buffer)[PAGE] = 1;
    p.sync();
    expect(f.getBlock(1).mapped).toBe(true);
  });

  it('an unmap adopts what the mapping stored; the grant goes back when no shared writable mapping is left', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(8 * PAGE);
    const m = f.map({ length: 8 * PAGE, write: true });
    expect(p.info().faults.granted).toBe(8);
    new Uint8Array(m.buffer)[0] = 1;
    expect(p.info().faults.granted).toBe(7);
    m.unmap();
    expect(p.info().faults.granted).toBe(0);
    expect(f.getBlock(0).mapped).toBe(true);
  });
});

group('other threads', () => {
  it('crypto.randomFill into unfaulted pages of a shared writable mapping: faults on the thread pool are served', async () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(64 * PAGE);
    const m = f.map({ length: 64 * PAGE, write: true });
    const view = new Uint8Array(m.buffer, 8 * PAGE, 32 * PAGE);
    await new Promise<void>((resolve, reject) => randomFill(view, (err) => (err ? reject(err) : resolve())));
    const copy = Buffer.from(view);
    await turn();
    const back = Buffer.alloc(32 * PAGE);
    f.read(back, 8 * PAGE);
    expect(back.equals(copy)).toBe(true);
    expect(f.stat().allocated).toBe(32 * PAGE);
  });
});

group('the grant and the allocator', () => {
  it('granted blocks are skipped by allocations until the pool is short, then taken back', () => {
    const p = fresh(16 * MiB);
    const f = p.open('f', { create: true });
    f.truncate(4 * MiB);
    const m = f.map({ length: 4 * MiB, write: true });
    expect(p.info().faults.granted).toBe(1024);
    const g = p.open('g', { create: true });
    const free = p.info().freeBlocks;
    const n = g.write(Buffer.alloc(free * PAGE, 1), 0);
    expect(n).toBe(free * PAGE); // the whole pool, the grant taken back
    expect(p.info().faults.granted).toBe(0);
    expect(p.info().freeBlocks).toBe(0);
    m.unmap();
  });
});

group('as an unprivileged user', () => {
  // The signal handler needs no privilege; userfaultfd may be refused to
  // such a process (capability report): plain accesses must work the same.
  it.skipIf(!nobodyCanRunThis())('plain loads and stores, a fill seen by a second mapping, persist, reopen: as nobody, in a child', () => {
    const dir = mkdtempSync(path.join('/dev/shm', 'daxfs-nobody-'));
    chmodSync(dir, 0o777);
    const script = `
      import(${JSON.stringify(path.join(packageRoot, 'dist/lib/index.js'))}).then(({ Pool }) => {
        const path = ${JSON.stringify(path.join(dir, 'pool'))};
        const pool = Pool.format(path, { size: 16 << 20 });
        const f = pool.open('f', { create: true });
        f.truncate(1 << 20);
        const a = f.map({ length: 1 << 20 });
        const m = f.map({ length: 1 << 20, write: true });
        const before = new Uint8Array(a.buffer)[5 * 4096];
        new Uint8Array(m.buffer)[5 * 4096] = 7;
        const seen = new Uint8Array(a.buffer)[5 * 4096];
        m.persist(5 * 4096, 1);
        pool.close();
        const again = Pool.open(path);
        const b = Buffer.alloc(1);
        again.open('f').read(b, 5 * 4096);
        const c = again.region.capabilities;
        console.log(JSON.stringify({ uid: process.getuid(), before, seen, after: b[0], problems: again.check().problems.length, mechanism: c.transparentFaultMechanism, userfaultfd: c.userfaultfd }));
        again.close();
      });`;
    const out = spawnSync(process.execPath, ['-e', script], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', cwd: '/' });
    rmSync(dir, { recursive: true, force: true });
    expect(out.stderr).toBe('');
    const result = JSON.parse(out.stdout) as { userfaultfd: Userfaultfd; mechanism: string };
    expect(result).toEqual({ uid: NOBODY, before: 0, seen: 7, after: 7, problems: 0, mechanism: faultMechanismOf(result.userfaultfd), userfaultfd: result.userfaultfd });
  });
});

group('races with the thread pool and with transfers (the fault service held off a file whose layout changes)', () => {
  for (const change of ['write', 'zeroRange', 'allocate', 'punchHole'] as const) {
    it(`thread-pool stores into holes while the main thread runs ${change} on the same file: file and mapping agree, nothing free is shown`, async () => {
      const p = fresh(256 * MiB);
      const size = 16 * MiB;
      const f = p.open('a', { create: true });
      f.truncate(size);
      const m = f.map({ length: size, write: true });
      const u8 = new Uint8Array(m.buffer);
      let finished = false;
      randomFill(u8, () => (finished = true));
      const small = Buffer.alloc(16, 0xee);
      let ops = 0;
      let k = 0;
      while (!finished) {
        const page = (k = (k * 7919 + 13) % (size / PAGE));
        if (change === 'write') f.write(small, page * PAGE + 100);
        else if (change === 'zeroRange') f.zeroRange(page * PAGE, PAGE);
        else if (change === 'allocate') f.allocate(page * PAGE, PAGE);
        else f.punchHole(page * PAGE, PAGE);
        if (++ops % 64 === 0) await turn();
      }
      await turn();
      expectMappingsSound(p);
      const back = Buffer.alloc(size);
      f.read(back, 0);
      let differ = 0;
      for (let i = 0; i < size; i += PAGE) if (!back.subarray(i, i + PAGE).equals(Buffer.from(m.buffer, i, PAGE))) differ++;
      expect(differ).toBe(0);
      expect(ops).toBeGreaterThan(0);
    });
  }

  it('a store into a hole while a writeAsync fills that block: both land, nothing leaks', async () => {
    const p = fresh();
    const f = p.open('a', { create: true });
    f.truncate(1 * MiB);
    const m = f.map({ length: 1 * MiB, write: true });
    const u8 = new Uint8Array(m.buffer);
    const pending = f.writeAsync(Buffer.alloc(100, 0xaa), 0);
    u8[2000] = 0x55;
    await pending;
    await turn();
    const back = Buffer.alloc(PAGE);
    f.read(back, 0);
    expect([back[0], back[99], back[100], back[2000]]).toEqual([0xaa, 0xaa, 0, 0x55]);
    expect([u8[0], u8[2000]]).toEqual([0xaa, 0x55]);
    expect(f.stat().allocated).toBe(PAGE);
  });
});

group('the grant follows the pool', () => {
  it('refilled after fills, after a punch frees blocks, and after an allocation took it back', async () => {
    const p = fresh(16 * MiB);
    const f = p.open('a', { create: true });
    f.truncate(3 * PAGE);
    const m = f.map({ length: 3 * PAGE, write: true });
    const u8 = new Uint8Array(m.buffer);
    expect(p.info().faults.granted).toBe(3);
    u8[0] = 1;
    for (let i = 0; i < 3 && p.info().faults.granted < 3; i++) await turn();
    expect(p.info().faults.granted).toBe(3); // topped up after the fill's adoption
    f.punchHole(0, PAGE);
    u8.fill(7, 0, 3 * PAGE); // three holes in one synchronous stretch
    expect(f.stat().allocated).toBe(3 * PAGE);
    // a mapping as large as the pool: the grant holds nearly every free block…
    const g = p.open('big', { create: true });
    g.truncate(16 * MiB);
    const big = g.map({ length: 16 * MiB, write: true });
    expect(p.info().faults.granted).toBeGreaterThan(p.info().freeBlocks / 2);
    // …an allocation takes it back, and the next call refills what is left
    g.write(Buffer.from('x'), 1 * MiB);
    expect(p.info().faults.granted).toBeGreaterThan(0);
    new Uint8Array(big.buffer)[0] = 1;
    expect(g.getBlock(0).mapped).toBe(true);
  });

  it('process.exit adopts what plain stores filled: the blocks are the file\'s at the next open', () => {
    const p = fresh();
    const poolFile = pools.path;
    const f = p.open('a', { create: true });
    f.truncate(1 * MiB);
    f.close();
    pools.forget();
    p.close();
    const script = `
      import(${JSON.stringify(path.join(packageRoot, 'dist/lib/index.js'))}).then(({ Pool }) => {
        const pool = Pool.open(${JSON.stringify(poolFile)});
        const m = pool.open('a').map({ length: 1 << 20, write: true });
        for (let i = 0; i < 100; i++) new Uint8Array(m.buffer)[i * 4096] = 1 + i;
        process.exit(0);
      });`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const q = pools.adopt(Pool.open(poolFile));
    const a = q.open('a');
    expect(a.stat().allocated).toBe(100 * PAGE);
    const b = Buffer.alloc(1);
    a.read(b, 99 * PAGE);
    expect(b[0]).toBe(100);
  });
});

group('system calls on mapping pages', () => {
  // The kernel raises no signal for a fault inside a system call: only the
  // userfaultfd mechanism serves those (the capability report says which
  // is in use); with the signal handler alone the call fails with EFAULT.
  const syscalls = `
    const { openSync, readSync, writeSync, closeSync, writeFileSync, read } = require('node:fs');
    return (async () => {
      const pool = Pool.format(poolPath, { size: 64 << 20 });
      const f = pool.open('a', { create: true });
      f.truncate(1 << 20);
      f.write(Buffer.from('written'), 3 * 4096);
      const m = f.map({ length: 1 << 20, write: true });
      writeFileSync(poolPath + '.src', Buffer.alloc(2 * 4096, 0x61));
      const out = {};
      const tryIt = (name, fn) => { try { out[name] = fn(); } catch (e) { out[name] = e.code; } };
      const src = openSync(poolPath + '.src', 'r');
      tryIt('readSync', () => readSync(src, new Uint8Array(m.buffer, 8 * 4096, 2 * 4096), 0, 2 * 4096, 0));
      const dst = openSync(poolPath + '.dst', 'w');
      tryIt('writeSync', () => writeSync(dst, new Uint8Array(m.buffer, 3 * 4096, 2 * 4096)));
      out.threadPool = await new Promise((resolve) => read(src, new Uint8Array(m.buffer, 20 * 4096, 4096), 0, 4096, 0, (err, n) => resolve(err ? err.code : n)));
      const zeros = new Uint8Array(m.buffer)[30 * 4096]; // shows the zero page: read-only
      tryIt('readSyncIntoZeros', () => readSync(src, new Uint8Array(m.buffer, 30 * 4096, 4096), 0, 4096, 0));
      closeSync(src); closeSync(dst);
      const b = Buffer.alloc(1);
      f.read(b, 8 * 4096); out.fileAt8 = b[0];
      f.read(b, 20 * 4096); out.fileAt20 = b[0];
      out.allocated = f.stat().allocated / 4096;
      out.sound = pool.verifyMappings().length === 0 && pool.check().problems.length === 0;
      out.mechanism = pool.region.capabilities.transparentFaultMechanism;
      pool.close();
      return out;
    })();`;

  function runWith(env: NodeJS.ProcessEnv): Record<string, unknown> {
    const dir = mkdtempSync(path.join('/dev/shm', 'daxfs-syscalls-'));
    const script = `import(${JSON.stringify(path.join(packageRoot, 'dist/lib/index.js'))}).then(({ Pool }) => {
      const poolPath = ${JSON.stringify(path.join(dir, 'pool'))};
      return (function (Pool, poolPath) { ${syscalls} })(Pool, poolPath);
    }).then((out) => console.log(JSON.stringify(out)));`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
    rmSync(dir, { recursive: true, force: true });
    expect(out.stderr).toBe('');
    return JSON.parse(out.stdout) as Record<string, unknown>;
  }

  const probe = Region.create(uniquePath(tmpfsDir()), 1 << 20);
  const granted = probe.capabilities.userfaultfd === 'full';
  probe.close();

  it.skipIf(!granted)('with userfaultfd (granted here): fs.readSync into unfaulted pages fills the file, fs.writeSync and fs.read on the thread pool work', () => {
    expect(runWith({ DAXFS_FAULTS: '' })).toEqual({
      mechanism: 'userfaultfd+signal',
      readSync: 8192,
      writeSync: 8192,
      threadPool: 4096,
      readSyncIntoZeros: 'EFAULT', // a store into a page shown read-only: userfaultfd write-protect is not used
      fileAt8: 0x61,
      fileAt20: 0x61,
      allocated: 1 + 2 + 1,
      sound: true,
    });
  });

  it('with the signal handler alone: the same calls on unfaulted pages fail with EFAULT and change nothing', () => {
    expect(runWith({ DAXFS_FAULTS: 'signal' })).toEqual({
      mechanism: 'signal',
      readSync: 'EFAULT',
      writeSync: 'EFAULT',
      threadPool: 'EFAULT',
      readSyncIntoZeros: 'EFAULT',
      fileAt8: 0,
      fileAt20: 0,
      allocated: 1,
      sound: true,
    });
  });
});
