// The daxfs command never destroys data: nothing is written to a file that
// is not a pool, get never overwrites the pool, put and get replace their
// destination only once the copy is complete, mkfs refuses to format over
// data without --force, check's exit statuses say one thing each, and names
// are taken byte for byte.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { main } from '../lib/cli/daxfs.js';
import { packageRoot } from '../lib/native.js';
import { Pool, Region } from '../lib/index.js';
import { computeGeometry } from '../lib/pool/layout.js';
import { daxfs } from './cli-helpers.js';
import { pattern, tmpfsDir, uniquePath } from './helpers.js';

const dir = tmpfsDir();
const MiB = 2 ** 20;
const bin = path.join(packageRoot, 'dist/lib/cli/daxfs.js');

/**
 * A probe that holds once `pid` sleeps and has used no CPU since the previous
 * call: it waits (for input, here). Kernels name the wait channel of a pipe
 * read differently, or hide it, so the channel alone is not enough.
 */
function idleProbe(pid: number): () => boolean {
  let last = '';
  return () => {
    let fields: string[];
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    } catch {
      return true; // gone: nothing left to wait for
    }
    const cpu = `${fields[11]}/${fields[12]}`; // utime/stime
    const idle = fields[0] === 'S' && cpu === last;
    last = cpu;
    return idle || waitChannel(pid) === 'pipe_read';
  };
}

function waitChannel(pid: number): string {
  try {
    const w = readFileSync(`/proc/${pid}/wchan`, 'utf8');
    return w === '0' ? '' : w;
  } catch {
    return '';
  }
}

