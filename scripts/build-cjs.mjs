// The CommonJS build, for `require('daxfs')` on Node versions without
// require(esm): lib/index.ts bundled by esbuild into dist/cjs/index.js, next
// to a copy of the declarations tsc emitted into dist/lib (run tsc first).
// dist/cjs/package.json says "commonjs", so Node loads index.js as CommonJS
// and TypeScript reads the declarations beside it as CommonJS ones.
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const esmDir = path.join(root, 'dist', 'lib');
const outDir = path.join(root, 'dist', 'cjs');
if (!existsSync(path.join(esmDir, 'index.d.ts'))) {
  console.error('build-cjs: dist/lib/index.d.ts is missing: run tsc -p tsconfig.json first');
  process.exit(1);
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'package.json'), '{ "type": "commonjs" }\n');

const result = await build({
  entryPoints: [path.join(root, 'lib', 'index.ts')],
  outfile: path.join(outDir, 'index.js'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.17',
  // the runtime dependency stays a require() of the installed package
  external: ['node-gyp-build'],
  // lib/native.ts finds the package root and its require() from
  // import.meta.url, which CommonJS lacks: the bundle's own file URL stands in.
  inject: [path.join(root, 'scripts', 'cjs-file-url.mjs')],
  define: { 'import.meta.url': 'fileUrl' },
  logLevel: 'silent',
});
// Any warning (an ESM-only construct esbuild had to drop, say) fails the build.
if (result.warnings.length > 0) {
  for (const w of result.warnings) console.error(`build-cjs: ${w.text} (${w.location?.file}:${w.location?.line})`);
  process.exit(1);
}

// The declarations of the library (not of the command-line tools).
cpSync(esmDir, outDir, {
  recursive: true,
  filter: (src) => {
    const rel = path.relative(esmDir, src);
    if (rel === 'cli' || rel.startsWith(`cli${path.sep}`)) return false;
    return rel === '' || !path.extname(rel) || src.endsWith('.d.ts');
  },
});
