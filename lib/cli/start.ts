#!/usr/bin/env node
// The main job (`npm start`): open a region — by default emulated pmem
// created for you on tmpfs — print what the machine gives it, prove a
// durable round trip, and run the quick region benchmark.
//
//   npm start [-- --path FILE_OR_DEVDAX] [--size 256M] [--full] [--json] [--keep]
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { formatRows, runRegionBenchmark } from '../../benchmarks/region.js';
import { formatCapabilities } from '../capabilities.js';
import { emulatedPmemPath, removeQuietly } from '../emulated.js';
import { Region } from '../region.js';
import { isDaxfsError } from '../errors.js';
import { parseSize } from './units.js';

export { parseSize };

function main(): number {
  const { values } = parseArgs({
    options: {
      path: { type: 'string' },
      size: { type: 'string', default: '128M' },
      full: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const created = !values.path || !existsSync(values.path);
  const path = values.path ?? emulatedPmemPath('demo');
  const region = created ? Region.create(path, parseSize(values.size!)) : Region.open(path);
  try {
    const c = region.capabilities;
    // A durable round trip: write, persist, read back through a copy and a view.
    const record = Buffer.from(`daxfs ${new Date().toISOString()}`);
    region.write(0, record);
    const back = Buffer.alloc(record.length);
    region.read(0, back);
    const roundTrip = back.equals(record) && region.view(0, record.length).equals(record);
    const rows = runRegionBenchmark(region, !values.full);
    if (values.json) {
      console.log(JSON.stringify({ capabilities: c, roundTrip, benchmark: rows }, null, 2));
    } else {
      console.log(`daxfs region on ${created ? 'emulated pmem created for this run' : 'an existing backing'}\n`);
      for (const line of formatCapabilities(c)) console.log(`  ${line}`);
      console.log(`\n  round trip         ${roundTrip ? 'ok' : 'FAILED'} (${record.length} bytes written, persisted, read back)\n`);
      console.log(`quick region benchmark (ratios measured in this run; \`npm run bench\` for the full one)\n`);
      console.log(formatRows(rows));
    }
    return roundTrip ? 0 : 1;
  } finally {
    region.close();
    if (created && !values.keep) removeQuietly(path);
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main();
  } catch (e) {
    console.error(`daxfs: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = isDaxfsError(e) && e.code === 'EINVAL' ? 2 : 1;
  }
}
