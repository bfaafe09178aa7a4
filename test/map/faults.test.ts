// The fault handler, rule by rule.
import { MessageChannel } from 'node:worker_threads';
import { describe as group, expect, it } from 'vitest';

import { Pool, zeroSourceInfo } from '../../lib/index.js';
import { expectCode } from '../helpers.js';
import { MiB, PAGE, poolPerTest, text } from './helpers.js';

const pools = poolPerTest({ check: false });
const fresh = (size?: number) => pools.fresh(size);


group('read faults', () => {
  it('map the zero source over a hole: nothing allocated, no memory however many mappings show it', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(1 * MiB);
    const free = p.info().freeBlocks;
    const m = f.map({ length: 1 * MiB });
    const v = m.view(0, 1 * MiB);
    expect(v.every((b) => b === 0)).toBe(true);
    expect(p.info().freeBlocks).toBe(free);
    expect(m.pageStates()).toEqual(new Array(256).fill('zero'));
    expect(m.stats()).toMatchObject({ zeroPage: 1, major: 0, minor: 0, mmuCalls: 2 });
    expect(m.mmuStats()).toMatchObject({ mapZero: 1, zeroVmas: 1 });
    // One VMA (a mapping under 2 MiB lies inside one window of the source).
    const vmas = m.kernelView();
    expect(vmas.map((x) => [x.offset, x.length, x.perms, x.regionFile, x.zeroSource])).toEqual([[0, 1 * MiB, 'r--s', false, true]]);
    // Seven more mappings show the same hole, every page read: each VMA has
    // its 256 pages resident (Rss), and all of them together cost at most
    // the zero source's 2 MiB (Pss), not 8 MiB.
    const all = [m, ...Array.from({ length: 7 }, () => f.map({ length: 1 * MiB }))];
    for (const x of all) expect(x.view(0, 1 * MiB).every((b) => b === 0)).toBe(true);
    const views = all.flatMap((x) => x.kernelView());
    expect(views.map((x) => x.rssKiB)).toEqual(new Array(8).fill(1024));
    expect(views.reduce((kib, x) => kib + x.pssKiB, 0)).toBeLessThanOrEqual(zeroSourceInfo().bytes / 1024);
    expect(p.info().freeBlocks).toBe(free);
  });

  it('map a written extent read-only, whole (fault-around) in one MMU call', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.alloc(256 * 1024, 0x5a), 0);
    expect(f.stat().extents).toBe(1);
    const m = f.map({ length: 256 * 1024, write: true, huge: false });
    m.fault(8192);
    expect(m.pageStates()).toEqual(new Array(64).fill('block-read'));
    expect(m.stats()).toMatchObject({ minor: 1, mmuCalls: 2 }); // the reservation + one mmap
    expect(m.view(0, 256 * 1024).every((b) => b === 0x5a)).toBe(true);
    expect(m.stats().mmuCalls).toBe(2);
  });

  it('fault-around stops at the option, at the end of the extent and at pages already mapped', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.alloc(64 * 1024, 1), 0);
    const m = f.map({ length: 64 * 1024, faultAround: 4, huge: false });
    m.fault(0);
    expect(m.pageStates().filter((s) => s === 'block-read').length).toBe(4);
    m.fault(9 * PAGE); // the window is aligned: pages 8..11
    expect(m.pageStates().slice(0, 13)).toEqual([...new Array(4).fill('block-read'), ...new Array(4).fill('none'), ...new Array(4).fill('block-read'), 'none']);
    const one = f.map({ length: 64 * 1024, faultAround: 1, huge: false });
    one.populate(0, 3 * PAGE);
    expect(one.pageStates().slice(0, 4)).toEqual(['block-read', 'block-read', 'block-read', 'none']);
    expect(one.stats().mmuCalls).toBe(2);
  });

  it('show a mapping past the last written byte inside EOF as zeros, and a hole between extents as the zero page', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.from('a'), 0);
    f.write(Buffer.from('b'), 3 * PAGE);
    const m = f.map({ length: 4 * PAGE });
    const v = m.view(0, 4 * PAGE);
    expect(m.pageStates()).toEqual(['block-read', 'zero', 'zero', 'block-read']);
    expect(v[0]).toBe(0x61);
    expect(v[3 * PAGE]).toBe(0x62);
    expect(v[1]).toBe(0);
    expect(v[3 * PAGE + 1]).toBe(0);
  });
});

