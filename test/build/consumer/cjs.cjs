// An application using the installed package through `require`: a region
// round trip and a pool with a file written and read back. Prints one JSON
// line for test/build/package.test.ts.
const { rmSync } = require('node:fs');

const { Pool, Region, addonPath, emulatedPmemPath, isDaxfsError } = require('daxfs');

const result = { addonPath };

const regionPath = emulatedPmemPath('cjs-region');
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

const poolPath = emulatedPmemPath('cjs-pool');
try {
  const pool = Pool.format(poolPath, { size: 8 << 20 });
  const file = pool.open('hello', { create: true });
  result.written = file.write(Buffer.from('hello from require'), 0);
  const out = Buffer.alloc(64);
  result.file = out.toString('utf8', 0, file.read(out, 0));
  try {
    pool.open('missing');
  } catch (e) {
    result.missing = isDaxfsError(e) ? e.code : String(e);
  }
  file.close();
  pool.close();
} finally {
  rmSync(poolPath, { force: true });
}
console.log(JSON.stringify(result));
