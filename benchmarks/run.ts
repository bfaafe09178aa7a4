// `npm run bench`: the region, pool, fault, metadata and stores benchmarks, each in a
// process of its own, their tables printed; with --report DIR also a
// markdown report and SVG charts in DIR.
//
//   npm run bench [-- --report DIR] [--quick]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { CapabilityReport } from '../lib/capabilities.js';
import { benchmarkScript, runChild } from './child.js';
import { writeReport } from './report.js';
import { sqliteNodeFlags } from './sqlite.js';
import { formatStores, type StoresResult } from './stores.js';
import { formatRows, type Row } from './table.js';

async function main(): Promise<void> {
  const started = new Date();
  const { values } = parseArgs({ options: { report: { type: 'string' }, quick: { type: 'boolean', default: false } } });
  const args = ['--json', ...(values.quick ? ['--quick'] : [])];
  const json = async <T>(file: string, flags: string[] = []) => JSON.parse(await runChild(benchmarkScript(file), args, flags)) as T;

  const region = await json<{ region: CapabilityReport; rows: Row[] }>('region.js');
  const groups = [
    { title: `Region: the JS API against the same copies in a native loop, node:fs on the same file, MMU calls (${region.region.persistence}, flush ${region.region.flush})`, rows: region.rows },
    { title: 'Pool: files against node:fs on the same tmpfs, and mount time', rows: await json<Row[]>('pool.js') },
    { title: "Mappings: faults against the kernel's, loads and stores, invalidation", rows: await json<Row[]>('faults.js') },
    { title: 'Metadata: names, extents, mount and asynchronous transfers at scale, against node:fs on the same tmpfs or a small scale', rows: await json<Row[]>('metadata.js') },
  ];
  for (const g of groups) console.log(`${g.title}\n\n${formatRows(g.rows)}\n`);
  const stores = await json<StoresResult>('stores.js', sqliteNodeFlags());
  console.log(`Stores: daxfs against node:fs, lmdb and node:sqlite by key\n\n${formatStores(stores)}`);

  if (values.report !== undefined) {
    const seconds = (Date.now() - started.getTime()) / 1000;
    const files = writeReport(path.resolve(values.report), { started, seconds, quick: values.quick!, stores, groups });
    console.log(`\nreport written: ${files.join(', ')}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
