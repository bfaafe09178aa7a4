// The three ways the addon is built must each produce a binary that loads and
// passes the native tests: node-gyp (what `npm install` runs, and what every
// other test file uses), cmake-js (plain and with ASan + UBSan), and
// prebuildify (whose output node-gyp-build must pick when there is no build).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
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
  }, BUILD_TIMEOUT);

  it('npm run prebuild makes a stripped N-API prebuild, and the loader picks it when there is no build', async () => {
    // In a scratch copy of the package, so the build/ the other tests load is untouched.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'daxfs-prebuild-'));
    try {
      for (const f of ['package.json', 'binding.gyp', 'native']) cpSync(path.join(root, f), path.join(dir, f), { recursive: true });
      symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
      await run('npm', ['run', 'prebuild'], { cwd: dir });
      const prebuild = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'daxfs.node');
      expect(existsSync(prebuild)).toBe(true);
      const described = (await run('file', [prebuild])).stdout;
      expect(described).toMatch(/stripped/);
      expect(described).not.toMatch(/not stripped/);
      expect(existsSync(path.join(dir, 'build', 'Release', 'daxfs.node'))).toBe(false);

      const require = createRequire(import.meta.url);
      const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
      expect(gypBuild.resolve(dir)).toBe(prebuild);
      const addon = require(prebuild) as { Region: unknown; pageSize: number };
      expect(typeof addon.Region).toBe('function');
      expect(addon.pageSize).toBe(4096);
      // and the package's loader, pointed at it, runs the native tests
      const { passed, output } = await runNativeTests(prebuild);
      expect(passed, output).toBeGreaterThan(100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, BUILD_TIMEOUT);
});
