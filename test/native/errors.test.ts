import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getSystemErrorName } from 'node:util';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import { DAXFS_CODES, DaxfsError, isDaxfsError, Pool, Region } from '../../lib/index.js';
import { addon, packageRoot } from '../../lib/native.js';
import { diskDir, tmpfsDir, uniquePath } from '../helpers.js';

const dir = tmpfsDir();
const disk = diskDir();

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('nothing was thrown');
}

/** Every source file under `sub` (recursively) with one of the extensions. */
function sources(sub: string, extensions: string[]): { file: string; text: string }[] {
  const root = path.join(packageRoot, sub);
  return (readdirSync(root, { recursive: true }) as string[])
    .filter((f) => extensions.some((x) => f.endsWith(x)))
    .map((f) => ({ file: path.join(sub, f), text: readFileSync(path.join(root, f), 'utf8') }));
}

/** The codes thrown by name in lib/ and native/, with where. */
function thrownCodes(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (code: string, where: string) => found.set(code, [...(found.get(code) ?? []), where]);
  for (const { file, text } of sources('lib', ['.ts']))
    for (const m of text.matchAll(/(?:daxfsError|new DaxfsError|super)\(\s*'([A-Z][A-Z0-9_]*)'/g)) add(m[1]!, file);
  for (const { file, text } of sources('native', ['.cc', '.h']))
    for (const m of text.matchAll(/\b(?:ThrowCode|Fail)\([^,;]+,\s*"([A-Z][A-Z0-9_]*)"/g)) add(m[1]!, file);
  return found;
}

describe('DaxfsError', () => {
  it('is the class of errors thrown by TypeScript and by the addon, with the system-call fields where set', () => {
    const p = uniquePath(dir);
    const pool = Pool.format(p, { size: 8 << 20 });
    pool.close();
    const fromTs = thrown(() => pool.list());
    expect(fromTs).toBeInstanceOf(DaxfsError);
    expect(fromTs).toMatchObject({ name: 'DaxfsError', code: 'EBADF', message: 'the pool is closed' });
    expect(Object.keys(fromTs as object)).not.toContain('errno');

    const region = Region.open(p);
    const fromNative = thrown(() => region.read(region.size, Buffer.alloc(1)));
    expect(fromNative).toBeInstanceOf(DaxfsError);
    expect(fromNative).toBeInstanceOf(Error);
    expect((fromNative as DaxfsError).code).toBe('ERANGE');
    region.close();

    const missing = uniquePath(dir);
    const system = thrown(() => Region.open(missing));
    expect(system).toBeInstanceOf(DaxfsError);
    expect(system).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'stat', path: missing });
    expect((system as Error).message).toBe(`No such file or directory, stat '${missing}' (opening the region)`);
  });

  it('is the class in a worker thread too (the addon keeps one class per thread)', async () => {
    const index = path.join(packageRoot, 'dist/lib/index.js');
    const worker = new Worker(
      `import('${index}').then(({ Region, DaxfsError }) => {
         try { Region.open('/nonexistent/daxfs'); } catch (e) {
           require('node:worker_threads').parentPort.postMessage([e instanceof DaxfsError, e.code]);
         }
       });`,
      { eval: true },
    );
    const [message] = await Promise.all([new Promise((resolve) => worker.once('message', resolve)), new Promise((resolve) => worker.once('exit', resolve))]);
    expect(message).toEqual([true, 'ENOENT']);
  });

  it('instanceof tests a brand every copy of the module shares; a subclass keeps its own test', () => {
    // what a second copy of the module (the CommonJS build beside the ESM one) makes
    const foreign = Object.defineProperty(new Error('from another copy'), Symbol.for('daxfs.DaxfsError'), { value: true });
    expect(foreign instanceof DaxfsError).toBe(true);
    expect(isDaxfsError(foreign)).toBe(true);
    class Narrower extends DaxfsError {}
    expect(new Narrower('EINVAL', 'x') instanceof Narrower).toBe(true);
    expect(new DaxfsError('EINVAL', 'x') instanceof Narrower).toBe(false);
    expect(foreign instanceof Narrower).toBe(false);
  });

  it('isDaxfsError is true for daxfs errors only', () => {
    expect(isDaxfsError(new DaxfsError('EINVAL', 'x'))).toBe(true);
    expect(isDaxfsError(thrown(() => Region.open(uniquePath(dir))))).toBe(true);
    expect(isDaxfsError(thrown(() => readFileSync(uniquePath(dir))))).toBe(false); // node:fs, code ENOENT
    expect(isDaxfsError(Object.assign(new Error('x'), { code: 'EINVAL' }))).toBe(false);
    expect(isDaxfsError({ code: 'EINVAL', message: 'x' })).toBe(false);
  });

  it('names a system error outside the old hand-written list from the system: ETXTBSY from a real open(2)', async () => {
    // opening a running program for writing: the kernel refuses with ETXTBSY
    const program = uniquePath(disk, 'program');
    copyFileSync('/bin/sleep', program);
    const child = spawn(program, ['30'], { stdio: 'ignore' });
    await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
    try {
      const e = thrown(() => Region.open(program));
      expect(e).toBeInstanceOf(DaxfsError);
      expect(e).toMatchObject({ code: 'ETXTBSY', errno: -os.constants.errno.ETXTBSY, syscall: 'open', path: program });
    } finally {
      child.kill();
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  it('errno names: the ones Node prints, the C library naming the rest, never EUNKNOWN', () => {
    for (let errno = 1; errno <= 133; errno++) {
      const name = addon.errnoName(errno);
      expect(name, `errno ${errno}`).toMatch(/^E[A-Z0-9]+$/);
      expect(name).not.toBe('EUNKNOWN');
      const printed = getSystemErrorName(-errno);
      if (!printed.startsWith('Unknown')) expect(name, `errno ${errno}`).toBe(printed);
    }
    // outside libuv's table, named all the same
    for (const name of ['EDQUOT', 'ESTALE', 'EDEADLK', 'ENOLCK', 'EBADMSG']) expect(addon.errnoName(os.constants.errno[name as keyof typeof os.constants.errno])).toBe(name);
    expect(addon.errnoName(95)).toBe('ENOTSUP');
    expect(addon.errnoName(133)).toBe('EHWPOISON');
    expect(addon.errnoName(4000)).toBe('E4000');
    expect(thrown(() => addon.errnoName(0))).toMatchObject({ code: 'ERANGE' });
  });

  it('every code thrown in lib/ and native/ is in DAXFS_CODES and in docs/errors.md, and nothing else is', () => {
    const found = thrownCodes();
    // the scan itself works: it sees both languages
    expect(found.get('EUCLEAN')!.some((f) => f.startsWith('lib'))).toBe(true);
    expect(found.get('ENODEV')).toEqual([path.join('native', 'region_open.cc')]);
    expect(found.get('EUSAGE')).toEqual([path.join('lib', 'cli', 'daxfs-usage.ts')]);
    expect([...found.keys()].sort()).toEqual([...DAXFS_CODES].sort());

    const docs = readFileSync(path.join(packageRoot, 'docs/errors.md'), 'utf8');
    const table = [...docs.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]);
    expect(table).toEqual([...DAXFS_CODES]);
    const readme = readFileSync(path.join(packageRoot, 'README.md'), 'utf8');
    expect(readme).toContain('(docs/errors.md)');
  });

  it('errors are made only through the class: no other code-carrying Error in the sources', () => {
    for (const { file, text } of sources('lib', ['.ts'])) if (file !== path.join('lib', 'errors.ts')) expect(text, file).not.toMatch(/Object\.assign\(new Error|\.code\s*=(?!=)/);
    for (const { file, text } of sources('native', ['.cc', '.h'])) if (!file.endsWith('errors.cc')) expect(text, file).not.toMatch(/Set\("code"|Napi::(?:Error|TypeError|RangeError)::New/);
  });
});
