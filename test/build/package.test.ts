// The package as a user gets it: `npm pack` of the working tree, installed
// into an empty project with no compiler on PATH, CC/CXX set to `false`, and
// no registry (offline, with the registry pointed at a closed local port;
// the two runtime dependencies come as tarballs packed from node_modules),
// then used from ESM and from CommonJS and type-checked from both. The
// prebuild is reused when it is newer than native/ (scripts/prebuilds.mjs).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot as root } from '../../lib/native.js';

const TIMEOUT = 600_000;
/** For a test that runs npm or tsc (seconds each, more on a loaded machine). */
const STEP_TIMEOUT = 180_000;
const PREBUILD = `prebuilds/${process.platform}-${process.arch}/daxfs.glibc.node`;

interface RunResult {
  code: number | null;
  output: string;
  stdout: string;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), (output += d.toString())));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, stdout }));
  });
}

async function ok(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  const result = await run(cmd, args, cwd, env);
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${result.code}\n${result.output}`);
  return result;
}

/** npm's own script, run by this Node (npm's bin is `#!/usr/bin/env node`). */
function npmCli(): string {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'npm');
    if (existsSync(candidate)) return realpathSync(candidate);
  }
  throw new Error('npm is not on PATH');
}

let tmp: string;
let nodeBin: string; // `node` (this one) and `sh`, and nothing else
let npm: string;
let tarball: string;
let packed: { path: string }[];
let app: string;
let installOutput: string;

/** An environment with none of the npm or vitest variables of the run that started this test. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['HOME', 'TMPDIR', 'LANG']) if (process.env[key] !== undefined) env[key] = process.env[key];
  return { ...env, PATH: nodeBin, NO_COLOR: '1', ...extra };
}

/** npm with no registry: offline, its cache and config empty, the registry a closed local port. */
function offlineEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return cleanEnv({
    npm_config_offline: 'true',
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_cache: path.join(tmp, 'npm-cache'),
    npm_config_userconfig: path.join(tmp, 'npmrc'),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    ...extra,
  });
}

