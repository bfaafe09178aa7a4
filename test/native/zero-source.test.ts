// The engine's zero source: what a hole costs (Pss, MemAvailable), the VMA
// count through every page-state transition, the limits (the engine's and the
// kernel's), and the capability probe of anonymous read faults.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import {
  addonPath,
  formatCapabilities,
  MmuMapping,
  PageState,
  Region,
  setZeroSourceLimit,
  ZERO_SOURCE_SHARE,
  zeroSourceInfo,
} from '../../lib/index.js';
import { packageRoot } from '../../lib/native.js';
import { BAD_NUMBERS, expectCode, pattern, tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
// A sanitizer runtime maps memory of its own on every allocation: at the
// kernel's VMA limit it aborts before the addon can answer.
const sanitized = /libasan|libtsan|libmsan/.test(process.env['LD_PRELOAD'] ?? '');
const MiB = 1 << 20;
const PAGE = 4096;

function region(size = 8 * MiB): Region {
  return Region.create(uniquePath(shm), size);
}

function meminfoKiB(field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
}

function zeroVmasSeen(m: MmuMapping): number {
  return m.kernelView().filter((v) => v.zeroSource).length;
}

/** Runs `script` (CommonJS, or an ES module with `module`) in a child Node; returns its JSON output. */
function child(script: string, module = false): Record<string, unknown> {
  const args = module ? ['--input-type=module', '-e', script] : ['-e', script];
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
  expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('the zero source', () => {
  it('a 1 GiB hole read fully, shown by four mappings, costs no memory: Pss of the source at most, MemAvailable barely moves', () => {
    const r = region();
    const available = meminfoKiB('MemAvailable');
    const maps = Array.from({ length: 4 }, () => r.createMapping(256 * MiB));
    let sum = 0;
    for (const m of maps) {
      m.mapZero(0, 256 * MiB);
      const u8 = new Uint8Array(m.buffer);
      for (let off = 0; off < u8.length; off += PAGE) sum += u8[off]!;
    }
    expect(sum).toBe(0);
    const vmas = maps.flatMap((m) => m.kernelView());
    expect(vmas).toHaveLength(4 * 128);
    expect(vmas.every((v) => v.zeroSource && v.perms === 'r--s')).toBe(true);
    // Every page is resident in its VMA, and they are the source's 512 pages.
    expect(vmas.reduce((kib, v) => kib + v.rssKiB, 0)).toBe(1024 * 1024);
    expect(vmas.reduce((kib, v) => kib + v.pssKiB, 0)).toBeLessThanOrEqual(zeroSourceInfo().bytes / 1024);
    // The machine is shared, so only a loose bound: far below 1/8 of the
    // 1 GiB read (what is spent is the page tables, 2 MiB per GiB mapped).
    expect(available - meminfoKiB('MemAvailable')).toBeLessThan(1024 * 1024 / 8);
    r.close();
  });

  it('the VMA count follows every transition and agrees with the kernel; released mappings give theirs back', () => {
    const r = region();
    r.write(0, pattern(PAGE, 5));
    const base = zeroSourceInfo().vmas;
    const m = r.createMapping(8 * MiB);
    const expectCount = (n: number) => {
      expect(m.stats().zeroVmas).toBe(n);
      expect(zeroVmasSeen(m)).toBe(n);
      expect(zeroSourceInfo().vmas).toBe(base + n);
    };
    expect(m.mapZero(0, 8 * MiB)).toBe(4); // whole windows: one mmap each
    expectCount(4);
    m.mapBlocks(MiB, PAGE, 0, false); // splits window 0
    expectCount(5);
    // Tearing zeros down keeps the source there, inaccessible: one mprotect,
    // and windows 1 and 2 each hold a readable and an inaccessible VMA.
    expect(m.unmap(3 * MiB, 2 * MiB)).toBe(1);
    expect(m.kernelView().filter((v) => v.perms === '---s').map((v) => [v.offset, v.length, v.zeroSource])).toEqual([
      [3 * MiB, MiB, true],
      [4 * MiB, MiB, true],
    ]);
    expectCount(7);
    m.mapPrivate(6 * MiB, 2 * MiB); // window 3 gone
    expectCount(6);
    expect(m.mapZero(3 * MiB, 2 * MiB)).toBe(1); // back to zeros: one mprotect, merged
    expectCount(4);
    expect(m.mapZero(MiB, PAGE)).toBe(1); // where the block was: one mmap, merged
    expectCount(3);
    const u8 = new Uint8Array(m.buffer);
    expect(u8.subarray(0, 6 * MiB).every((b) => b === 0)).toBe(true);
    expect(m.states(5 * MiB, PAGE)).toEqual([PageState.zero]);
    // A fault on part of an untouched window maps the whole window
    // inaccessible and makes the run readable; the next ones are an mprotect.
    const second = r.createMapping(2 * MiB);
    expect(second.mapZero(PAGE, PAGE)).toBe(2);
    expect(second.stats().zeroVmas).toBe(3);
    expect(second.mapZero(2 * PAGE, PAGE)).toBe(1);
    expect(second.kernelView().map((v) => [v.offset / PAGE, v.length / PAGE, v.perms, v.zeroSource])).toEqual([
      [0, 1, '---s', true],
      [1, 2, 'r--s', true],
      [3, 509, '---s', true],
    ]);
    expect(second.mapZero(0, 2 * MiB)).toBe(1);
    expect(second.stats().zeroVmas).toBe(1);
    expect(zeroSourceInfo().vmas).toBe(base + 4);
    m.release();
    expect(zeroSourceInfo().vmas).toBe(base + 1);
    r.close(); // releases the second mapping too
    expect(zeroSourceInfo().vmas).toBe(base);
  });

  it('the VMA count agrees with the kernel through 400 random operations', () => {
    const r = region();
    const m = r.createMapping(6 * MiB);
    const pages = (6 * MiB) / PAGE;
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const base = zeroSourceInfo().vmas;
    for (let step = 0; step < 400; step++) {
      // Runs of 1 to 1100 pages: inside one window or across two or three.
      const first = rand(pages);
      const count = 1 + rand(Math.min(1100, pages - first));
      const [offset, length] = [first * PAGE, count * PAGE];
      const op = rand(10);
      if (op < 5) m.mapZero(offset, length);
      else if (op < 8) m.unmap(offset, length);
      else if (op < 9) m.mapBlocks(offset, length, 0, false);
      else m.mapPrivate(offset, length);
      const seen = zeroVmasSeen(m);
      expect([step, m.stats().zeroVmas]).toEqual([step, seen]);
      expect(zeroSourceInfo().vmas).toBe(base + seen);
    }
    const u8 = new Uint8Array(m.buffer);
    m.states().forEach((state, page) => {
      if (state === PageState.zero) expect(u8[page * PAGE + 7]).toBe(0);
    });
    r.close();
    expect(zeroSourceInfo().vmas).toBe(base);
  });

  it('tear-down, blocks and private copies replace the source; a private copy never reaches it', () => {
    const r = region();
    r.write(2 * PAGE, pattern(PAGE, 9));
    const m = r.createMapping(8 * PAGE);
    const other = r.createMapping(8 * PAGE);
    m.mapZero(0, 8 * PAGE);
    other.mapZero(0, 8 * PAGE);
    m.unmap(0, PAGE); // the source stays there, inaccessible
    m.mapBlocks(2 * PAGE, PAGE, 2 * PAGE, true);
    m.mapPrivate(4 * PAGE, PAGE);
    const u8 = new Uint8Array(m.buffer);
    u8.fill(0x5a, 4 * PAGE, 5 * PAGE);
    expect(m.states()).toEqual([
      PageState.none, PageState.zero, PageState.blockWrite, PageState.zero,
      PageState.privateWrite, PageState.zero, PageState.zero, PageState.zero,
    ]);
    expect(m.kernelView().map((v) => [v.offset / PAGE, v.length / PAGE, v.perms, v.zeroSource, v.regionFile])).toEqual([
      [0, 1, '---s', true, false],
      [1, 1, 'r--s', true, false],
      [2, 1, 'rw-s', false, true],
      [3, 1, 'r--s', true, false],
      [4, 1, 'rw-p', false, false],
      [5, 3, 'r--s', true, false],
    ]);
    expect(Buffer.from(u8.subarray(2 * PAGE, 3 * PAGE)).equals(pattern(PAGE, 9))).toBe(true);
    expect(new Uint8Array(other.buffer).every((b) => b === 0)).toBe(true);
    expectCode(() => m.protect(PAGE, PAGE, true), 'EINVAL', /page is zero/);
    // A block torn down is replaced by reserved anonymous memory; zeros
    // mapped there again merge with the source around them.
    m.unmap(2 * PAGE, PAGE);
    expect(m.kernelView()[2]).toMatchObject({ offset: 2 * PAGE, length: PAGE, perms: '---p', zeroSource: false });
    m.mapZero(2 * PAGE, PAGE);
    expect(m.kernelView().map((v) => [v.offset / PAGE, v.length / PAGE, v.perms])).toEqual([
      [0, 1, '---s'],
      [1, 3, 'r--s'],
      [4, 1, 'rw-p'],
      [5, 3, 'r--s'],
    ]);
    expect(m.stats().zeroVmas).toBe(3);
    expect(zeroSourceInfo()).toMatchObject({ kind: 'memfd', bytes: 2 * MiB, sealed: true, error: null });
    r.close();
  });

  it('a store to a page showing zeros kills the process (SIGSEGV), as documented', () => {
    const file = uniquePath(shm);
    const script = `
      const a = require(${JSON.stringify(addonPath)});
      const r = new a.Region(${JSON.stringify(file)}, { create: true, size: 1 << 20 });
      const m = new a.Mapping(r, 4 * 4096);
      m.mapZero(0, 4 * 4096);
      const u8 = new Uint8Array(m.buffer());
      if (u8[5] !== 0) process.exit(3);
      u8[5] = 1;
      process.exit(0);`;
    expect(spawnSync(process.execPath, ['-e', script]).signal).toBe('SIGSEGV');
  });
});

describe('the zero source at its limits', () => {
  it('past the zero-source limit mapZero fails with ENOMEM and changes nothing; a run adding no VMA still maps', () => {
    const r = region();
    const m = r.createMapping(8 * MiB);
    const before = zeroSourceInfo().vmaLimit;
    const base = zeroSourceInfo().vmas;
    try {
      setZeroSourceLimit(base + 2);
      expect(zeroSourceInfo().vmaLimit).toBe(base + 2);
      expectCode(() => m.mapZero(0, 8 * MiB), 'ENOMEM', new RegExp(`needs 4 more zero-source VMAs; the process holds ${base} and its zero-source limit is ${base + 2} \\(vm.max_map_count is \\d+\\)`));
      expect(m.states(0, 8 * MiB).every((s) => s === PageState.none)).toBe(true);
      expect(m.stats()).toMatchObject({ syscalls: 1, zeroVmas: 0 });
      m.mapZero(0, MiB); // window 0: readable, and the rest inaccessible
      expect(m.stats().zeroVmas).toBe(2);
      expectCode(() => m.mapZero(2 * MiB, MiB), 'ENOMEM', /needs 2 more/);
      m.mapZero(MiB, MiB); // window 0 whole: one VMA fewer
      expect(m.stats().zeroVmas).toBe(1);
      m.mapZero(2 * MiB, 2 * MiB);
      expectCode(() => m.mapZero(4 * MiB, PAGE), 'ENOMEM', /needs 2 more/);
      // Tear-downs are never refused by the limit (they may split a VMA).
      m.unmap(2 * MiB, MiB);
      expect(zeroSourceInfo().vmas).toBe(base + 3);
      expectCode(() => m.mapZero(4 * MiB, 2 * MiB), 'ENOMEM', /needs 1 more/);
      m.mapPrivate(2 * MiB, 2 * MiB);
      m.mapZero(4 * MiB, 2 * MiB);
      expect(m.states(0, 8 * MiB).filter((x) => x === PageState.zero)).toHaveLength(4 * MiB / PAGE);
      expect(zeroVmasSeen(m)).toBe(2);
      // (null means no limit but the kernel's)
      for (const [, bad] of BAD_NUMBERS.filter(([what]) => what !== 'null'))
        expectCode(() => setZeroSourceLimit(bad as number), 'EINVAL', /limit/);
      expect(zeroSourceInfo().vmaLimit).toBe(base + 2);
      setZeroSourceLimit(null);
      expect(zeroSourceInfo().vmaLimit).toBeNull();
      m.mapZero(6 * MiB, 2 * MiB);
      expect(m.stats().zeroVmas).toBe(3);
      expect(zeroVmasSeen(m)).toBe(3);
    } finally {
      setZeroSourceLimit(before);
    }
    expect(zeroSourceInfo().vmaLimit).toBe(before);
    r.close();
  });

  it('by default the source may hold a quarter of vm.max_map_count: filling it fails with ENOMEM and the process goes on', () => {
    const file = uniquePath(shm);
    // Every other page shows zeros: each piece is a VMA, and splits the
    // torn-down reservation around it, the worst case for the VMA count.
    const out = child(
      `
      import { Region, zeroSourceInfo } from ${JSON.stringify(path.join(packageRoot, 'dist/lib/index.js'))};
      const r = Region.create(${JSON.stringify(file)}, 1 << 20);
      const m = r.createMapping(1 << 30);
      let shown = 0, error;
      try {
        for (let off = 0; off < (1 << 30); off += 8192) { m.mapZero(off, 4096); shown++; }
      } catch (e) { error = e; }
      const info = zeroSourceInfo();
      // The JS heap still gets the VMAs it needs.
      const kept = [];
      for (let i = 0; i < 64; i++) kept.push(new Uint8Array(1 << 20).fill(i));
      const objects = Array.from({ length: 500000 }, (_, i) => ({ i, s: String(i) }));
      r.close();
      console.log(JSON.stringify({ shown, code: error?.code, message: error?.message, info, kept: kept.length, objects: objects.length }));`,
      true,
    );
    // Each page shown splits its window's inaccessible VMA: two VMAs more.
    const limit = Math.floor(Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8')) * ZERO_SOURCE_SHARE);
    const shown = Math.floor(limit / 2);
    expect(out).toMatchObject({ shown, code: 'ENOMEM', kept: 64, objects: 500000 });
    expect(out['info']).toMatchObject({ vmas: 2 * shown, vmaLimit: limit });
    expect(out['message']).toMatch(new RegExp(`needs 2 more zero-source VMAs; the process holds ${2 * shown} and its zero-source limit is ${limit}`));
  });

  it.skipIf(sanitized)("at the kernel's own VMA limit (no engine limit) mapZero fails with ENOMEM naming vm.max_map_count, the state table stays true", () => {
    const file = uniquePath(shm);
    // The raw addon, without the TypeScript layer's limit. Right after the
    // refusal a second mapping is refused too, then the filler is released
    // before anything else allocates (the JS heap itself needs VMAs to grow).
    const out = child(`
      const a = require(${JSON.stringify(addonPath)});
      const r = new a.Region(${JSON.stringify(file)}, { create: true, size: 1 << 20 });
      const b = new a.Mapping(r, 1 << 21);
      const m = new a.Mapping(r, 1 << 30);
      let shown = 0, first, second;
      try {
        for (let off = 0; off < (1 << 30); off += 8192) { m.mapZero(off, 4096); shown++; }
      } catch (e) {
        first = e;
        try { b.mapZero(4096, 4096); } catch (e2) { second = e2; }
        m.release();
      }
      const refused = { states: Array.from(b.states(0, 3 * 4096)), zeroVmas: b.stats().zeroVmas, vmas: a.zeroSource().vmas,
        seen: b.kernelView().filter((v) => v.zeroSource).length };
      b.mapZero(4096, 4096);
      const after = { states: Array.from(b.states(0, 3 * 4096)), zeroVmas: b.stats().zeroVmas, byte: new Uint8Array(b.buffer())[4097] };
      r.close();
      console.log(JSON.stringify({ shown, first: [first?.code, first?.syscall, first?.message], second: [second?.code, second?.message], refused, after }));`);
    const max = Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8'));
    const note = new RegExp(`the process holds \\d+ memory mappings \\(VMAs\\); its limit, vm.max_map_count, is ${max}`);
    expect(out['shown']).toBeGreaterThan(max / 2 - 1000);
    // (an mprotect splitting a window's VMA, or the mmap of a new window)
    const [code, syscall, message] = out['first'] as string[];
    expect(code).toBe('ENOMEM');
    expect(['mprotect', 'mmap']).toContain(syscall);
    expect(message).toMatch(note);
    expect((out['second'] as string[])[0]).toBe('ENOMEM');
    expect((out['second'] as string[])[1]).toMatch(note);
    // Nothing shows zeros; the window may have been mapped inaccessible
    // before the mprotect was refused: the count says so, as the kernel does.
    const refused = out['refused'] as { states: number[]; zeroVmas: number; vmas: number; seen: number };
    expect(refused.states).toEqual([0, 0, 0]);
    expect([0, 1]).toContain(refused.zeroVmas);
    expect(refused.seen).toBe(refused.zeroVmas);
    expect(refused.vmas).toBe(refused.zeroVmas);
    expect(out['after']).toEqual({ states: [0, 1, 0], zeroVmas: 3, byte: 0 });
  });
});

describe('the capability report: anonymous read faults', () => {
  it('the probe gives one of the two answers, and a direct measurement agrees', () => {
    const r = region();
    const c = r.capabilities;
    expect(['zero-page', 'allocates']).toContain(c.anonymousReadFaults);
    expect(c.anonymousReadProbe).toMatchObject({ bytes: 4 * MiB, error: null });
    expect(c.anonymousReadFaults === 'zero-page').toBe(c.anonymousReadProbe.rssKiB === 0);
    // Directly: a fresh 64 MiB ArrayBuffer is private anonymous memory the
    // allocator never touched; load one byte per page and see what became
    // resident (RssAnon, in a process of its own).
    const direct = child(`
      const fs = require('fs');
      const rssAnon = () => Number(/RssAnon:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
      const before = rssAnon();
      const u8 = new Uint8Array(64 << 20);
      let sum = 0;
      for (let i = 0; i < u8.length; i += 4096) sum += u8[i];
      console.log(JSON.stringify({ grewKiB: rssAnon() - before, sum }));`);
    const grew = direct['grewKiB'] as number;
    // Unambiguous either way: (nearly) all 64 MiB, or (nearly) none of it.
    expect(grew < 8 * 1024 || grew > 56 * 1024).toBe(true);
    expect(c.anonymousReadFaults).toBe(grew > 56 * 1024 ? 'allocates' : 'zero-page');
    // Measured once per process: a second region reports the same figures.
    const again = region();
    expect(again.capabilities.anonymousReadProbe).toEqual(c.anonymousReadProbe);
    const lines = formatCapabilities(c);
    expect(lines).toContain(`anonymous reads    ${c.anonymousReadFaults}: ${c.anonymousReadFaultsMeaning}`);
    expect(lines.find((l) => l.startsWith('zero source'))).toMatch(/^zero source +memfd: a 2 MiB memfd of zeros, sealed against writes, .*a VMA per run of zeros \(shown or torn down\) in each 2 MiB window, at most \d+ \(vm.max_map_count \d+\)$/);
    expect(c.zeroSource).toEqual({ kind: 'memfd', bytes: 2 * MiB, sealed: true, vmaLimit: zeroSourceInfo().vmaLimit, maxMapCount: Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8')), error: null });
    again.close();
    r.close();
  });
});