async function until(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; !probe(); i++) {
    if (i > 600) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A pool of `size` with the files given (name → contents). */
function makePool(files: Record<string, Buffer> = {}, size = '16M'): string {
  const pool = uniquePath(dir, 'pool');
  expect(daxfs('mkfs', pool, '--size', size).code).toBe(0);
  for (const [name, data] of Object.entries(files)) {
    const src = uniquePath(dir, 'src');
    writeFileSync(src, data);
    expect(daxfs('put', pool, src, name).code).toBe(0);
  }
  return pool;
}

function listing(pool: string): { name: string; size: number }[] {
  return (JSON.parse(daxfs('ls', pool, '--json').out) as { name: string; size: number }[]).map(({ name, size }) => ({ name, size }));
}

function contents(pool: string, name: string): Buffer {
  const out = uniquePath(dir, 'out');
  expect(daxfs('get', pool, name, out).code).toBe(0);
  return readFileSync(out);
}

describe('nothing is written before the pool is recognised', () => {
  it('cli-rm-writes-nothing-to-a-non-pool', () => {
    // a size a pool could have, so that only the superblock tells
    const file = uniquePath(dir, 'somefile');
    writeFileSync(file, pattern(MiB, 5));
    const before = digest(file);
    const src = uniquePath(dir, 'src');
    writeFileSync(src, 'x');
    const notAPool = 'daxfs: EUCLEAN: primary superblock: bad magic (not a daxfs pool, or overwritten)\n';
    for (const argv of [['rm', file, 'x'], ['put', file, src, 'x'], ['check', file, '--repair'], ['info', file], ['ls', file]]) {
      const r = daxfs(...argv);
      expect(r.err, argv.join(' ')).toBe(notAPool);
      expect(digest(file), argv.join(' ')).toBe(before);
    }
    // a pool is recognised and then marked with its holder (pid and time at byte 2048)
    const pool = makePool({ x: Buffer.from('x') });
    expect(daxfs('rm', pool, 'x').code).toBe(0);
    expect(readFileSync(pool).readUInt32LE(2048)).toBe(process.pid);
  });
});

describe('get never overwrites the pool and replaces its output whole', () => {
  it('get-refuses-the-pool-as-output', () => {
    const poolFile = makePool();
    const base = path.basename(poolFile);
    const src = uniquePath(dir, 'src');
    writeFileSync(src, pattern(70_000, 2));
    expect(daxfs('put', poolFile, src, base).code).toBe(0);
    expect(daxfs('put', poolFile, src, 'x').code).toBe(0);
    const before = digest(poolFile);
    const refused = (what: string) => ({ code: 1, out: '', err: `daxfs: EINVAL: ${what} is the pool itself: get would overwrite the pool it reads\n` });

    expect(daxfs('get', poolFile, 'x', poolFile)).toEqual(refused(`'${poolFile}'`));
    const soft = uniquePath(dir, 'symlink');
    symlinkSync(poolFile, soft);
    expect(daxfs('get', poolFile, 'x', soft)).toEqual(refused(`'${soft}'`));
    const hard = uniquePath(dir, 'hardlink');
    linkSync(poolFile, hard);
    expect(daxfs('get', poolFile, 'x', hard)).toEqual(refused(`'${hard}'`));
    // the default output is the name, in the working directory: here the pool's own name
    const cwd = spawnSync(process.execPath, [bin, 'get', base, base], { cwd: dir, encoding: 'utf8' });
    expect({ status: cwd.status, signal: cwd.signal, stderr: cwd.stderr }).toEqual({ status: 1, signal: null, stderr: refused(`'${base}'`).err });
    // stdout appending to the pool
    const fd = openSync(poolFile, 'a');
    try {
      const piped = spawnSync(process.execPath, [bin, 'get', poolFile, 'x', '-'], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
      expect({ status: piped.status, stderr: piped.stderr }).toEqual({ status: 1, stderr: refused('stdout').err });
    } finally {
      closeSync(fd);
    }

    expect(digest(poolFile)).toBe(before);
    expect(statSync(poolFile).size).toBe(16 * MiB);
    expect(daxfs('check', poolFile)).toMatchObject({ code: 0 });
    expect(contents(poolFile, 'x').equals(readFileSync(src))).toBe(true);
  });

  it('get writes a temporary beside its output and renames it into place: mode kept, links followed, devices written', () => {
    const data = pattern(200_000, 9);
    const pool = makePool({ data });
    const out = path.join(dir, 'get-out');
    mkdirSync(out);
    const fresh = path.join(out, 'fresh');
    expect(daxfs('get', pool, 'data', fresh).code).toBe(0);
    expect(readFileSync(fresh).equals(data)).toBe(true);
    expect(statSync(fresh).mode & 0o777).toBe(0o600);

    const existing = path.join(out, 'existing');
    writeFileSync(existing, 'old contents', { mode: 0o640 });
    const inode = statSync(existing).ino;
    expect(daxfs('get', pool, 'data', existing).code).toBe(0);
    expect(readFileSync(existing).equals(data)).toBe(true);
    expect(statSync(existing).mode & 0o777).toBe(0o640);
    expect(statSync(existing).ino).not.toBe(inode); // a new file renamed over the old one

    const target = path.join(out, 'target');
    writeFileSync(target, 'old');
    const link = path.join(out, 'link');
    symlinkSync(target, link);
    expect(daxfs('get', pool, 'data', link).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target).equals(data)).toBe(true);

    expect(daxfs('get', pool, 'data', '/dev/null')).toMatchObject({ code: 0, err: '' });
    expect(daxfs('get', pool, 'data', out)).toEqual({ code: 1, out: '', err: `daxfs: EISDIR: '${out}' is a directory\n` });
    expect(daxfs('get', pool, 'data', path.join(out, 'no-such-dir', 'x'))).toMatchObject({ code: 1 });
    expect(readdirSync(out).sort()).toEqual(['existing', 'fresh', 'link', 'target']);
  });
});

describe('put replaces a file only once the new one is complete', () => {
  it('put-is-atomic-under-kill', async () => {
    const old = pattern(300_000, 3);
    const pool = makePool({ data: old }, '64M');
    const freeBefore = (JSON.parse(daxfs('info', pool, '--json').out) as { freeBlocks: number }).freeBlocks;
    const fifo = uniquePath(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const child = spawn(process.execPath, [bin, 'put', pool, fifo, 'data'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      const w = openSync(fifo, 'w'); // returns once put has opened its source
      try {
        // A FIFO holds 64 KiB: once these writes return, put has read all but
        // that much and copied it into the pool (it writes what it reads
        // before reading more). Then it is stopped, mid-copy.
        const chunk = pattern(MiB, 4);
        for (let i = 0; i < 24; i++) writeSync(w, chunk);
        // Killed while it waits for more input, not in the middle of a commit.
        await until('put to wait for more input', idleProbe(child.pid!));
        child.kill('SIGKILL');
        expect(await exited).toBe('SIGKILL');
      } finally {
        closeSync(w);
      }
    } finally {
      child.kill('SIGKILL');
    }
    // the old file, whole; no partial or empty entry
    expect(listing(pool)).toEqual([{ name: 'data', size: old.length }]);
    expect(contents(pool, 'data').equals(old)).toBe(true);
    // the copy was under way: its temporary holds some 24 MiB, which a read-only check sees
    const ro = JSON.parse(daxfs('check', pool, '--json').out) as { problems: { kind: string }[] };
    expect(ro.problems.map((p) => p.kind)).toEqual(['temporary']);
    const info = JSON.parse(daxfs('info', pool, '--json').out) as { freeBlocks: number; files: number };
    expect(freeBefore - info.freeBlocks).toBeGreaterThan((23 * MiB) / 4096);
    expect(info.files).toBe(1);
    // a read-write mount removes it, and says so
    const repair = daxfs('check', pool, '--repair');
    expect(repair.out.split('\n')[0]).toBe('repaired at mount: temporary: removed 1 temporary file of a process that is gone (an interrupted put)');
    expect(repair.code).toBe(1);
    expect(daxfs('check', pool)).toMatchObject({ code: 0, out: expect.stringMatching(/^clean: 1 files/) as unknown as string });
    expect((JSON.parse(daxfs('info', pool, '--json').out) as { freeBlocks: number }).freeBlocks).toBe(freeBefore);
    expect(contents(pool, 'data').equals(old)).toBe(true);
  }, 120_000);

  it('put-keeps-the-old-file-on-failure: a full pool, an unreadable source', () => {
    const old = pattern(100_000, 6);
    const pool = makePool({ data: old }, '8M');
    const big = uniquePath(dir, 'big');
    writeFileSync(big, pattern(12 * MiB, 7));
    const full = daxfs('put', pool, big, 'data');
    expect(full.code).toBe(1);
    expect(full.err).toMatch(/^daxfs: ENOSPC: /);
    const unreadable = daxfs('put', pool, dir, 'data'); // a directory opens, then read() fails
    expect(unreadable).toEqual({ code: 1, out: '', err: 'daxfs: EISDIR: illegal operation on a directory, read\n' });
    const fresh = daxfs('put', pool, big, 'new');
    expect(fresh.code).toBe(1);
    expect(listing(pool)).toEqual([{ name: 'data', size: old.length }]);
    expect(contents(pool, 'data').equals(old)).toBe(true);
    expect(daxfs('check', pool)).toMatchObject({ code: 0 });
    // it replaces once complete, and the reserved prefix is no name to give
    const src = uniquePath(dir, 'src');
    writeFileSync(src, 'new contents');
    expect(daxfs('put', pool, src, 'data').code).toBe(0);
    expect(contents(pool, 'data').toString()).toBe('new contents');
    expect(daxfs('put', pool, src, '.daxfs-tmp.x')).toEqual({
      code: 1,
      out: '',
      err: "daxfs: EINVAL: name must not start with '.daxfs-tmp.' (reserved for the pool's temporary files)\n",
    });
    expect(daxfs('put', pool, pool, 'self')).toEqual({ code: 1, out: '', err: `daxfs: EINVAL: the source '${pool}' is the pool itself\n` });
  });
});

describe('mkfs formats only what it may destroy', () => {
  it('mkfs-refuses-existing-without-force', () => {
    const pool = makePool({ a: Buffer.from('a'), b: Buffer.from('b') });
    const before = digest(pool);
    const hint = '; add --force to format it anyway\n';
    expect(daxfs('mkfs', pool)).toEqual({ code: 1, out: '', err: `daxfs: EEXIST: '${pool}' holds a daxfs pool with 2 files: formatting it would destroy that${hint}` });
    expect(daxfs('mkfs', pool, '--size', '16M').code).toBe(1);
    expect(digest(pool)).toBe(before);
    const file = uniquePath(dir, 'file');
    writeFileSync(file, pattern(8192));
    expect(daxfs('mkfs', file).err).toBe(`daxfs: EEXIST: '${file}' holds a file of 8192 bytes: formatting it would destroy that${hint}`);
    expect(daxfs('mkfs', '/dev/null').err).toBe(`daxfs: EEXIST: '/dev/null' holds a device: formatting it would destroy that${hint}`);
    expect(JSON.parse(daxfs('mkfs', file, '--json').err)).toMatchObject({ error: { code: 'EEXIST' } });
    expect(readFileSync(file).equals(pattern(8192))).toBe(true);

    // --force formats it
    expect(daxfs('mkfs', pool, '--force').code).toBe(0);
    expect(listing(pool)).toEqual([]);
    // an empty file is nothing to lose: sized and formatted
    const empty = uniquePath(dir, 'empty');
    writeFileSync(empty, '');
    expect(daxfs('mkfs', empty, '--size', '8M').code).toBe(0);
    expect(statSync(empty).size).toBe(8 * MiB);
  });

  it('a failed mkfs leaves nothing behind and does not block a retry', () => {
    const fresh = uniquePath(dir, 'fresh');
    expect(daxfs('mkfs', fresh, '--size', '512K')).toEqual({ code: 1, out: '', err: 'daxfs: EINVAL: a pool needs at least 1048576 bytes in whole 4096-byte blocks, got 524288\n' });
    expect(existsSync(fresh)).toBe(false);
    expect(daxfs('mkfs', fresh, '--size', '8M').code).toBe(0);
    const empty = uniquePath(dir, 'empty');
    writeFileSync(empty, '');
    expect(daxfs('mkfs', empty, '--size', '512K').code).toBe(1);
    expect(statSync(empty).size).toBe(0);
    expect(daxfs('mkfs', empty, '--size', '8M').code).toBe(0);
  });

  it('Pool.format: exclusive refuses what the command refuses; without it, formats as before', () => {
    const pool = makePool({ a: Buffer.from('a') });
    let thrown: { code?: string; message?: string } = {};
    try {
      Pool.format(pool, { exclusive: true });
    } catch (e) {
      thrown = e as typeof thrown;
    }
    expect(thrown).toMatchObject({ code: 'EEXIST', message: `'${pool}' holds a daxfs pool with 1 file: formatting it would destroy that` });
    const again = Pool.format(pool);
    expect(again.list()).toEqual([]);
    again.close();
    const fresh = uniquePath(dir, 'fresh');
    Pool.format(fresh, { size: 8 * MiB, exclusive: true }).close();
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
  });
});

describe('check', () => {
  it('check-exit-codes-distinct: 0 clean, 1 repaired, 4 problems left, 8 could not check, 2 usage', () => {
    const pool = makePool({ data: pattern(50_000, 1) });
    expect(daxfs('check', pool).code).toBe(0);
    // a block the file owns, marked free behind the pool's back
    const p = Pool.open(pool, { readOnly: true });
    const f = p.open('data');
    const block = f.getBlock(0).poolBlock;
    f.close();
    p.close();
    const r = Region.open(pool);
    const g = computeGeometry(r.size);
    expect(r.bitmap(g.bitmapStart * 4096, g.nblocks).clear(block, 1)).toBe(0);
    r.close();
    const found = daxfs('check', pool);
    expect(found.code).toBe(4);
    expect(found.out).toMatch(/^repairable: unmarked-blocks: /);
    // the read-write mount of --repair marks it itself: listed, and counted as repaired
    const repaired = daxfs('check', pool, '--repair');
    expect(repaired).toEqual({
      code: 1,
      out: 'repaired at mount: unmarked-blocks: marked 1 block in use that files own but the bitmap had free\n1 repaired; now clean: 1 files, 4096 blocks checked\n',
      err: '',
    });
    expect(daxfs('check', pool).code).toBe(0);
    expect(JSON.parse(daxfs('check', pool, '--repair', '--json').out)).toMatchObject({ ok: true, problems: [], repairedAtMount: [] });

    // could not check: 8, whatever the reason
    const missing = daxfs('check', uniquePath(dir));
    expect(missing.code).toBe(8);
    expect(missing.err).toMatch(/^daxfs: ENOENT: /);
    const notAPool = uniquePath(dir, 'not-a-pool');
    writeFileSync(notAPool, pattern(MiB));
    expect(daxfs('check', notAPool)).toMatchObject({ code: 8, err: 'daxfs: EUCLEAN: primary superblock: bad magic (not a daxfs pool, or overwritten)\n' });
    const held = Pool.open(pool);
    try {
      expect(daxfs('check', pool, '--repair')).toMatchObject({ code: 8, err: expect.stringMatching(/^daxfs: EBUSY: /) as unknown as string });
    } finally {
      held.close();
    }
    expect(daxfs('check').code).toBe(2);
    expect(daxfs('check', pool, '--size', '1M').code).toBe(2);
    // other commands still fail with 1
    expect(daxfs('info', notAPool).code).toBe(1);
  });
});

describe('names', () => {
  it('names-exact-bytes: an argument that is not UTF-8 is refused, never stored with U+FFFD', () => {
    const pool = makePool();
    const src = uniquePath(dir, 'src');
    writeFileSync(src, 'hello');
    // the kernel's bytes against what Node made of them
    const raw = ['put', pool, src, 'a\xffb'].map((a, i) => (i === 3 ? Buffer.from([0x61, 0xff, 0x62]) : Buffer.from(a)));
    let err = '';
    const code = main(['put', pool, src, 'a\ufffdb'], { stdout: () => {}, stderr: (t) => (err += t) }, raw);
    expect({ code, err }).toEqual({
      code: 1,
      err: 'daxfs: EINVAL: argument 4 is not valid UTF-8 (byte 0xff at offset 1): names and paths must be UTF-8, or they would reach daxfs with U+FFFD in place of that byte and name something else\n',
    });
    // as a program, with real bytes on its command line
    const run = (byte: string, name = `"$(printf '${byte}')"`) =>
      spawnSync('/bin/sh', ['-c', `exec "$0" "$1" put "$2" "$3" ${name}`, process.execPath, bin, pool, src], { encoding: 'utf8' });
    for (const byte of ['\\377', '\\376', 'x\\377y']) {
      const r = run(byte);
      expect(r.status, byte).toBe(1);
      expect(r.stderr).toMatch(/^daxfs: EINVAL: argument 4 is not valid UTF-8 \(byte 0xf[ef] at offset [01]\)/);
    }
    expect(listing(pool)).toEqual([]);
    // U+FFFD itself, as valid UTF-8, is a name like any other
    expect(run('\\357\\277\\275').status).toBe(0);
    expect(listing(pool)).toEqual([{ name: '\ufffd', size: 5 }]);
  });

  it('ls shows one line per file, whatever the names hold', () => {
    const pool = makePool({ 'two\nlines': Buffer.from('a'), 'tab\there': Buffer.from('b'), plain: Buffer.from('c') });
    const lines = daxfs('ls', pool).out.split('\n');
    expect(lines).toHaveLength(4); // three files and the final newline
    expect(lines.map((l) => l.slice(l.lastIndexOf('  ') + 2))).toEqual(['plain', 'tab\\there', 'two\\nlines', '']);
  });
});
