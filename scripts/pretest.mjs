// Before the tests: make sure the addon the tests load was built from the
// sources as they are now, and compile the TypeScript (which also type-checks
// the whole tree) and the CommonJS build. A clean clone after `npm ci` has
// all of them already.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addon = path.join(root, 'build', 'Release', 'daxfs.node');

function newestNativeSource() {
  const files = readdirSync(path.join(root, 'native')).map((f) => path.join(root, 'native', f));
  files.push(path.join(root, 'binding.gyp'));
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const prebuilt = existsSync(path.join(root, 'prebuilds'));
if (existsSync(addon) ? statSync(addon).mtimeMs < newestNativeSource() : !prebuilt) {
  console.log('pretest: the addon is missing or older than native/: rebuilding with node-gyp');
  run(process.execPath, [path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), 'rebuild', '-j', 'max']);
}
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
run(process.execPath, [tsc, '-p', 'tsconfig.json']);
// the CommonJS build beside it, from what tsc just emitted
run(process.execPath, [path.join(root, 'scripts', 'build-cjs.mjs')]);
// the tests and config too, without emitting
run(process.execPath, [tsc, '-p', 'tsconfig.test.json']);
