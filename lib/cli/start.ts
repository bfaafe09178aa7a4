#!/usr/bin/env node
// The main job (`npm start`): on emulated pmem created for you (or a backing
// you name), print what the machine gives a region, format a pool on it and
// prove a durable round trip through a file (write, remount, read, check),
// narrate the reference thread's three questions with two live mappings, then
// run the quick region, pool and fault benchmarks.
//
//   npm start [-- --path FILE_OR_DEVDAX [--overwrite]] [--size 256M] [--full] [--json] [--keep]
//
// An existing --path is overwritten (benchmarked, then formatted as a pool):
// that takes --overwrite, so no device is wiped by accident.
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { formatRows, runRegionBenchmark, type Row } from '../../benchmarks/region.js';
import { formatCapabilities } from '../capabilities.js';
import { emulatedPmemPath, removeQuietly } from '../emulated.js';
import { daxfsError, isDaxfsError } from '../errors.js';
import { Pool } from '../pool/pool.js';
import { Region } from '../region.js';
import { runFaultDemo, type DemoResult } from './demo.js';
import { parseSize } from './units.js';

export { parseSize };


/**
 * Runs one benchmark file in a process of its own and returns its rows, as
 * `npm run bench` does: its code is compiled for its own workload, not
 * shaped by the demo and the region benchmark that ran here before it (in
 * one process a quick pool overwrite measured ~1.0 µs, alone ~0.7 µs).
 */
function benchmarkInChild(file: string, quick: boolean): Row[] {
  const script = fileURLToPath(new URL(`../../benchmarks/${file}`, import.meta.url));
  const out = execFileSync(process.execPath, [script, '--json', ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as Row[];
}

/** Formats a pool on `path`, writes a file, remounts, reads it back, checks, and runs the mapping demo. */
function poolRoundTrip(path: string, size: number | undefined): { ok: boolean; files: number; check: boolean; demo: DemoResult } {
  const record = Buffer.from(`daxfs ${new Date().toISOString()} `.repeat(200));
  const pool = Pool.format(path, size === undefined ? {} : { size });
  const f = pool.open('hello.txt', { create: true });
  f.write(record, 0);
  f.close();
  pool.close();
  const again = Pool.open(path);
  const g = again.open('hello.txt');
  const back = Buffer.alloc(g.size);
  g.read(back, 0);
  g.close();
  const files = again.list().length;
  let demo: DemoResult;
  try {
    demo = runFaultDemo(again);
  } finally {
    again.close();
  }
  const after = Pool.open(path);
  const check = after.check().ok;
  after.close();
  return { ok: back.equals(record), files, check, demo };
}

function main(): number {
  const { values } = parseArgs({
    options: {
      path: { type: 'string' },
      size: { type: 'string', default: '128M' },
      full: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      overwrite: { type: 'boolean', default: false },
    },
  });
  const created = !values.path || !existsSync(values.path);
  if (!created && !values.overwrite)
    throw daxfsError('EEXIST', `'${values.path}' exists: its contents would be overwritten; add --overwrite to use it anyway`);
  const path = values.path ?? emulatedPmemPath('demo');
  const size = parseSize(values.size!);
  const region = created ? Region.create(path, size) : Region.open(path);
  let capabilities;
  let regionRows;
  try {
    capabilities = region.capabilities;
    regionRows = runRegionBenchmark(region, !values.full);
  } finally {
    region.close();
  }
  try {
    const roundTrip = poolRoundTrip(path, undefined);
    const poolRows = [...benchmarkInChild('pool.js', !values.full), ...benchmarkInChild('faults.js', !values.full)];
    const ok = roundTrip.ok && roundTrip.check && roundTrip.demo.ok;
    if (values.json) {
      console.log(JSON.stringify({ capabilities, roundTrip, benchmark: [...regionRows, ...poolRows] }, null, 2));
    } else {
      console.log(`daxfs on ${created ? `emulated pmem created for this run (${values.size})` : 'an existing backing'}\n`);
      for (const line of formatCapabilities(capabilities)) console.log(`  ${line}`);
      console.log(
        `\n  pool round trip    ${roundTrip.ok ? 'ok' : 'FAILED'}: formatted, wrote hello.txt, remounted, read it back, check ${roundTrip.check ? 'clean' : 'NOT clean'}\n`,
      );
      console.log(`the reference thread, live: app A maps thread.db read-only, app B maps it shared and writable${roundTrip.demo.ok ? '' : ' (a claim did NOT hold: lines marked !)'}\n`);
      for (const line of roundTrip.demo.lines) console.log(` ${line}`);
      console.log('');
      console.log(`quick benchmarks (ratios measured in this run; \`npm run bench\` for the full ones)\n`);
      console.log(formatRows([...regionRows, ...poolRows]));
    }
    return ok ? 0 : 1;
  } finally {
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