group('EOF: the SIGBUS analogue', () => {
  it('refuses faults on pages wholly past EOF, allows the page holding the last byte', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.from('xyz'), PAGE + 10); // size PAGE + 13
    const m = f.map({ length: 4 * PAGE, write: true });
    m.fault(PAGE + 4000);
    expectCode(() => m.fault(2 * PAGE), 'SIGBUS', /past the end of 'f'/);
    expectCode(() => m.fault(3 * PAGE, { write: true }), 'SIGBUS');
    expectCode(() => m.populate(0, 3 * PAGE), 'SIGBUS');
    expectCode(() => m.read(2 * PAGE, Buffer.alloc(1)), 'SIGBUS');
    expect(m.stats().sigbus).toBe(4);
    expect(p.faultStats().sigbus).toBe(4);
  });

  it('a mapping of an empty file faults nothing, until the file grows', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    const m = f.map({ length: PAGE, write: true });
    expectCode(() => m.fault(0), 'SIGBUS');
    f.truncate(10);
    m.write(0, Buffer.from('0123456789'));
    const b = Buffer.alloc(10);
    f.read(b, 0);
    expect(b.toString()).toBe('0123456789');
  });
});

group('write faults in shared mappings', () => {
  it('on a hole: allocate one zeroed block, durable, major fault', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(16 * PAGE);
    const m = f.map({ length: 16 * PAGE, write: true });
    const free = p.info().freeBlocks;
    m.fault(5 * PAGE + 7, { write: true });
    expect(p.info().freeBlocks).toBe(free - 1);
    expect(m.pageStates()[5]).toBe('block-write');
    expect(m.stats()).toMatchObject({ major: 1 });
    expect(f.getBlock(5)).toMatchObject({ mapped: true, unwritten: false });
    expect(m.view(5 * PAGE, PAGE).every((b) => b === 0)).toBe(true);
  });

  it('on a read-only block page: mprotect only (one call), so dirty pages are known', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.alloc(8 * PAGE, 3), 0);
    const m = f.map({ length: 8 * PAGE, write: true });
    m.populate();
    expect(m.pageStates()).toEqual(new Array(8).fill('block-read'));
    const calls = m.stats().mmuCalls;
    m.fault(2 * PAGE, { write: true });
    expect(m.stats().mmuCalls).toBe(calls + 1);
    expect(m.pageStates()).toEqual(['block-read', 'block-read', 'block-write', ...new Array(5).fill('block-read')]);
    expect(m.mmuStats().protect).toBe(1);
  });

  it('on unwritten blocks: zero them (no old bytes), convert, map', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.alloc(4 * PAGE, 0xee), 0); // old bytes
    f.zeroRange(0, 4 * PAGE); // whole blocks become unwritten, bytes left on media
    expect(f.getBlock(1)).toMatchObject({ mapped: true, unwritten: true });
    const m = f.map({ length: 4 * PAGE, write: true });
    expect(m.view(0, 4 * PAGE).every((b) => b === 0)).toBe(true);
    expect(m.pageStates()).toEqual(new Array(4).fill('zero'));
    const v = m.view(PAGE, PAGE, { write: true });
    expect(v.every((b) => b === 0)).toBe(true);
    expect(f.getBlock(1)).toMatchObject({ unwritten: false });
    expect(f.getBlock(0)).toMatchObject({ unwritten: true });
    v[0] = 9;
    m.persist(PAGE, 1);
    const b = Buffer.alloc(4 * PAGE);
    f.read(b, 0);
    expect(b.filter((x) => x !== 0)).toEqual(Buffer.from([9]));
  });

  it('a read-only mapping refuses writes with EACCES and leaves the file alone', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.from('keep'), 0);
    const m = f.map({ length: PAGE });
    expectCode(() => m.fault(0, { write: true }), 'EACCES');
    expectCode(() => m.write(0, Buffer.from('nope')), 'EACCES');
    expectCode(() => m.view(0, 4, { write: true }), 'EACCES');
    const b = Buffer.alloc(4);
    f.read(b, 0);
    expect(b.toString()).toBe('keep');
  });
});

