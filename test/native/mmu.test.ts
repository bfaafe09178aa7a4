import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { addonPath, MmuMapping, PageState, Region, zeroSourceInfo } from '../../lib/index.js';
import { expectCode, pattern, tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
const MiB = 1 << 20;
const PAGE = 4096;

function setup(size = 8 * MiB): { region: Region; path: string } {
  const path = uniquePath(shm);
  return { region: Region.create(path, size), path };
}

describe('MMU mappings', () => {
  it('a region block mapped into a mapping shows the region bytes, and stores land in the region', () => {
    const { region } = setup();
    region.write(3 * PAGE, pattern(2 * PAGE, 7));
    const m = region.createMapping(16 * PAGE);
    m.mapBlocks(4 * PAGE, 2 * PAGE, 3 * PAGE, true);
    const u8 = new Uint8Array(m.buffer);
    expect(Buffer.from(u8.subarray(4 * PAGE, 6 * PAGE)).equals(pattern(2 * PAGE, 7))).toBe(true);
    u8[4 * PAGE + 10] = 0xab;
    u8.fill(0xcd, 5 * PAGE, 5 * PAGE + 100);
    const back = Buffer.alloc(PAGE * 2);
    region.read(3 * PAGE, back);
    expect(back[10]).toBe(0xab);
    expect(back.subarray(PAGE, PAGE + 100).every((b) => b === 0xcd)).toBe(true);
    // and the other way round: region writes are visible through the mapping
    region.write(3 * PAGE + 20, Buffer.from('hello'));
    expect(Buffer.from(u8.subarray(4 * PAGE + 20, 4 * PAGE + 25)).toString()).toBe('hello');
    expect(m.states(0, 8 * PAGE)).toEqual([0, 0, 0, 0, PageState.blockWrite, PageState.blockWrite, 0, 0]);
    const vma = m.kernelView().find((v) => v.offset === 4 * PAGE);
    expect(vma).toMatchObject({ length: 2 * PAGE, perms: 'rw-s', fileOffset: 3 * PAGE, regionFile: true });
    region.close();
  });

  it('two mappings of the same block see each other\'s stores', () => {
    const { region } = setup();
    const a = region.createMapping(4 * PAGE);
    const b = region.createMapping(4 * PAGE);
    a.mapBlocks(0, PAGE, 8 * PAGE, true);
    b.mapBlocks(2 * PAGE, PAGE, 8 * PAGE, false);
    new Uint8Array(a.buffer)[100] = 42;
    expect(new Uint8Array(b.buffer)[2 * PAGE + 100]).toBe(42);
    expect(b.kernelView().find((v) => v.offset === 2 * PAGE)?.perms).toBe('r--s');
    region.close();
  });

  it('a zero-page range reads zeros and uses no memory and no pool space', () => {
    const { region, path } = setup(64 * MiB);
    const blocksBefore = statSync(path).blocks;
    const m = region.createMapping(32 * MiB);
    m.mapZero(0, 32 * MiB);
    const u8 = new Uint8Array(m.buffer);
    let sum = 0;
    for (let off = 0; off < 32 * MiB; off += PAGE) sum += u8[off]! + u8[off + PAGE - 1]!;
    expect(sum).toBe(0);
    expect(statSync(path).blocks).toBe(blocksBefore);
    // One read-only shared VMA of the engine's zero source per 2 MiB window.
    const vmas = m.kernelView();
    expect(vmas.map((v) => [v.offset, v.length, v.perms, v.zeroSource, v.regionFile])).toEqual(
      Array.from({ length: 16 }, (_, i) => [i * 2 * MiB, 2 * MiB, 'r--s', true, false]),
    );
    // Every page is resident in its VMA (Rss counts a shared page once per
    // VMA), but they are the same 512 pages: what the 32 MiB cost (Pss) is at
    // most the zero source itself, allocated once for the process.
    expect(vmas.reduce((kib, v) => kib + v.rssKiB, 0)).toBe(32 * 1024);
    expect(vmas.reduce((kib, v) => kib + v.pssKiB, 0)).toBeLessThanOrEqual(zeroSourceInfo().bytes / 1024);
    expect(m.stats()).toMatchObject({ mapZero: 1, syscalls: 1 + 16, zeroVmas: 16 });
    region.close();
  });

  it('after tear-down the range no longer points at the region and is inaccessible', () => {
    const { region } = setup();
    region.write(0, Buffer.alloc(PAGE, 0x77));
    const m = region.createMapping(4 * PAGE);
    m.mapBlocks(0, 2 * PAGE, 0, true);
    m.unmap(0, PAGE);
    expect(m.states(0, 2 * PAGE)).toEqual([PageState.none, PageState.blockWrite]);
    const vmas = m.kernelView();
    expect(vmas[0]).toMatchObject({ offset: 0, length: PAGE, perms: '---p', regionFile: false });
    // mapping something else there shows the new contents, not the old block
    m.mapZero(0, PAGE);
    expect(new Uint8Array(m.buffer)[0]).toBe(0);
    expect(m.stats()).toMatchObject({ mapBlocks: 1, unmap: 1, mapZero: 1, syscalls: 4 });
    region.close();
  });

  function touchInChild(unmapFirst: boolean, write: boolean): { status: number | null; signal: string | null } {
    const path = uniquePath(shm);
    const script = `
      const a = require(${JSON.stringify(addonPath)});
      const r = new a.Region(${JSON.stringify(path)}, { create: true, size: 1 << 20 });
      const m = new a.Mapping(r, 4 * 4096);
      m.mapBlocks(0, 4096, 0, false);
      ${unmapFirst ? 'm.unmap(0, 4096);' : ''}
      const u8 = new Uint8Array(m.buffer());
      ${write ? 'u8[0] = 1;' : 'if (u8[0] !== 0) process.exit(3);'}
      process.exit(0);`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    return { status: child.status, signal: child.signal };
  }

  it('direct access to a torn-down page or a store to a read-only page faults (SIGSEGV), as documented', () => {
    expect(touchInChild(false, false)).toEqual({ status: 0, signal: null });
    expect(touchInChild(true, false).signal).toBe('SIGSEGV');
    expect(touchInChild(false, true).signal).toBe('SIGSEGV');
  });

  it('private pages hold a copy; stores to them never reach the region', () => {
    const { region } = setup();
    region.write(PAGE, pattern(PAGE, 3));
    const m = region.createMapping(4 * PAGE);
    m.mapPrivate(0, PAGE, PAGE);
    m.mapPrivate(PAGE, PAGE);
    const u8 = new Uint8Array(m.buffer);
    expect(Buffer.from(u8.subarray(0, PAGE)).equals(pattern(PAGE, 3))).toBe(true);
    expect(u8.subarray(PAGE, 2 * PAGE).every((b) => b === 0)).toBe(true);
    u8.fill(9, 0, 2 * PAGE);
    expect(region.view(PAGE, PAGE).equals(pattern(PAGE, 3))).toBe(true);
    expect(m.states(0, 2 * PAGE)).toEqual([PageState.privateWrite, PageState.privateWrite]);
    expect(m.stats().bytesCopied).toBe(PAGE);
    region.close();
  });

  it('protect switches blocks and private pages between read-only and writable, and refuses other pages', () => {
    const { region } = setup();
    const m = region.createMapping(4 * PAGE);
    m.mapBlocks(0, PAGE, 0, false);
    m.mapPrivate(PAGE, PAGE);
    m.protect(0, 2 * PAGE, true);
    expect(m.states(0, 2 * PAGE)).toEqual([PageState.blockWrite, PageState.privateWrite]);
    new Uint8Array(m.buffer)[5] = 5;
    expect(region.view(5, 1)[0]).toBe(5);
    m.protect(0, 2 * PAGE, false);
    expect(m.states(0, 2 * PAGE)).toEqual([PageState.blockRead, PageState.privateRead]);
    expect(m.kernelView()[0]).toMatchObject({ perms: 'r--s' });
    m.mapZero(2 * PAGE, PAGE);
    expectCode(() => m.protect(2 * PAGE, PAGE, true), 'EINVAL', /zero/);
    expectCode(() => m.protect(3 * PAGE, PAGE, false), 'EINVAL', /none/);
    expect(m.states(2 * PAGE, 2 * PAGE)).toEqual([PageState.zero, PageState.none]);
    region.close();
  });

  it('native I/O into or out of a mapping checks page states: EFAULT instead of a crash', () => {
    const { region } = setup();
    region.write(0, pattern(PAGE, 4));
    const m = region.createMapping(4 * PAGE);
    const u8 = new Uint8Array(m.buffer);
    expectCode(() => region.read(0, u8, 0, 16), 'EFAULT', /mapping offset 0 is none/);
    expectCode(() => region.write(0, u8, 0, 16), 'EFAULT', /not readable/);
    m.mapZero(0, PAGE);
    expectCode(() => region.read(0, u8, 0, 16), 'EFAULT', /is zero, not writable/);
    region.write(PAGE, u8, 0, 16); // reading the zero page is fine
    expect(region.view(PAGE, 16).every((b) => b === 0)).toBe(true);
    m.mapBlocks(PAGE, PAGE, 2 * PAGE, true);
    // a range that spans a writable page and a read-only one is refused as a whole
    expectCode(() => region.read(0, u8, PAGE - 8, 16), 'EFAULT', /mapping offset 0/);
    region.read(0, u8, PAGE, 100);
    expect(Buffer.from(u8.subarray(PAGE, PAGE + 100)).equals(pattern(PAGE, 4).subarray(0, 100))).toBe(true);
    region.close();
  });

  it('the page-state check finds the right mapping among many, and forgets released ones', () => {
    const { region } = setup();
    const maps = Array.from({ length: 40 }, () => region.createMapping(2 * PAGE));
    // every other mapping gets a writable first page; all second pages stay unmapped
    maps.forEach((m, k) => {
      if (k % 2 === 0) m.mapBlocks(0, PAGE, 0, true);
    });
    maps.forEach((m, k) => {
      const u8 = new Uint8Array(m.buffer);
      if (k % 2 === 0) region.read(0, u8, 0, 64);
      else expectCode(() => region.read(0, u8, 0, 64), 'EFAULT', /mapping offset 0 is none/);
      expectCode(() => region.read(0, u8, PAGE, 64), 'EFAULT', /mapping offset 4096 is none/);
    });
    region.read(0, Buffer.alloc(64), 0, 64); // a buffer outside every mapping
    const last = maps[39]!;
    const view = new Uint8Array(last.buffer);
    last.release(); // unregistered: its detached buffer is simply empty now
    expect(view.length).toBe(0);
    expectCode(() => region.read(0, new Uint8Array(maps[1]!.buffer), 0, 64), 'EFAULT');
    for (const m of maps.slice(0, 39)) m.release();
    region.close();
  });

  it('reserves ranges of 2 MiB and more at 2 MiB alignment', () => {
    const { region } = setup();
    const m = region.createMapping(4 * MiB);
    expect(m.addressAlign).toBeGreaterThanOrEqual(2 * MiB);
    m.mapBlocks(0, 2 * MiB, 2 * MiB, true);
    expect(m.kernelView()[0]).toMatchObject({ offset: 0, length: 2 * MiB, fileOffset: 2 * MiB });
    region.close();
  });

  it('release detaches the buffer and every view; later calls fail with EBADF', () => {
    const { region } = setup();
    const m = region.createMapping(4 * PAGE);
    m.mapBlocks(0, PAGE, 0, true);
    const view = new Uint8Array(m.buffer, 0, 100);
    view[0] = 1;
    m.release();
    expect(m.released).toBe(true);
    expect(m.buffer.byteLength).toBe(0);
    expect(view.length).toBe(0);
    expectCode(() => m.mapZero(0, PAGE), 'EBADF', /released/);
    expectCode(() => m.states(), 'EBADF');
    expectCode(() => m.kernelView(), 'EBADF');
    m.release(); // idempotent
    expect(region.view(0, 1)[0]).toBe(1);
    region.close();
  });

  it('closing the region releases its mappings first', () => {
    const { region } = setup();
    const maps: MmuMapping[] = [];
    for (let i = 0; i < 5; i++) {
      const m = region.createMapping(2 * PAGE);
      m.mapBlocks(0, PAGE, i * PAGE, true);
      maps.push(m);
    }
    const views = maps.map((m) => new Uint8Array(m.buffer));
    region.close();
    for (const m of maps) expect(m.released).toBe(true);
    for (const v of views) expect(v.length).toBe(0);
  });

  it('rejects bad offsets and lengths with typed errors and changes nothing', () => {
    const { region } = setup(MiB);
    const m = region.createMapping(8 * PAGE);
    m.mapBlocks(0, PAGE, 0, true);
    expectCode(() => m.mapBlocks(1, PAGE, 0, true), 'EINVAL', /offset 1 must be a multiple of 4096/);
    expectCode(() => m.mapBlocks(0, 100, 0, true), 'EINVAL', /length/);
    expectCode(() => m.mapBlocks(0, 0, 0, true), 'EINVAL', /length must be at least 1/);
    expectCode(() => m.mapBlocks(0, PAGE, 10, true), 'EINVAL', /regionOffset/);
    expectCode(() => m.mapBlocks(0, PAGE, MiB, true), 'ERANGE', /region/);
    expectCode(() => m.mapBlocks(4 * PAGE, 8 * PAGE, 0, true), 'ERANGE', /mapping/);
    expectCode(() => m.mapBlocks(-PAGE, PAGE, 0, true), 'EINVAL', /offset/);
    expectCode(() => m.mapBlocks(NaN, PAGE, 0, true), 'EINVAL', /NaN/);
    expectCode(() => m.mapPrivate(0, PAGE, MiB), 'ERANGE', /sourceRegionOffset/);
    expectCode(() => m.mapPrivate(0, PAGE, -2), 'EINVAL', /sourceRegionOffset/);
    expectCode(() => m.unmap(8 * PAGE, PAGE), 'ERANGE');
    expectCode(() => region.createMapping(0), 'EINVAL', /length/);
    expectCode(() => region.createMapping(PAGE + 1), 'EINVAL', /length/);
    expectCode(() => region.createMapping(2 ** 50), 'EINVAL', /address space/);
    expect(m.states(0, 2 * PAGE)).toEqual([PageState.blockWrite, PageState.none]);
    expect(m.stats().syscalls).toBe(2);
    region.close();
  });

  it('counts one system call per operation', () => {
    const { region } = setup();
    const m = region.createMapping(64 * PAGE);
    m.mapBlocks(0, 32 * PAGE, 0, false);
    m.mapZero(32 * PAGE, 32 * PAGE);
    m.protect(0, 32 * PAGE, true);
    m.unmap(0, 64 * PAGE);
    m.mapPrivate(0, PAGE);
    expect(m.stats()).toEqual({ mapBlocks: 1, mapZero: 1, mapPrivate: 1, protect: 1, unmap: 1, syscalls: 6, bytesCopied: 0, zeroVmas: 0 });
    region.close();
  });
});
