// An application using the installed package through `import`: a region
// round trip, a pool with a file written and read back, and both builds in
// one process (the pool lock holding across them, a mapping made through
// this copy feeding I/O of the CommonJS copy). Prints one JSON line for
// test/build/package.test.ts.
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';

import { DaxfsError, Pool, Region, addonPath, emulatedPmemPath } from 'daxfs';

const result = { addonPath };

const regionPath = emulatedPmemPath('esm-region');
try {
  const region = Region.create(regionPath, 1 << 20);
  region.write(4096, Buffer.from('region bytes'));
  const back = Buffer.alloc(12);
  region.read(4096, back);
  region.close();
  result.region = back.toString();
} finally {
  rmSync(regionPath, { force: true });
}

const poolPath = emulatedPmemPath('esm-pool');
const otherPath = emulatedPmemPath('esm-pool-cjs');
try {
  const pool = Pool.format(poolPath, { size: 8 << 20 });
  const file = pool.open('hello', { create: true });
  result.written = file.write(Buffer.from('hello from import'), 0);
  const out = Buffer.alloc(64);
  result.file = out.toString('utf8', 0, file.read(out, 0));

  // The CommonJS build is a second copy of every class...
  const cjs = createRequire(import.meta.url)('daxfs');
  result.sameClasses = cjs.Pool === Pool;
  result.sameAddon = cjs.addonPath === addonPath;
  // one writer per backing, whichever copy opens it
  try {
    cjs.Pool.open(poolPath);
  } catch (e) {
    result.secondOpen = cjs.isDaxfsError(e) ? e.code : String(e);
    // an error made by either copy (or by the addon) is a DaxfsError of both
    result.errorOfBothCopies = e instanceof DaxfsError && e instanceof cjs.DaxfsError;
  }
  try {
    Pool.open(poolPath);
  } catch (e) {
    result.errorOfBothCopiesEsm = e instanceof DaxfsError && e instanceof cjs.DaxfsError && cjs.isDaxfsError(e);
  }
  // ...but a buffer mapped through this copy still faults its pages before
  // the other copy's I/O reads it (here: a hole, so the zero page).
  file.truncate(8192);
  const mapping = file.map({ offset: 0, length: 8192 });
  const before = mapping.pageStates(0, 8192);
  const other = cjs.Pool.format(otherPath, { size: 8 << 20 });
  const copy = other.open('copy', { create: true });
  result.crossWrite = copy.write(new Uint8Array(mapping.buffer, 4096, 4096), 0);
  result.pageStates = [before, mapping.pageStates(0, 8192)];
  const check = Buffer.alloc(4096, 1);
  copy.read(check, 0);
  result.crossZeros = check.every((b) => b === 0);
  copy.close();
  other.close();
  mapping.unmap();
  file.close();
  pool.close();

  const again = Pool.open(poolPath, { readOnly: true });
  const reread = again.open('hello');
  const out2 = Buffer.alloc('hello from import'.length);
  result.remounted = out2.toString('utf8', 0, reread.read(out2, 0));
  reread.close();
  again.close();
} finally {
  rmSync(poolPath, { force: true });
  rmSync(otherPath, { force: true });
}
console.log(JSON.stringify(result));
