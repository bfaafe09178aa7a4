// When the backing cannot supply a page — its file was truncated under the
// region, or its file system is full — an access to region memory raises
// SIGBUS. Every native primitive turns that into a typed error and the
// process lives on; a plain access through a view or a mapping buffer ends
// the process by SIGBUS, as in the kernel, after one line naming what was hit.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { addonPath, DaxfsError, Region } from '../../lib/index.js';
import { diskDir, pattern, tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
const disk = diskDir();
const KiB = 1024;
const MiB = 1 << 20;
const PAGE = 4096;
const END = 64 * KiB; // where the truncated file ends
const P = 40 * PAGE; // a page past that end

const truncated = (file: string, page: number) =>
  `the backing file '${file}' was truncated to ${END} bytes under the region: the page at offset ${page} is gone`;
const noSpace = (file: string, page: number) =>
  `the file system holding '${file}' has no space to back the page at offset ${page}`;

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The error a fault of the backing gives: code, errno and path set, no syscall, and the exact message. */
function faultOf(e: unknown): Record<string, unknown> {
  expect(e).toBeInstanceOf(DaxfsError);
  const d = e as DaxfsError;
  return { code: d.code, errno: d.errno, path: d.path, syscall: d.syscall, message: d.message };
}

function expected(code: 'EIO' | 'ENOSPC', file: string, message: string): Record<string, unknown> {
  return { code, errno: -os.constants.errno[code], path: file, syscall: undefined, message };
}

/** Every primitive at page P (or at the first page past END), each expected to throw. */
function primitivesAtP(region: Region): [string, () => unknown, number][] {
  const bytes = Buffer.alloc(PAGE, 1);
  return [
    ['write (ordinary stores)', () => region.write(P + 100, bytes, 0, 64), P],
    ['write (non-temporal)', () => region.write(P, bytes), P],
    ['read', () => region.read(P + 8, Buffer.alloc(16)), P],
    ['zero (non-temporal)', () => region.zero(P, PAGE), P],
    ['zero (ordinary stores)', () => region.zero(P + 8, 16), P],
    ['persist', () => region.persist(P, 64), P],
    ['flush', () => region.flush(P, 64), P],
    ['load64', () => region.load64(P), P],
    ['store64', () => region.store64(P, 7), P],
    ['store64Parts', () => region.store64Parts(P, 1, 2), P],
    ['cas64', () => region.cas64(P, 0n, 1n), P],
    ['writeScatter', () => region.writeScatter(bytes, new Float64Array([8, 0, 16, P + 8, 0, 16]), 2), P],
    ['writePublish', () => region.writePublish(PAGE, bytes, 0, 64, P + 8, 1, 0), P],
    ['bitmap countSet', () => region.bitmap(P, 512).countSet(), P],
    ['bitmap find', () => region.bitmap(P, 512).find(0, 1), P],
    ['bitmap set', () => region.bitmap(P, 512).set(0, 1), P],
    ['bitmap clear', () => region.bitmap(P, 512).clear(0, 1), P],
    ['copyProbe (in)', () => region.copyProbe(new Float64Array([0, P]), 64, bytes, true), P],
    ['copyProbe (out)', () => region.copyProbe(new Float64Array([0, P]), 64, bytes, false), P],
    ['firstTouch', () => region.firstTouch(0, MiB, PAGE, false), END],
  ];
}

describe('a backing file truncated under the region', () => {
  it('every primitive past the new end throws EIO naming the path and the page; before it, and after the file grows back, they work', () => {
    const file = uniquePath(shm);
    const region = Region.create(file, MiB);
    region.write(0, pattern(END, 5));
    truncateSync(file, END); // another open file description, as another program would
    for (const [name, call, page] of primitivesAtP(region))
      expect(faultOf(caught(call)), name).toEqual(expected('EIO', file, truncated(file, page)));

    // Before the end everything works. What a call stored before its fault
    // remains: copyProbe's first copy ([0, 64)), writeScatter's first range
    // ([8, 24)) and writePublish's bytes ([PAGE, PAGE + 64)), all ones.
    const expectedBytes = pattern(END, 5);
    expectedBytes.fill(1, 0, 64);
    expectedBytes.fill(1, PAGE, PAGE + 64);
    const back = Buffer.alloc(END);
    region.read(0, back);
    expect(back.equals(expectedBytes)).toBe(true);
    region.write(2 * PAGE, Buffer.from('still here'));
    expect(region.view(2 * PAGE, 10).toString()).toBe('still here');
    expect(region.load64(3 * PAGE)).toBe(expectedBytes.readBigUInt64LE(3 * PAGE));

    // grown back: the pages past the old end are holes (zeros) and every call works
    truncateSync(file, MiB);
    for (const [name, call] of primitivesAtP(region)) expect(caught(call), name).toBeUndefined();
    expect(region.load64(P)).toBe(0x0101010101010101n); // copyProbe's ones were the last stores there
    region.write(P + 100, Buffer.from('back'));
    const word = Buffer.alloc(4);
    region.read(P + 100, word);
    expect(word.toString()).toBe('back');
    region.close();
  });

  it('a buffer of the call that lies past the end of another region, or in a mapping of blocks past the end, names that page', () => {
    const a = Region.create(uniquePath(shm), MiB);
    const bFile = uniquePath(shm);
    const b = Region.create(bFile, MiB);
    const viewOfB = b.view(P, 16);
    truncateSync(bFile, END);
    expect(faultOf(caught(() => a.read(0, viewOfB)))).toEqual(expected('EIO', bFile, truncated(bFile, P)));
    expect(faultOf(caught(() => a.write(0, viewOfB)))).toEqual(expected('EIO', bFile, truncated(bFile, P)));

    const mapping = b.createMapping(4 * PAGE);
    mapping.mapBlocks(PAGE, PAGE, P, true);
    const mapped = new Uint8Array(mapping.buffer, PAGE + 8, 16);
    expect(faultOf(caught(() => a.write(0, mapped)))).toEqual(expected('EIO', bFile, truncated(bFile, P)));
    expect(faultOf(caught(() => b.write(0, mapped)))).toEqual(expected('EIO', bFile, truncated(bFile, P)));
    a.close();
    b.close();
  });

  it('mapPrivate from a page past the end throws EIO and leaves the run torn down', () => {
    const file = uniquePath(shm);
    const region = Region.create(file, MiB);
    truncateSync(file, END);
    const mapping = region.createMapping(4 * PAGE);
    expect(faultOf(caught(() => mapping.mapPrivate(PAGE, 2 * PAGE, P)))).toEqual(expected('EIO', file, truncated(file, P)));
    expect([...mapping.states(0, 4 * PAGE)]).toEqual([0, 0, 0, 0]);
    mapping.mapPrivate(PAGE, PAGE, 0); // from before the end: fine
    expect([...mapping.states(0, 2 * PAGE)]).toEqual([0, 5]);
    region.close();
  });

  it('asynchronous copies on the thread pool reject with EIO', async () => {
    const file = uniquePath(shm);
    const region = Region.create(file, MiB);
    truncateSync(file, END);
    const into = Buffer.alloc(64);
    const errors = await Promise.all([
      region.writeAsync(P + 8, Buffer.alloc(64, 1)).then(() => undefined, (e: unknown) => e),
      region.readAsync(P + 8, into).then(() => undefined, (e: unknown) => e),
      // from before the end across it: the first page past the end fails
      region.writeAsync(END - PAGE, Buffer.alloc(3 * PAGE, 1)).then(() => undefined, (e: unknown) => e),
    ]);
    expect(errors.map(faultOf)).toEqual([
      expected('EIO', file, truncated(file, P)),
      expected('EIO', file, truncated(file, P)),
      expected('EIO', file, truncated(file, END)),
    ]);
    expect(await region.writeAsync(8, Buffer.alloc(64, 1))).toBe(64);
    region.close();
  });

  it('on a disk file system (msync mode) too', () => {
    const file = uniquePath(disk);
    const region = Region.create(file, MiB);
    expect(region.capabilities.persistence).toBe('msync');
    truncateSync(file, END);
    expect(faultOf(caught(() => region.write(P + 100, Buffer.alloc(64, 1))))).toEqual(expected('EIO', file, truncated(file, P)));
    expect(faultOf(caught(() => region.read(P, Buffer.alloc(64))))).toEqual(expected('EIO', file, truncated(file, P)));
    expect(faultOf(caught(() => region.zero(P, PAGE)))).toEqual(expected('EIO', file, truncated(file, P)));
    region.write(0, Buffer.from('fine'));
    expect(region.view(0, 4).toString()).toBe('fine');
    region.close();
  });
});

interface ChildRun {
  signal: string | null;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `body` in a child process with the addon loaded as `a` (and node:fs
 * as `fs`), `before` ahead of loading it; the child exits 0 after the body.
 */
function child(body: string, before = '', exitAfter = true): ChildRun {
  const script = `${before}
    const fs = require('node:fs');
    const a = require(${JSON.stringify(addonPath)});
    ${body}
    ${exitAfter ? 'process.exit(0);' : ''}`;
  // Under AddressSanitizer (the sanitizer build's test run) SIGBUS is left to
  // its default action, as in a plain process: the sanitizer would take it first.
  const asan = process.env['ASAN_OPTIONS'];
  const env = asan === undefined ? process.env : { ...process.env, ASAN_OPTIONS: `${asan}:handle_sigbus=0` };
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env });
  return { signal: run.signal, status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('a plain access no call can report', () => {
  it('a store through a region view past the end: the process dies by SIGBUS after one line naming path and offset', () => {
    const file = uniquePath(shm);
    const run = child(`
      const r = new a.Region(${JSON.stringify(file)}, { create: true, size: ${MiB} });
      fs.truncateSync(${JSON.stringify(file)}, ${END});
      new Uint8Array(r.arrayBuffer(0))[${P + 5}] = 1;`);
    expect(run).toEqual({
      signal: 'SIGBUS',
      status: null,
      stdout: '',
      stderr: `daxfs: SIGBUS at offset ${P + 5} of '${file}': the file was truncated to ${END} bytes\n`,
    });
  });

  it('a load through a range buffer past the end: the same', () => {
    const file = uniquePath(shm);
    const run = child(`
      const r = new a.Region(${JSON.stringify(file)}, { create: true, size: ${MiB} });
      const view = new Uint8Array(r.rangeBuffer(${P}, ${PAGE}));
      fs.truncateSync(${JSON.stringify(file)}, ${END});
      console.log(view[100]);`);
    expect(run).toEqual({
      signal: 'SIGBUS',
      status: null,
      stdout: '',
      stderr: `daxfs: SIGBUS at offset ${P + 100} of '${file}': the file was truncated to ${END} bytes\n`,
    });
  });

  it('a store through an MMU mapping buffer: the line names the region offset and the mapping offset', () => {
    const file = uniquePath(shm);
    const run = child(`
      const r = new a.Region(${JSON.stringify(file)}, { create: true, size: ${MiB} });
      const m = new a.Mapping(r, ${16 * PAGE});
      m.mapBlocks(${PAGE}, ${2 * PAGE}, ${P}, true);
      fs.truncateSync(${JSON.stringify(file)}, ${END});
      new Uint8Array(m.buffer())[${2 * PAGE + 5}] = 1;`);
    expect(run).toEqual({
      signal: 'SIGBUS',
      status: null,
      stdout: '',
      stderr: `daxfs: SIGBUS at offset ${P + PAGE + 5} of '${file}', mapped at offset ${2 * PAGE + 5} of a mapping: the file was truncated to ${END} bytes\n`,
    });
  });
});

describe('a SIGBUS that is not daxfs\'s', () => {
  it('sent with kill(): the process dies by SIGBUS, with no line', () => {
    const file = uniquePath(shm);
    const run = child(`
      const r = new a.Region(${JSON.stringify(file)}, { create: true, size: ${MiB} });
      process.kill(process.pid, 'SIGBUS');
      setTimeout(() => process.exit(4), 5000);`,
      '',
      false,
    );
    expect(run).toEqual({ signal: 'SIGBUS', status: null, stdout: '', stderr: '' });
  });

  it('sent with kill() where a handler was installed before the addon loaded: that handler gets it', () => {
    const file = uniquePath(shm);
    // the addon's handler is in place (a fault of a primitive is caught), and passes kill() on
    const run = child(
      `const r = new a.Region(${JSON.stringify(file)}, { create: true, size: ${MiB} });
      fs.truncateSync(${JSON.stringify(file)}, ${END});
      try { r.load64(${P}); } catch (e) { console.log(e.code); }
      process.kill(process.pid, 'SIGBUS');
      setTimeout(() => process.exit(4), 5000);`,
      `process.on('SIGBUS', () => { console.log('listener'); process.exit(0); });`,
      false,
    );
    expect(run).toEqual({ signal: null, status: 0, stdout: 'EIO\nlistener\n', stderr: '' });
  });

  it('a fault in memory no region or mapping holds: the process dies by SIGBUS, with no line', () => {
    const empty = uniquePath(shm, 'empty');
    writeFileSync(empty, '');
    const file = uniquePath(shm);
    const run = child(`
      const r = new a.Region(${JSON.stringify(file)}, { create: true, size: ${MiB} });
      a.loadPastEndOfFile(${JSON.stringify(empty)});`);
    expect(run).toEqual({ signal: 'SIGBUS', status: null, stdout: '', stderr: '' });
  });
});

describe('a full file system', () => {
  // A small tmpfs of its own; mounting needs the privilege, so the tests say
  // why they are skipped where it is refused.
  let mnt = '';
  let refused = '';
  let scratch = '';
  beforeAll(() => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'daxfs-test-'));
    mnt = path.join(scratch, 'mnt');
    mkdirSync(mnt);
    const run = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mnt], { encoding: 'utf8' });
    if (run.status !== 0) {
      refused = `mount -t tmpfs refused here (${(run.stderr || run.error?.message || `status ${run.status}`).trim()}): no small file system to fill`;
      console.log(refused);
    }
  });
  afterAll(() => {
    if (!refused) spawnSync('umount', [mnt]);
    rmSync(scratch, { recursive: true, force: true });
  });

  /** A region larger than the file system (sparse), written page by page until a write fails; the first page left unbacked. */
  function fill(file: string): { region: Region; at: number; error: unknown } {
    const region = Region.create(file, 4 * MiB);
    const page = Buffer.alloc(PAGE, 7);
    for (let at = 0; at < 4 * MiB; at += PAGE) {
      const error = caught(() => region.write(at, page));
      if (error !== undefined) return { region, at, error };
    }
    throw new Error('a 4 MiB region filled a 1 MiB file system');
  }

  it('writes past what the file system holds throw ENOSPC; the process lives on; once space is freed they succeed', async ({ skip }) => {
    skip(refused !== '', refused);
    const other = path.join(mnt, 'other');
    writeFileSync(other, Buffer.alloc(256 * KiB, 1));
    const file = path.join(mnt, 'region');
    const { region, at, error } = fill(file);
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(MiB);
    expect(faultOf(error)).toEqual(expected('ENOSPC', file, noSpace(file, at)));
    expect(faultOf(caught(() => region.write(at + 100, Buffer.alloc(64, 1))))).toEqual(expected('ENOSPC', file, noSpace(file, at)));
    expect(faultOf(caught(() => region.zero(at + PAGE, PAGE)))).toEqual(expected('ENOSPC', file, noSpace(file, at + PAGE)));
    expect(faultOf(caught(() => region.store64(at + 2 * PAGE, 5)))).toEqual(expected('ENOSPC', file, noSpace(file, at + 2 * PAGE)));
    // tmpfs gives a hole a page of its own even on a read fault
    expect(faultOf(caught(() => region.read(at + 3 * PAGE, Buffer.alloc(8))))).toEqual(expected('ENOSPC', file, noSpace(file, at + 3 * PAGE)));
    expect(faultOf(await region.writeAsync(at, Buffer.alloc(64, 1)).then(() => undefined, (e: unknown) => e))).toEqual(
      expected('ENOSPC', file, noSpace(file, at)),
    );
    // what was written before is intact
    const before = Buffer.alloc(at);
    region.read(0, before);
    expect(before.every((b) => b === 7)).toBe(true);

    rmSync(other);
    region.write(at + 100, Buffer.from('room again'));
    region.zero(at + PAGE, PAGE);
    region.store64(at + 2 * PAGE, 5);
    expect(await region.writeAsync(at + 3 * PAGE, Buffer.alloc(64, 2))).toBe(64);
    const back = Buffer.alloc(10);
    region.read(at + 100, back);
    expect(back.toString()).toBe('room again');
    expect(region.load64(at + 2 * PAGE)).toBe(5n);
    region.close();
    rmSync(file);
  });

  it('a store through a view into a page the full file system cannot back: the process dies by SIGBUS after one line', ({ skip }) => {
    skip(refused !== '', refused);
    const file = path.join(mnt, 'region-view');
    const { region, at } = fill(file);
    region.close();
    const run = child(`
      const r = new a.Region(${JSON.stringify(file)});
      new Uint8Array(r.arrayBuffer(0))[${at + 5}] = 1;`);
    expect(run).toEqual({
      signal: 'SIGBUS',
      status: null,
      stdout: '',
      stderr: `daxfs: SIGBUS at offset ${at + 5} of '${file}': no space on its file system to back this page\n`,
    });
    rmSync(file);
  });
});