group('private mappings', () => {
  it('copy on write: the file never changes, holes copy as zeros', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.from('shared data'), 0);
    f.truncate(2 * PAGE);
    const m = f.map({ length: 2 * PAGE, shared: false, write: true });
    const free = p.info().freeBlocks;
    m.write(0, Buffer.from('PRIVATE'));
    m.write(PAGE, Buffer.from('hole copy'));
    expect(p.info().freeBlocks).toBe(free);
    expect(m.pageStates()).toEqual(['private-write', 'private-write']);
    expect(m.stats().copyOnWrite).toBe(2);
    expect(text(m.view(0, 11))).toBe('PRIVATEdata');
    const b = Buffer.alloc(11);
    f.read(b, 0);
    expect(b.toString()).toBe('shared data');
    expect(f.getBlock(1).mapped).toBe(false);
  });

  it('discard drops the copies: the file shows again', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.from('original'), 0);
    const m = f.map({ length: PAGE, shared: false, write: true });
    m.write(0, Buffer.from('CHANGED!'));
    m.discard(0, PAGE);
    expect(m.pageStates()).toEqual(['block-read']);
    expect(text(m.view(0, 8))).toBe('original');
    expectCode(() => m.discard(1, 10), 'EINVAL');
  });

  it('is allowed on a read-only pool, a shared writable one is not', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.from('ro'), 0);
    p.close();
    pools.forget();
    const ro = Pool.open(pools.path, { readOnly: true });
    try {
      const g = ro.open('f');
      expectCode(() => g.map({ length: PAGE, write: true }), 'EROFS');
      const m = g.map({ length: PAGE, shared: false, write: true });
      m.write(0, Buffer.from('RW'));
      expect(text(m.view(0, 2))).toBe('RW');
      const b = Buffer.alloc(2);
      g.read(b, 0);
      expect(b.toString()).toBe('ro');
    } finally {
      ro.close();
    }
  });
});

group('2 MiB faults', () => {
  function hugeFile(p: Pool) {
    const f = p.open('big', { create: true });
    f.write(Buffer.alloc(4 * MiB, 0x11), 0);
    const block = f.getBlock(0).poolBlock;
    expect(block % 512).toBe(0); // the allocator aligned the 2 MiB stretch
    return f;
  }

  it('map an aligned 2 MiB at once where offset, address and extent are aligned', () => {
    const p = fresh();
    const f = hugeFile(p);
    const m = f.map({ length: 4 * MiB, faultAround: 1 });
    m.fault(MiB + 5);
    expect(m.stats()).toMatchObject({ huge: 1, mmuCalls: 2 });
    expect(m.pageStates().slice(0, 512)).toEqual(new Array(512).fill('block-read'));
    expect(m.pageStates()[512]).toBe('none');
    const w = f.map({ length: 4 * MiB, write: true, faultAround: 1 });
    w.fault(2 * MiB + PAGE, { write: true });
    expect(w.stats()).toMatchObject({ huge: 1, mmuCalls: 2 });
    expect(w.pageStates().slice(512)).toEqual(new Array(512).fill('block-write'));
  });

  it('fall back to 4 KiB when the file offset is not aligned, or huge is off', () => {
    const p = fresh();
    const f = hugeFile(p);
    const m = f.map({ offset: PAGE, length: 3 * MiB, faultAround: 1 });
    m.fault(MiB);
    expect(m.stats().huge).toBe(0);
    expect(m.pageStates().filter((s) => s !== 'none').length).toBe(1);
    const n = f.map({ length: 4 * MiB, faultAround: 1, huge: false });
    n.fault(0);
    expect(n.stats().huge).toBe(0);
    expect(n.pageStates().filter((s) => s !== 'none').length).toBe(1);
  });

  it('a 2 MiB hole maps the zero page whole; a 4 KiB write into it splits it', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(4 * MiB);
    const a = f.map({ length: 4 * MiB, faultAround: 1 });
    const b = f.map({ length: 4 * MiB, write: true, faultAround: 1 });
    const view = a.view(2 * MiB, 2 * MiB);
    expect(a.stats()).toMatchObject({ huge: 1, zeroPage: 1 });
    expect(view.every((x) => x === 0)).toBe(true);
    b.write(2 * MiB + 5 * PAGE + 1, Buffer.from('split'));
    const states = a.pageStates().slice(512);
    expect(states[5]).toBe('block-read');
    expect(states.filter((s) => s === 'zero').length).toBe(511);
    expect(text(view.subarray(5 * PAGE + 1, 5 * PAGE + 6))).toBe('split');
    expect(view[5 * PAGE]).toBe(0);
    expect(view[6 * PAGE]).toBe(0);
  });
});

