import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { describeFailure, run } from '../lib/cli/daxfs.js';
import { formatSize, parseSize } from '../lib/cli/units.js';
import { Progress } from '../lib/cli/progress.js';
import { packageRoot } from '../lib/native.js';
import { Region } from '../lib/index.js';
import { computeGeometry } from '../lib/pool/layout.js';
import { pattern, tmpfsDir, uniquePath } from './helpers.js';

const dir = tmpfsDir();

function daxfs(...argv: string[]): { code: number; out: string } {
  let out = '';
  try {
    return { code: run(argv, (t) => (out += t)), out };
  } catch (e) {
    const f = describeFailure(e);
    return { code: f.code, out: out + f.message };
  }
}

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
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/ENOENT/);
    expect(daxfs('info', uniquePath(dir)).code).toBe(1);
    // leak a block behind the pool's back: check reports it (4), --repair fixes it (1), then clean (0)
    const r = Region.open(pool);
    const g = computeGeometry(r.size);
    expect(r.bitmap(g.bitmapStart * 4096, g.nblocks).set(g.nblocks - 1, 1)).toBe(0);
    r.close();
    const checked = daxfs('check', pool);
    expect(checked.code).toBe(4);
    expect(checked.out).toMatch(/leaked-blocks/);
    expect(daxfs('check', pool, '--repair').code).toBe(1);
    expect(daxfs('check', pool).code).toBe(0);
  });

  it('is installed as the package bin and runs as a program', () => {
    const bin = (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['daxfs']!;
    const child = spawnSync(process.execPath, [path.join(packageRoot, bin), 'info', uniquePath(dir)], { encoding: 'utf8' });
    expect(child.status).toBe(1);
    expect(child.stderr).toMatch(/^daxfs: ENOENT/);
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
