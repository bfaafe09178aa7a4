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
// that takes --overwrite, so no device is wiped by accident. A file this run
// creates loses its name as soon as it is open (unless --keep): the run
// reopens it through /proc/self/fd, and a run that is interrupted or killed
// leaves nothing behind.
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { benchmarkScript, runChild } from '../../benchmarks/child.js';
import { runRegionBenchmark } from '../../benchmarks/region.js';
import { formatRows, type Row } from '../../benchmarks/table.js';
import { formatCapabilities } from '../capabilities.js';
import { emulatedPmemPath, unlinkKeepingOpen, type UnlinkedFile } from '../emulated.js';
import { daxfsError, isDaxfsError } from '../errors.js';
import { Pool } from '../pool/pool.js';
import { Region } from '../region.js';
import { runFaultDemo, type DemoResult } from './demo.js';
import { formatSize, parseSize } from '../units.js';

export { parseSize };

async function benchmarkInChild(file: string, quick: boolean): Promise<Row[]> {
  return JSON.parse(await runChild(benchmarkScript(file), ['--json', ...(quick ? ['--quick'] : [])])) as Row[];
}

/** Formats a pool on `path`, writes a file, remounts, reads it back, checks, and runs the mapping demo. */
function poolRoundTrip(path: string): { ok: boolean; files: number; check: boolean; demo: DemoResult } {
  const record = Buffer.from(`daxfs ${new Date().toISOString()} `.repeat(200));
  const pool = Pool.format(path);
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

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  const started = Date.now();
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
  const say = (text = '') => {
    if (!values.json) console.log(text);
  };
  const quick = !values.full;
  const created = !values.path || !existsSync(values.path);
  if (!created && !values.overwrite)
    throw daxfsError('EEXIST', `'${values.path}' exists: its contents would be overwritten; add --overwrite to use it anyway`);
  const name = values.path ?? emulatedPmemPath('demo');
  const size = parseSize(values.size!);
  let region = created ? Region.create(name, size) : Region.open(name);
  let unlinked: UnlinkedFile | null = null;
  if (created && !values.keep) {
    // First thing after creating it: remove the name. The run goes on
    // through the descriptor that keeps the file (its node:fs comparison
    // opens it by path too).
    try {
      unlinked = unlinkKeepingOpen(name);
    } finally {
      region.close();
    }
    region = Region.open(unlinked.path);
  }
  const path = unlinked?.path ?? name;
  try {
    const capabilities = { ...region.capabilities, path: name };
    say(
      created
        ? `daxfs on emulated pmem created for this run (${formatSize(size)})${unlinked ? ', its name removed as soon as it was open: nothing is left behind, even if the run is stopped' : ''}\n`
        : `daxfs on ${name} (an existing backing, overwritten)\n`,
    );
    for (const line of formatCapabilities(capabilities)) say(`  ${line}`);
    say(`\nmeasuring the region (${quick ? 'quick' : 'full'} benchmark)…`);
    let regionRows: Row[];
    try {
      regionRows = runRegionBenchmark(region, quick);
    } finally {
      region.close();
    }

    const roundTrip = poolRoundTrip(path);
    say(`\n  pool round trip    ${roundTrip.ok ? 'ok' : 'FAILED'}: formatted, wrote hello.txt, remounted, read it back, check ${roundTrip.check ? 'clean' : 'NOT clean'}\n`);
    say(`the reference thread, live: app A maps thread.db read-only, app B maps it shared and writable${roundTrip.demo.ok ? '' : ' (a claim did NOT hold: lines marked !)'}\n`);
    for (const line of roundTrip.demo.lines) say(` ${line}`);

    say(`\nmeasuring the pool and the mappings, each in a process of its own…`);
    const childRows = [...(await benchmarkInChild('pool.js', quick)), ...(await benchmarkInChild('faults.js', quick))];
    const rows = [...regionRows, ...childRows];
    const ok = roundTrip.ok && roundTrip.check && roundTrip.demo.ok;
    if (values.json) {
      console.log(JSON.stringify({ capabilities, unlinked: unlinked !== null, roundTrip, seconds: (Date.now() - started) / 1000, benchmark: rows }, null, 2));
    } else {
      say(`\n${quick ? 'quick' : 'full'} benchmarks: every ratio compares two figures measured in this run, side by side; a target is a`);
      say(`goal daxfs sets itself (met or MISSED in this run)${quick ? '; `npm run bench` runs the full ones' : ''}\n`);
      for (const [title, group] of [
        ['the region: the JS API against the same copies in a native loop, against node:fs on the same file, and MMU calls', regionRows],
        ['the pool: files against node:fs on the same tmpfs, and mount time', childRows.filter((r) => r.name.startsWith('pool:'))],
        ['mappings: faults against the kernel\'s, loads and stores, invalidation', childRows.filter((r) => !r.name.startsWith('pool:'))],
      ] as const) {
        say(`${title}\n`);
        say(`${formatRows(group)}\n`);
      }
      say(`the whole run took ${seconds(Date.now() - started)}`);
    }
    return ok ? 0 : 1;
  } finally {
    unlinked?.close();
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(`daxfs: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = isDaxfsError(e) && e.code === 'EINVAL' ? 2 : 1;
    },
  );
}