async function installInto(dir: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const deps = readdirSync(path.join(tmp, 'deps')).map((f) => path.join(tmp, 'deps', f));
  return run(process.execPath, [npm, 'install', '--foreground-scripts', tarball, ...deps], dir, env);
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'daxfs-package-'));
  nodeBin = path.join(tmp, 'bin');
  mkdirSync(nodeBin);
  symlinkSync(process.execPath, path.join(nodeBin, 'node'));
  symlinkSync('/bin/sh', path.join(nodeBin, 'sh'));
  writeFileSync(path.join(tmp, 'npmrc'), '');
  npm = npmCli();
  const devEnv = { ...cleanEnv({}), PATH: `${nodeBin}${path.delimiter}${process.env['PATH'] ?? ''}` };

  // The prebuild, in the repository's prebuilds/ so that later runs reuse it.
  await ok(process.execPath, ['scripts/prebuilds.mjs'], root, devEnv);

  // The working tree as a clone would have it (plus prebuilds/), packed in a
  // scratch copy: prepare compiles into the copy's dist/, not the one other
  // tests are running from.
  const tree = path.join(tmp, 'tree');
  const listed = (await ok('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root, devEnv)).stdout;
  for (const f of listed.split('\0').filter(Boolean)) {
    if (existsSync(path.join(root, f))) cpSync(path.join(root, f), path.join(tree, f), { preserveTimestamps: true });
  }
  cpSync(path.join(root, 'prebuilds'), path.join(tree, 'prebuilds'), { recursive: true, preserveTimestamps: true });
  symlinkSync(path.join(root, 'node_modules'), path.join(tree, 'node_modules'));
  mkdirSync(path.join(tmp, 'out'));
  const pack = await ok(process.execPath, [npm, 'pack', '--json', '--pack-destination', path.join(tmp, 'out')], tree, devEnv);
  const info = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[\n'))) as { filename: string; size: number; entryCount: number; files: { path: string }[] }[])[0]!;
  tarball = path.join(tmp, 'out', info.filename);
  packed = info.files;
  console.log(`package: ${info.filename}, ${info.entryCount} files, ${info.size} bytes`);

  // The runtime dependencies as tarballs of the copies in node_modules.
  mkdirSync(path.join(tmp, 'deps'));
  for (const dep of ['node-addon-api', 'node-gyp-build']) {
    await ok(process.execPath, [npm, 'pack', '--ignore-scripts', '--pack-destination', path.join(tmp, 'deps'), path.join(root, 'node_modules', dep)], tmp, devEnv);
  }

  // No compiler: PATH has node and sh only, and CC/CXX fail.
  app = path.join(tmp, 'app');
  const install = await installInto(app, offlineEnv({ CC: 'false', CXX: 'false' }));
  installOutput = install.output;
  if (install.code !== 0) throw new Error(`npm install exited ${install.code}\n${install.output}`);
  cpSync(path.join(root, 'test/build/consumer'), app, { recursive: true });
}, TIMEOUT);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the ESM and CommonJS builds, the tagged prebuild, the license, and no source maps', () => {
    const files = packed.map((f) => f.path);
    for (const f of ['LICENSE', 'README.md', 'package.json', 'binding.gyp', 'native/addon.cc', PREBUILD])
      expect(files).toContain(f);
    for (const f of ['index.js', 'index.d.ts']) {
      expect(files).toContain(`dist/lib/${f}`);
      expect(files).toContain(`dist/cjs/${f}`);
    }
    expect(files).toContain('dist/cjs/package.json');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => /^(build|test|scripts|dist\/test)\//.test(f) || f === 'CMakeLists.txt')).toEqual([]);
    // one prebuild per platform directory, tagged with its libc
    expect(files.filter((f) => f.startsWith('prebuilds/'))).toEqual([PREBUILD]);
    const installed = path.join(app, 'node_modules/daxfs/dist');
    const js = readdirSync(installed, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    expect(js.filter((f) => readFileSync(path.join(installed, f), 'utf8').includes('sourceMappingURL'))).toEqual([]);
  });

  it('installs with no compiler and no registry: the prebuild is loaded, nothing is built', () => {
    expect(installOutput).toContain('node-gyp-build');
    expect(installOutput).not.toMatch(/gyp info|gyp ERR/);
    expect(existsSync(path.join(app, 'node_modules/daxfs/build'))).toBe(false);
  });

  it('works from import, alongside the CommonJS copy in the same process', async () => {
    const { stdout } = await ok(process.execPath, ['esm.mjs'], app, cleanEnv({}));
    expect(JSON.parse(stdout)).toEqual({
      addonPath: path.join(realpathSync(app), 'node_modules/daxfs', PREBUILD),
      region: 'region bytes',
      written: 17,
      file: 'hello from import',
      sameClasses: false,
      sameAddon: true,
      secondOpen: 'EBUSY',
      errorOfBothCopies: true,
      errorOfBothCopiesEsm: true,
      crossWrite: 4096,
      pageStates: [
        ['none', 'none'],
        ['none', 'zero'],
      ],
      crossZeros: true,
      remounted: 'hello from import',
    });
  }, STEP_TIMEOUT);

  it('works from require', async () => {
    const { stdout } = await ok(process.execPath, ['cjs.cjs'], app, cleanEnv({}));
    expect(JSON.parse(stdout)).toEqual({
      addonPath: path.join(realpathSync(app), 'node_modules/daxfs', PREBUILD),
      region: 'region bytes',
      written: 18,
      file: 'hello from require',
      missing: 'ENOENT',
    });
  }, STEP_TIMEOUT);

  // The slow checks (tsc reads every declaration, @types/node's too) run side by side.
  for (const mode of ['node16', 'nodenext']) {
    it.concurrent(`type-checks from CommonJS and ESM files (module ${mode})`, async ({ expect }) => {
      const config = `tsconfig.${mode}.json`;
      writeFileSync(
        path.join(app, config),
        JSON.stringify({
          compilerOptions: {
            module: mode,
            moduleResolution: mode,
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ['node'],
            typeRoots: [path.join(root, 'node_modules/@types')],
          },
          files: ['types/require.cts', 'types/import.mts'],
        }),
      );
      const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
      const { stdout } = await ok(process.execPath, [tsc, '-p', config, '--explainFiles'], app, cleanEnv({}));
      expect(stdout).toMatch(/node_modules\/daxfs\/dist\/cjs\/index\.d\.ts\n\s+Imported via 'daxfs' from file 'types\/require\.cts'/);
      expect(stdout).toMatch(/node_modules\/daxfs\/dist\/lib\/index\.d\.ts\n\s+Imported via 'daxfs' from file 'types\/import\.mts'/);
    }, STEP_TIMEOUT);
  }

  it.concurrent('on musl the glibc prebuild is passed over and the source build runs in parallel', async ({ expect }) => {
    // A compiler that fails at once: the build starts, with every core, and stops.
    const nodedir = path.resolve(process.execPath, '..', '..');
    expect(existsSync(path.join(nodedir, 'include/node/node_api.h'))).toBe(true);
    const result = await installInto(
      path.join(tmp, 'musl'),
      offlineEnv({ LIBC: 'musl', CC: 'false', CXX: 'false', npm_config_nodedir: nodedir, PATH: `${nodeBin}${path.delimiter}${process.env['PATH'] ?? ''}` }),
    );
    expect(result.code, result.output).not.toBe(0);
    expect(result.output).toContain(`'--jobs', ${os.availableParallelism()} ]`);
    expect(result.output).toMatch(/make: \*\*\* .*native\/\w+\.o\] Error 1/);
  }, STEP_TIMEOUT);
});
