import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { COMMANDS } from '../lib/cli/daxfs-usage.js';
import { escapeForTerminal } from '../lib/cli/output.js';
import { formatSize, parseSize } from '../lib/units.js';
import { Progress } from '../lib/cli/progress.js';
import { packageRoot } from '../lib/native.js';
import { Pool, Region } from '../lib/index.js';
import { computeGeometry } from '../lib/pool/layout.js';
import { daxfs } from './cli-helpers.js';
import { pattern, tmpfsDir, uniquePath } from './helpers.js';

const dir = tmpfsDir();

const version = (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

describe('the daxfs command', () => {
  it('mkfs, put, ls, stat, get, info, check, rm: round trip with --json', () => {
    const pool = uniquePath(dir, 'pool');
    const src = uniquePath(dir, 'src');
    const dst = uniquePath(dir, 'dst');
    writeFileSync(src, pattern(3 * 2 ** 20 + 17, 8));
    expect(daxfs('mkfs', pool, '--size', '32M').code).toBe(0);
    expect(daxfs('put', pool, src, 'data.bin').code).toBe(0);
    const ls = JSON.parse(daxfs('ls', pool, '--json').out) as { name: string; size: number }[];
    expect(ls).toMatchObject([{ name: 'data.bin', size: 3 * 2 ** 20 + 17 }]);
    expect(JSON.parse(daxfs('stat', pool, 'data.bin', '--json').out)).toMatchObject({ size: 3 * 2 ** 20 + 17 });
    expect(daxfs('get', pool, 'data.bin', dst).code).toBe(0);
    expect(readFileSync(dst).equals(readFileSync(src))).toBe(true);
    const info = JSON.parse(daxfs('info', pool, '--json').out) as { files: number; size: number };
    expect(info).toMatchObject({ files: 1, size: 32 * 2 ** 20 });
    expect(daxfs('check', pool)).toMatchObject({ code: 0 });
    expect(daxfs('rm', pool, 'data.bin').code).toBe(0);
    expect(daxfs('ls', pool).out).toMatch(/no files/);
  });

  it('exit codes: usage 2, failure 1 with the error code, check 1 when repaired and 4 when problems remain', () => {
    const pool = uniquePath(dir, 'pool');
    expect(daxfs().code).toBe(2);
    expect(daxfs('frobnicate').code).toBe(2);
    expect(daxfs('mkfs').code).toBe(2);
    expect(daxfs('mkfs', pool, '--size', 'lots').code).toBe(2);
    expect(daxfs('--help').code).toBe(0);
    expect(daxfs('mkfs', pool, '--size', '8M').code).toBe(0);
    const missing = daxfs('get', pool, 'nope', '-');
    expect(missing).toEqual({ code: 1, out: '', err: "daxfs: ENOENT: no file named 'nope'\n" });
    expect(daxfs('info', uniquePath(dir)).code).toBe(1);
    // leak a block behind the pool's back: check reports it (4), --repair fixes it (1), then clean (0)
    const r = Region.open(pool);
    const g = computeGeometry(r.size);
    expect(r.bitmap(g.bitmapStart * 4096, g.nblocks).set(g.nblocks - 1, 1)).toBe(0);
    r.close();
    const checked = daxfs('check', pool);
    expect(checked.code).toBe(4);
    expect(checked.out).toMatch(/leaked-blocks/);
    expect(checked.err).toBe('');
    expect(daxfs('check', pool, '--repair').code).toBe(1);
    expect(daxfs('check', pool).code).toBe(0);
  });

  it('salvage: a damaged file and both superblocks damaged: every file copied out, the damaged one as recovered, status 4', () => {
    const pool = uniquePath(dir, 'pool');
    const out = uniquePath(dir, 'salvaged');
    const contents = new Map([
      ['plain', pattern(3 * 4096 + 5, 1)],
      ['victim', pattern(40_000, 2)],
      ['..', pattern(10, 3)],
      ['100%', pattern(4096, 4)],
    ]);
    const p = Pool.format(pool, { size: 8 << 20 });
    for (const [name, bytes] of contents) {
      const f = p.open(name, { create: true });
      f.write(bytes, 0);
      f.close();
    }
    const sparse = p.open('sparse', { create: true });
    sparse.write(Buffer.from('tail'), 5 << 20);
    sparse.close();
    const victim = p.stat('victim').ino;
    const inodeAt = p.superblock().inodeStart * 4096 + victim * 512;
    p.close();
    // healthy: everything whole, status 0
    expect(daxfs('salvage', pool, out).code).toBe(0);
    expect(readFileSync(path.join(out, 'victim')).equals(contents.get('victim')!)).toBe(true);
    // no file in the directory is overwritten
    expect(daxfs('salvage', pool, out)).toMatchObject({ code: 1, err: expect.stringMatching(/^daxfs: EEXIST: /) });
    // a bit of the victim's mtime flips (its checksum fails), and both superblocks go
    const r = Region.open(pool);
    r.write(inodeAt + 17, Buffer.from([r.view(inodeAt + 17, 1)[0]! ^ 0x10]));
    r.zero(0, 256);
    r.zero(4096, 256);
    r.close();
    expect(daxfs('ls', pool)).toMatchObject({ code: 1, err: expect.stringMatching(/EUCLEAN: primary superblock: bad magic/) });
    const again = uniquePath(dir, 'salvaged');
    const result = daxfs('salvage', pool, again, '--json');
    expect(result.code).toBe(4);
    const report = JSON.parse(result.out) as { files: { name: string; file: string; damaged?: string }[]; notes: string[] };
    expect(report.files.map((f) => [f.name, path.basename(f.file), f.damaged !== undefined])).toEqual([
      ['..', '%2E%2E', false],
      ['100%', '100%25', false],
      ['plain', 'plain', false],
      ['sparse', 'sparse', false],
      ['victim', 'victim', true],
    ]);
    expect(report.notes.join('\n')).toMatch(/geometry follows from the backing's size/);
    for (const f of report.files) {
      if (f.name === 'sparse') continue;
      expect(readFileSync(f.file).equals(contents.get(f.name)!), f.name).toBe(true);
    }
    const tail = readFileSync(path.join(again, 'sparse'));
    expect(tail.length).toBe((5 << 20) + 4);
    expect(tail.subarray(5 << 20).toString()).toBe('tail');
    expect(statSync(path.join(again, 'sparse')).blocks * 512).toBeLessThan(1 << 20); // holes stay holes
    const human = daxfs('salvage', pool, uniquePath(dir, 'salvaged'));
    expect(human.out).toMatch(/salvaged victim: .* \(DAMAGED: checksum mismatch; what could not be recovered reads as zeros\)/);
    expect(human.out).toMatch(/5 file\(s\) salvaged to .*, 1 of them damaged/);
  });

  it('a damaged file: ls marks it, get refuses it naming it, check --repair sets it aside', () => {
    const pool = uniquePath(dir, 'pool');
    const p = Pool.format(pool, { size: 8 << 20 });
    for (const name of ['a', 'b']) {
      const f = p.open(name, { create: true });
      f.write(pattern(5000, name.charCodeAt(0)), 0);
      f.close();
    }
    const inodeAt = p.superblock().inodeStart * 4096 + p.stat('a').ino * 512;
    p.close();
    const r = Region.open(pool);
    r.write(inodeAt + 17, Buffer.from([r.view(inodeAt + 17, 1)[0]! ^ 0x10]));
    r.close();
    expect(daxfs('ls', pool).out).toMatch(/  a  \(DAMAGED: checksum mismatch\)\n.*  b\n/);
    expect(daxfs('get', pool, 'a', '-')).toMatchObject({ code: 1, err: expect.stringMatching(/^daxfs: EUCLEAN: file 'a' \(inode 0\) is damaged: checksum mismatch/) });
    expect(daxfs('get', pool, 'b', uniquePath(dir, 'b')).code).toBe(0);
    expect(daxfs('check', pool)).toMatchObject({ code: 4, out: expect.stringMatching(/repairable: damaged: file 'a' \(inode 0\) is damaged/) });
    expect(daxfs('check', pool, '--repair').code).toBe(1);
    expect(daxfs('ls', pool).out).toMatch(/  b\n.*  lost\+found\.0\n?$/);
    expect(daxfs('check', pool).code).toBe(0);
  });

  it('is installed as the package bin and runs as a program', () => {
    const bin = (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['daxfs']!;
    const child = spawnSync(process.execPath, [path.join(packageRoot, bin), 'info', uniquePath(dir)], { encoding: 'utf8' });
    expect(child.status).toBe(1);
    expect(child.stderr).toMatch(/^daxfs: ENOENT: No such file or directory, stat '.*' \(opening the region\)\n$/);
    expect(child.stdout).toBe('');
    const help = spawnSync(process.execPath, [path.join(packageRoot, bin), '-h'], { encoding: 'utf8' });
    expect(help).toMatchObject({ status: 0, stderr: '' });
    expect(help.stdout).toMatch(/^usage: daxfs <command> \[options\]\n/);
  });

  it('sizes in and out, and the progress bar only after a second on a terminal', () => {
    expect(parseSize('1G')).toBe(2 ** 30);
    expect(parseSize('1.5k')).toBe(1536);
    expect(formatSize(1536)).toBe('1.50 KiB');
    expect(formatSize(10)).toBe('10 B');
    expect(formatSize(3 * 2 ** 40)).toBe('3.00 TiB');
    let written = '';
    const fake = { isTTY: true, write: (t: string) => ((written += t), true) } as unknown as NodeJS.WriteStream;
    const quick = new Progress('x', fake);
    quick.update(1, 2);
    quick.done();
    expect(written).toBe('');
    const slow = new Progress('x', fake);
    (slow as unknown as { started: number }).started -= 2000;
    slow.update(1, 2);
    expect(written).toMatch(/x \[#+ +\]/);
    slow.done();
    expect(written.endsWith('\r\x1b[K')).toBe(true);
  });
});

describe('the daxfs command as a Unix tool', () => {
  it('help: -h, --help and help, for the command and for each subcommand, on stdout with status 0', () => {
    for (const argv of [['-h'], ['--help'], ['help']]) {
      const r = daxfs(...argv);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.err).toBe('');
      expect(r.out).toMatch(/^usage: daxfs <command> \[options\]\n/);
      for (const name of Object.keys(COMMANDS)) expect(r.out).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
    for (const name of Object.keys(COMMANDS)) {
      const viaHelp = daxfs('help', name);
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.out).toMatch(new RegExp(`^usage: daxfs ${name} `));
      // after the command, even with its arguments missing or present
      expect(daxfs(name, '-h')).toEqual(viaHelp);
      expect(daxfs(name, '--help', 'some-pool')).toEqual(viaHelp);
    }
    expect(daxfs('help', 'mkfs').out).toMatch(/--size SIZE/);
    expect(daxfs('help', 'check').out).toMatch(/--repair/);
    expect(daxfs('help', 'ls').out).not.toMatch(/--repair/);
  });

  it('--version prints the version of package.json', () => {
    expect(daxfs('--version')).toEqual({ code: 0, out: `daxfs ${version}\n`, err: '' });
    expect(JSON.parse(daxfs('--version', '--json').out)).toEqual({ version });
  });

  it('usage errors: stderr only, status 2, code EUSAGE once, the usage of the command concerned', () => {
    const pool = uniquePath(dir, 'pool');
    const cases: [string[], string, string][] = [
      [[], 'no command given', 'usage: daxfs <command> [options]'],
      [['frobnicate'], "unknown command 'frobnicate'", 'usage: daxfs <command> [options]'],
      [['help', 'frobnicate'], "unknown command 'frobnicate'", 'usage: daxfs <command> [options]'],
      [['help', 'ls', 'extra'], "unexpected argument 'extra'", 'usage: daxfs help [command]'],
      [['--version', 'ls'], '--version takes no command', 'usage: daxfs --version'],
      [['mkfs'], 'mkfs needs <path>', 'usage: daxfs mkfs <path> [--size SIZE] [--zero] [--sparse] [--force] [--mode MODE] [--json]'],
      [['stat', pool], 'stat needs <pool> <name>', 'usage: daxfs stat <pool> <name> [--json]'],
      [['mkfs', pool, '--size', '-5M'], "--size: not a size: '-5M' (examples: 4096, 256M, 1GiB)", 'usage: daxfs mkfs <path> [--size SIZE] [--zero] [--sparse] [--force] [--mode MODE] [--json]'],
      [['mkfs', pool, '--size=-5M'], "--size: not a size: '-5M' (examples: 4096, 256M, 1GiB)", 'usage: daxfs mkfs <path> [--size SIZE] [--zero] [--sparse] [--force] [--mode MODE] [--json]'],
      [['mkfs', pool, '--size', 'lots'], "--size: not a size: 'lots' (examples: 4096, 256M, 1GiB)", 'usage: daxfs mkfs <path> [--size SIZE] [--zero] [--sparse] [--force] [--mode MODE] [--json]'],
      [['ls', pool, '--repair'], 'ls takes no --repair option', 'usage: daxfs ls <pool> [--json]'],
      [['info', pool, '--size', '1G'], 'info takes no --size option', 'usage: daxfs info <pool> [--json]'],
    ];
    for (const [argv, message, usage] of cases) {
      const help = argv[0] && argv[0] in COMMANDS ? `daxfs help ${argv[0]}` : 'daxfs help';
      expect(daxfs(...argv), argv.join(' ')).toEqual({ code: 2, out: '', err: `daxfs: EUSAGE: ${message}\n${usage}\n(run '${help}' for more)\n` });
    }
    const unknown = daxfs('ls', pool, '--frob');
    expect(unknown).toMatchObject({ code: 2, out: '' });
    expect(unknown.err).toMatch(/^daxfs: EUSAGE: Unknown option '--frob'\. .*\nusage: daxfs ls <pool> \[--json\]\n/);
    expect(existsSync(pool)).toBe(false);
  });

  it('extra arguments are refused by every command', () => {
    const extra: Record<string, string[]> = {
      mkfs: ['p', 'x'],
      info: ['p', 'x'],
      check: ['p', 'x'],
      ls: ['p', 'x'],
      stat: ['p', 'n', 'x'],
      put: ['p', 'f', 'n', 'x'],
      get: ['p', 'n', 'f', 'x'],
      rm: ['p', 'n', 'x'],
      salvage: ['p', 'd', 'x'],
    };
    expect(Object.keys(extra).sort()).toEqual(Object.keys(COMMANDS).sort());
    for (const [name, args] of Object.entries(extra)) {
      const r = daxfs(name, ...args);
      expect(r.code, name).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.split('\n')[0]).toBe("daxfs: EUSAGE: unexpected argument 'x'");
    }
  });

  it('a file that is not a pool is a failure (1), not a usage error, whatever its size', () => {
    const odd = uniquePath(dir, 'not-a-pool');
    writeFileSync(odd, pattern(5000));
    expect(daxfs('info', odd)).toEqual({ code: 1, out: '', err: `daxfs: EINVAL: cannot open region '${odd}': its size 5000 is not a multiple of the block size 4096\n` });
    const even = uniquePath(dir, 'not-a-pool');
    writeFileSync(even, pattern(8192));
    expect(daxfs('info', even)).toEqual({ code: 1, out: '', err: 'daxfs: EUCLEAN: primary superblock: bad magic (not a daxfs pool, or overwritten)\n' });
    // a size the pool refuses is the pool's verdict, not a malformed command line
    expect(daxfs('mkfs', uniquePath(dir), '--size', '5000')).toMatchObject({ code: 1, err: 'daxfs: EINVAL: size must be a positive multiple of 4096 bytes, got 5000\n' });
  });

  it('--json: results on stdout, errors as one JSON object on stderr', () => {
    const missing = uniquePath(dir);
    const failed = daxfs('info', missing, '--json');
    expect(failed).toMatchObject({ code: 1, out: '' });
    expect(JSON.parse(failed.err)).toEqual({
      error: { code: 'ENOENT', message: `No such file or directory, stat '${missing}' (opening the region)`, errno: -2, syscall: 'stat', path: missing },
    });
    const usage = daxfs('--json', 'ls');
    expect(usage).toMatchObject({ code: 2, out: '' });
    expect(JSON.parse(usage.err)).toEqual({ error: { code: 'EUSAGE', message: 'ls needs <pool>', usage: 'usage: daxfs ls <pool> [--json]', help: 'daxfs help ls' } });
    // even when the rest of the line does not parse
    expect(JSON.parse(daxfs('--json', '--frob').err)).toMatchObject({ error: { code: 'EUSAGE' } });
    const pool = uniquePath(dir, 'pool');
    expect(daxfs('mkfs', pool, '--size', '8M', '--json')).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(daxfs('get', pool, 'nope', '-', '--json').err)).toEqual({ error: { code: 'ENOENT', message: "no file named 'nope'" } });
  });

  it('every message names its code once: daxfs errors and node:fs errors alike', () => {
    const pool = uniquePath(dir, 'pool');
    expect(daxfs('mkfs', pool, '--size', '8M').code).toBe(0);
    const source = uniquePath(dir, 'absent-source');
    const fsError = daxfs('put', pool, source);
    expect(fsError).toEqual({ code: 1, out: '', err: `daxfs: ENOENT: no such file or directory, open '${source}'\n` });
    expect(JSON.parse(daxfs('put', pool, source, '--json').err)).toEqual({
      error: { code: 'ENOENT', message: `no such file or directory, open '${source}'`, errno: -2, syscall: 'open', path: source },
    });
    const nativeError = daxfs('info', uniquePath(dir));
    expect(nativeError.err.match(/ENOENT/g)).toHaveLength(1);
  });

  it('names with control characters are escaped in human output and kept as they are in JSON', () => {
    const pool = uniquePath(dir, 'pool');
    const src = uniquePath(dir, 'src');
    writeFileSync(src, 'hello');
    const name = 'evil\nname\x1b[31m\t\x7f\u202e\\';
    const shown = 'evil\\nname\\x1b[31m\\t\\x7f\\u202e\\\\';
    expect(daxfs('mkfs', pool, '--size', '8M').code).toBe(0);
    expect(daxfs('put', pool, src, name)).toEqual({ code: 0, out: `put ${shown}: 5 B\n`, err: '' });
    expect(daxfs('ls', pool).out).toMatch(new RegExp(`  ${shown.replace(/[\\[]/g, '\\$&')}\n$`));
    expect(daxfs('stat', pool, name).out).toMatch(new RegExp(`^name      ${shown.replace(/[\\[]/g, '\\$&')}\n`));
    expect(JSON.parse(daxfs('ls', pool, '--json').out)).toMatchObject([{ name }]);
    expect(daxfs('get', pool, `${name}x`, '-').err).toBe(`daxfs: ENOENT: no file named '${shown}x'\n`);
    expect(JSON.parse(daxfs('get', pool, `${name}x`, '-', '--json').err)).toEqual({ error: { code: 'ENOENT', message: `no file named '${name}x'` } });
    expect(daxfs('rm', pool, name)).toEqual({ code: 0, out: `removed ${shown}\n`, err: '' });
    expect(daxfs('frob\x1b]0;title\x07').err.split('\n')[0]).toBe("daxfs: EUSAGE: unknown command 'frob\\x1b]0;title\\x07'");
    expect(escapeForTerminal('plain name.txt é')).toBe('plain name.txt é');
    expect(escapeForTerminal('\r\x00\x9b\u2028\u2066')).toBe('\\r\\x00\\x9b\\u2028\\u2066');
  });
});
