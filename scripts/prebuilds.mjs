// Before packing (npm pack / npm publish run it as `prepack`): makes sure
// prebuilds/<platform>-<arch>/ holds this machine's prebuild, tagged with its
// libc and at least as new as native/ and binding.gyp, so that the tarball
// installs without a compiler here. A missing or stale one is made with
// `npm run prebuild` in a scratch copy of the package: prebuildify builds in
// build/ and moves the binary away, which must not happen to the build/ the
// tests load. Prebuilds for other platforms are made on those platforms and
// copied into prebuilds/ before publishing; this script leaves them alone.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tuple = `${process.platform}-${process.arch}`;
// prebuildify's and node-gyp-build's own test for musl
const libc = process.env.LIBC || (existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
const name = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).name;
const dir = path.join(root, 'prebuilds', tuple);
const target = path.join(dir, `${name}.${libc}.node`);

function newestSource() {
  const files = readdirSync(path.join(root, 'native')).map((f) => path.join(root, 'native', f));
  files.push(path.join(root, 'binding.gyp'));
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

function npm(args, cwd) {
  // npm_execpath is npm's own script when npm runs this one
  const cli = process.env.npm_execpath;
  const [cmd, argv] = cli && cli.endsWith('.js') ? [process.execPath, [cli, ...args]] : ['npm', args];
  // its output on stderr: stdout may be read (npm pack --json)
  const result = spawnSync(cmd, argv, { cwd, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${result.status ?? result.signal})`);
}

// An untagged prebuild would be picked on every libc, also where it cannot load.
const untagged = path.join(dir, `${name}.node`);
if (existsSync(untagged)) {
  console.error(`prebuilds: removing ${path.relative(root, untagged)} (no libc tag)`);
  rmSync(untagged);
}

if (existsSync(target) && statSync(target).mtimeMs >= newestSource()) {
  console.error(`prebuilds: ${path.relative(root, target)} is up to date`);
} else {
  console.error(`prebuilds: building ${path.relative(root, target)}`);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'daxfs-prebuild-'));
  try {
    for (const f of ['package.json', 'binding.gyp', 'native']) cpSync(path.join(root, f), path.join(scratch, f), { recursive: true });
    symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
    npm(['run', 'prebuild'], scratch);
    const built = path.join(scratch, 'prebuilds', tuple, path.basename(target));
    if (!existsSync(built)) throw new Error(`prebuilds: npm run prebuild made no ${path.relative(scratch, built)}`);
    mkdirSync(dir, { recursive: true });
    // copied next to the target, then renamed over it: never half a binary
    const partial = `${target}.${process.pid}.partial`;
    cpSync(built, partial);
    renameSync(partial, target);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// The binary must load here, as node-gyp-build's install check will load it.
const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(target)})`], { stdio: ['ignore', 2, 2] });
if (check.status !== 0) {
  console.error(`prebuilds: ${path.relative(root, target)} does not load`);
  process.exit(1);
}
