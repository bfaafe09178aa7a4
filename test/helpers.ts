import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect } from 'vitest';

import { packageRoot } from '../lib/native.js';

/** A directory on tmpfs (emulated pmem, volatile mode) removed after the file's tests. */
export function tmpfsDir(): string {
  return scratch('/dev/shm');
}

/** A directory on the disk (page-cache backed file, msync mode). */
export function diskDir(): string {
  return scratch(os.tmpdir());
}

function scratch(parent: string): string {
  const dir = mkdtempSync(path.join(parent, 'daxfs-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A tmpfs of `bytes` bytes (or a ramfs) mounted for this test file (unmounted after it),
 * for what happens when the backing's file system fills up; `skip` says why
 * there is none where mounting is not permitted.
 */
export function smallFileSystem(bytes: number, type: 'tmpfs' | 'ramfs' = 'tmpfs'): { dir: string; skip?: undefined } | { dir?: undefined; skip: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'daxfs-smallfs-'));
  try {
    // ramfs has no size limit (and cannot reserve space ahead of use)
    execFileSync('mount', ['-t', type, '-o', type === 'tmpfs' ? `size=${bytes},mode=0700` : 'mode=0700', 'daxfs-test', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const why = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
    return { skip: `cannot mount a ${type} here (${why}): its cases are not run` };
  }
  afterAll(() => {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return { dir };
}

let counter = 0;
export function uniquePath(dir: string, name = 'region'): string {
  counter += 1;
  return path.join(dir, `${name}-${process.pid}-${counter}`);
}

/** Asserts that `fn` throws an Error whose code is `code` (and whose message matches `message`). */
export function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${code}`).toBeInstanceOf(Error);
  expect((thrown as { code?: string }).code).toBe(code);
  if (message) expect((thrown as Error).message).toMatch(message);
}

export function pattern(length: number, seed = 1): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Every kind of bad number, for the bad-input tables. */
export const BAD_NUMBERS: [string, unknown][] = [
  ['negative', -1],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['fractional', 1.5],
  ['beyond 2^53', 2 ** 53],
  ['a string', '8'],
  ['null', null],
  ['undefined', undefined],
  ['an object', {}],
  ['a bigint', 8n],
];

/** The unprivileged user tests drop to (uid and gid). */
export const NOBODY = 65534;

/** Whether a user who owns nothing here may run `file`: every directory above it searchable by others, the file executable or readable by them (`bit`). */
function othersReach(file: string, bit: number): boolean {
  const parts = path.resolve(file).split(path.sep);
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join(path.sep) || path.sep;
    if ((statSync(dir).mode & 0o001) === 0) return false;
  }
  return (statSync(file).mode & bit) !== 0;
}

/**
 * Whether a child may drop to `nobody` and still run this Node and load
 * this checkout's build: only as root, and only where both are reachable by
 * others (a Node under /root, mode 700, is not).
 */
export function nobodyCanRunThis(): boolean {
  return process.getuid?.() === 0 && othersReach(process.execPath, 0o001) && othersReach(path.join(packageRoot, 'dist/lib/native.js'), 0o004);
}

/**
 * Runs this Node on `args` and kills it with SIGKILL `killAfterMs` after it
 * prints READY on a line; resolves with what it printed before. Rejects if
 * it ends any other way (its stderr in the error).
 */
export function runUntilKilled(args: string[], killAfterMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (timer === undefined && out.includes('READY\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child ended with ${code} ${signal}: ${err}`));
      else resolve(out);
    });
  });
}
