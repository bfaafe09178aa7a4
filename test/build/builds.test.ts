// The three ways the addon is built must each produce a binary that loads and
// passes the native tests: node-gyp (what `npm install` runs, and what every
// other test file uses), cmake-js (plain and with ASan + UBSan), and
// prebuildify (whose output node-gyp-build must pick when there is no build,
// on glibc only).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/native.js';

const root = packageRoot;
const BUILD_TIMEOUT = 600_000;

function newestSource(): number {
  const files = readdirSync(path.join(root, 'native')).map((f) => path.join(root, 'native', f));
  files.push(path.join(root, 'CMakeLists.txt'), path.join(root, 'binding.gyp'));
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the test runner talks to its workers meanwhile). */
function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd ?? root, env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code} ${signal ?? ''}\n${stdout}\n${stderr}`));
    });
  });
}

/** Builds with `npm run <script>` unless the binary is newer than every source. */
async function ensureBuilt(script: string, binary: string): Promise<string> {
  const file = path.join(root, binary);
  if (!existsSync(file) || statSync(file).mtimeMs < newestSource()) await run('npm', ['run', script]);
  expect(existsSync(file)).toBe(true);
  return file;
}

/** Runs the native test files against `addon`; returns the number of tests that passed. */
async function runNativeTests(addon: string, extraEnv: NodeJS.ProcessEnv = {}, files = ['test/native']): Promise<{ passed: number; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, DAXFS_ADDON: addon, NO_COLOR: '1' };
  delete env['FORCE_COLOR'];
  delete env['VITEST'];
  delete env['VITEST_POOL_ID'];
  delete env['VITEST_WORKER_ID'];
  const result = await run(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...files], { env });
  const output = result.stdout + result.stderr;
  const match = /Tests\s+(\d+) passed/.exec(output);
  return { passed: match ? Number(match[1]) : 0, output };
}

/** The newest `<prefix>_x.y.z` symbol version in `objdump -T` output. */
function newestVersion(symbols: string, prefix: string): string {
  const versions = [...symbols.matchAll(new RegExp(`\\(${prefix}_([0-9.]+)\\)`, 'g'))].map((m) => m[1]!.split('.').map(Number));
  versions.sort((a, b) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
    return 0;
  });
  return versions.at(-1)!.join('.');
}

describe('builds', () => {
  it('the cmake-js build loads and passes the native tests', async () => {
    const addon = await ensureBuilt('build:cmake', 'build-cmake/Release/daxfs.node');
    const { passed, output } = await runNativeTests(addon);
    expect(passed, output).toBeGreaterThan(100);
    expect(output).toContain(`addon in use: ${addon}`);
  }, BUILD_TIMEOUT);

  it('the AddressSanitizer + UndefinedBehaviorSanitizer build passes the native-heavy tests cleanly', async () => {
    const addon = await ensureBuilt('build:asan', 'build-asan/Release/daxfs.node');
    const libasan = (await run('gcc', ['-print-file-name=libasan.so'])).stdout.trim();
    // Region, allocator and MMU primitives; the pool's tests (asynchronous
    // copies, view windows, range buffers); mappings and faults (pins, zero
    // pages, private copies); the crash simulator (the trace recorder) and
    // the corrupted images, at reduced counts; bad input everywhere.
    const { passed, output } = await runNativeTests(
      addon,
      {
        LD_PRELOAD: libasan,
        ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
        UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
        DAXFS_SIM_WORKLOADS: '2',
        DAXFS_CORRUPT_IMAGES: '2000',
      },
      [
        'test/native',
        'test/pool/files',
        'test/pool/async',
        'test/pool/journal',
        'test/pool/format',
        'test/pool/extents',
        'test/map',
        'test/reliability/crash-sim',
        'test/reliability/corruption',
        'test/reliability/regressions',
        'test/reliability/bad-input',
      ],
    );
    expect(passed, output).toBeGreaterThan(240);
    expect(output).toContain(`addon in use: ${addon}`);
    expect(output).not.toMatch(/AddressSanitizer|runtime error:/);
    // A build (~2 min) and ~35 test files under the sanitizers (~5–6 min alone on 2 cores).
  }, 1.5 * BUILD_TIMEOUT);

  it('npm run prebuild makes a stripped N-API prebuild tagged glibc, which the loader picks on glibc only', async () => {
    // scripts/prebuilds.mjs (the prepack step) runs `npm run prebuild` in a
    // scratch copy when prebuilds/ has none newer than native/, so that the
    // build/ the other tests load is untouched; a fresh one is reused.
    await run(process.execPath, ['scripts/prebuilds.mjs']);
    const prebuild = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'daxfs.glibc.node');
    expect(readdirSync(path.dirname(prebuild))).toEqual(['daxfs.glibc.node']);
    const described = (await run('file', [prebuild])).stdout;
    expect(described).toMatch(/stripped/);
    expect(described).not.toMatch(/not stripped/);
    // N-API only: it registers as a Node-API module and links no V8 or node:: symbol
    const symbols = (await run('objdump', ['-T', prebuild])).stdout;
    expect(symbols).toMatch(/ napi_register_module_v1$/m);
    expect(symbols).not.toMatch(/_ZN2v8|_ZN4node/);
    // the newest symbol versions it needs, as the README states them
    expect(newestVersion(symbols, 'GLIBC')).toBe('2.33');
    expect(newestVersion(symbols, 'GLIBCXX')).toBe('3.4.30');

    // A package directory with the prebuild and no build: node-gyp-build
    // (its libc read from LIBC at load) picks it on glibc, nothing on musl.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'daxfs-prebuild-'));
    try {
      cpSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
      cpSync(path.join(root, 'prebuilds'), path.join(dir, 'prebuilds'), { recursive: true });
      const pick = (libc: string) =>
        run(process.execPath, ['-e', `console.log(require('node-gyp-build').resolve(${JSON.stringify(dir)}))`], {
          env: { ...process.env, LIBC: libc },
        });
      expect((await pick('glibc')).stdout.trim()).toBe(path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'daxfs.glibc.node'));
      await expect(pick('musl')).rejects.toThrow(/No native build was found for .*libc=musl/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const require = createRequire(import.meta.url);
    const addon = require(prebuild) as { Region: unknown; pageSize: number };
    expect(typeof addon.Region).toBe('function');
    expect(addon.pageSize).toBe(4096);
    // and the package's loader, pointed at it, runs the native tests
    const { passed, output } = await runNativeTests(prebuild);
    expect(passed, output).toBeGreaterThan(100);
  }, BUILD_TIMEOUT);});