group('mapping life cycle', () => {
  it('unmap detaches the buffer and every view; later calls are EBADF', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.from('x'), 0);
    const m = f.map({ length: PAGE });
    const v = m.view(0, 1);
    m.unmap();
    m.unmap();
    expect(m.buffer.byteLength).toBe(0);
    expect(v.length).toBe(0);
    expect(m.unmapped).toBe(true);
    expectCode(() => m.fault(0), 'EBADF');
    expectCode(() => m.populate(), 'EBADF');
    expect(p.mappingCount()).toBe(0);
  });

  it('its buffer never moves to another thread: Node 20 sends a copy, later versions refuse (DataCloneError)', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.from('x'), 0);
    const m = f.map({ length: PAGE });
    m.populate(); // a copy reads every page (an unfaulted one would kill the process)
    const copies = Number(process.versions.node.split('.')[0]) < 22;
    const { port1, port2 } = new MessageChannel();
    const sends: [string, () => unknown][] = [
      ['structuredClone', () => structuredClone(m.buffer, { transfer: [m.buffer] })],
      ['postMessage', () => port1.postMessage(m.buffer, [m.buffer])],
    ];
    for (const [how, send] of sends) {
      let thrown: unknown;
      let result: unknown;
      try {
        result = send();
      } catch (e) {
        thrown = e;
      }
      if (copies) {
        expect(thrown, how).toBeUndefined();
      } else {
        expect((thrown as Error | undefined)?.name, how).toBe('DataCloneError');
      }
      if (how === 'structuredClone' && copies) {
        expect(result).not.toBe(m.buffer);
        expect(new Uint8Array(result as ArrayBuffer)[0]).toBe(0x78);
      }
      expect(m.buffer.byteLength, how).toBe(PAGE);
    }
    port1.close();
    port2.close();
    expect(text(m.view(0, 1))).toBe('x');
  });

  it('keeps an unlinked file until its last mapping is gone', () => {
    const p = fresh();
    const free = p.info().freeBlocks;
    const f = p.open('f', { create: true });
    f.write(Buffer.alloc(8 * PAGE, 1), 0);
    const m = f.map({ length: 8 * PAGE, write: true });
    f.close();
    p.unlink('f');
    m.write(0, Buffer.from('still here'));
    expect(text(m.view(0, 10))).toBe('still here');
    expect(p.info().freeBlocks).toBeLessThan(free);
    m.unmap();
    expect(p.info().freeBlocks).toBe(free);
    expect(p.check().ok).toBe(true);
  });

  it('closing the pool unmaps every mapping', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.from('x'), 0);
    const m = f.map({ length: PAGE });
    const v = m.view(0, 1);
    p.close();
    pools.forget();
    expect(m.unmapped).toBe(true);
    expect(v.length).toBe(0);
  });

  it('refuses bad options with typed errors', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    expectCode(() => f.map({ length: 0 }), 'EINVAL');
    expectCode(() => f.map({ length: -1 }), 'EINVAL');
    expectCode(() => f.map({ length: 1.5 }), 'EINVAL');
    expectCode(() => f.map({ offset: 100, length: PAGE }), 'EINVAL', /multiple of 4096/);
    expectCode(() => f.map({ offset: Number.NaN, length: PAGE }), 'EINVAL');
    expectCode(() => f.map({ length: 2 ** 50 }), 'EFBIG');
    expectCode(() => f.map({ length: PAGE, faultAround: 0 }), 'EINVAL');
    expectCode(() => f.map({ length: PAGE, shared: 'yes' as unknown as boolean }), 'EINVAL');
    expectCode(() => f.map(undefined as unknown as { length: number }), 'EINVAL');
    const m = f.map({ length: PAGE });
    expectCode(() => m.fault(PAGE), 'ERANGE');
    expectCode(() => m.read(0, Buffer.alloc(2 * PAGE)), 'ERANGE');
    expectCode(() => m.persist(-1, 1), 'EINVAL');
    f.close();
    expectCode(() => f.map({ length: PAGE }), 'EBADF');
  });

  it('counts per mapping and per pool; MMU calls match the native counters', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(8 * PAGE);
    const a = f.map({ length: 8 * PAGE, write: true, faultAround: 1 });
    const b = f.map({ length: 8 * PAGE, shared: false, write: true, faultAround: 1 });
    a.fault(0);
    a.fault(PAGE, { write: true });
    b.fault(2 * PAGE, { write: true });
    b.fault(0);
    const sa = a.stats();
    const sb = b.stats();
    expect(sa).toMatchObject({ zeroPage: 1, major: 1 });
    expect(sb).toMatchObject({ copyOnWrite: 1, zeroPage: 1 });
    expect(sa.mmuCalls).toBe(a.mmuStats().syscalls);
    expect(sb.mmuCalls).toBe(b.mmuStats().syscalls);
    const total = p.faultStats();
    for (const key of Object.keys(sa) as (keyof typeof sa)[]) expect(total[key]).toBe(sa[key] + sb[key]);
  });
});
