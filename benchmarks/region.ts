// The region benchmark: what the JS API costs against the machine's limit
// (the same work in one native loop), against plain file I/O on the same
// backing, and what views and MMU operations cost. Every figure is measured
// in this run; ratios compare figures from this run only.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Region } from '../lib/index.js';
import { compare, formatBandwidth, formatNs, randomOrder, timeLoop } from './measure.js';
import { createUnlinkedPmem } from '../lib/emulated.js';
import { fasterOrSlower, formatRows, times, type Row } from './table.js';

export { formatRows, type Row };

const MiB = 1 << 20;

function copyInRows(region: Region, quick: boolean): Row[] {
  const rows: Row[] = [];
  const span = 64 * MiB;
  const trials = quick ? 3 : 7;
  for (const [size, iterations, target, kind] of [
    [64, quick ? 100_000 : 400_000, 2.5, 'time'],
    [4096, quick ? 20_000 : 80_000, 1.5, 'time'],
    [MiB, quick ? 64 : 256, 0.85, 'bandwidth'],
  ] as const) {
    const src = Buffer.alloc(size, 0x5a);
    const slots = span / size;
    const js = () =>
      timeLoop(iterations, (i) => {
        region.write((i % slots) * size, src, 0, size, true);
      });
    // the same writes made by the region's copy primitive in a C loop
    const offsets = new Float64Array(iterations);
    for (let i = 0; i < iterations; i++) offsets[i] = (i % slots) * size;
    const native = () => {
      const p = region.copyProbe(offsets, size, src, true);
      return p.ns / p.copies;
    };
    const best = compare(trials, js, native);
    const label = size >= MiB ? `${size / MiB} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    if (kind === 'bandwidth') {
      const ratio = best.b / best.a; // JS bandwidth / native bandwidth
      rows.push({
        name: `copy-in + persist ${label} (JS vs native loop)`,
        measured: formatBandwidth(size / best.a),
        baseline: formatBandwidth(size / best.b),
        ratio,
        verdict: `${times(ratio)} the native loop's bandwidth`,
        target: `≥ ${target}×`,
        pass: ratio >= target,
      });
    } else {
      const ratio = best.a / best.b;
      rows.push({
        name: `copy-in + persist ${label} (JS vs native loop)`,
        measured: `${formatNs(best.a)}/op`,
        baseline: `${formatNs(best.b)}/op`,
        ratio,
        verdict: `${times(ratio)} the native loop's time`,
        target: `≤ ${target}×`,
        pass: ratio <= target,
      });
    }
  }
  return rows;
}

/**
 * 4 KiB copy-in + persist and copy-out against fs.writeSync / fs.readSync on
 * the same backing file, in two access patterns: a working set that stays in
 * the CPU caches, and random over 64 MiB, where both sides wait for cold
 * memory. A persisted write always goes to memory; writeSync stays in cache.
 */
function fileIoRows(region: Region, quick: boolean): Row[] {
  const size = 4096;
  const iterations = quick ? 20_000 : 80_000;
  const trials = quick ? 3 : 7;
  const buf = Buffer.alloc(size, 0xa5);
  const out = Buffer.alloc(size);
  const fd = openSync(region.path, 'r+');
  const rows: Row[] = [];
  try {
    const target = 4;
    for (const [pattern, span] of [
      ['cached 1 MiB working set', MiB],
      ['random over 64 MiB, cold', 64 * MiB],
    ] as const) {
      const order = randomOrder(iterations, span / size);
      const w = compare(
        trials,
        () => timeLoop(iterations, (i) => region.write(order[i]! * size, buf, 0, size, true)),
        () => timeLoop(iterations, (i) => writeSync(fd, buf, 0, size, order[i]! * size)),
      );
      const r = compare(
        trials,
        () => timeLoop(iterations, (i) => region.read(order[i]! * size, out, 0, size)),
        () => timeLoop(iterations, (i) => readSync(fd, out, 0, size, order[i]! * size)),
      );
      for (const [what, best] of [
        ['copy-in + persist vs fs.writeSync (not durable)', w],
        ['copy-out vs fs.readSync', r],
      ] as const) {
        const ratio = best.b / best.a;
        rows.push({
          name: `4 KiB ${what}, ${pattern}`,
          measured: `${formatNs(best.a)}/op`,
          baseline: `${formatNs(best.b)}/op`,
          ratio,
          verdict: fasterOrSlower(ratio),
          target: `≥ ${target}× faster`,
          pass: ratio >= target,
        });
      }
    }
    return rows;
  } finally {
    closeSync(fd);
  }
}

function costRows(region: Region, quick: boolean): Row[] {
  const n = quick ? 20_000 : 100_000;
  const rows: Row[] = [];
  const copy = Buffer.alloc(4096);
  const viewNs = Math.min(
    ...[0, 1, 2].map(() => timeLoop(n, (i) => region.view((i % 1000) * 4096, 4096))),
  );
  const readNs = Math.min(...[0, 1, 2].map(() => timeLoop(n, (i) => region.read((i % 1000) * 4096, copy))));
  rows.push({
    name: 'create a 4 KiB zero-copy view vs copy-out of 4 KiB',
    measured: `${formatNs(viewNs)}/view`,
    baseline: `${formatNs(readNs)}/read`,
    ratio: viewNs / readNs,
    verdict: `${times(viewNs / readNs)} the time of a copy-out`,
    target: null,
    pass: null,
  });

  const m = region.createMapping(4 * MiB);
  const pages = 4 * MiB / 4096;
  const opN = quick ? 5_000 : 20_000;
  const mapBlock = timeLoop(opN, (i) => m.mapBlocks((i % pages) * 4096, 4096, (i % 1000) * 4096, true));
  // Zeros over blocks (an mmap of the zero source, merging with the page
  // before), then in turns torn down and shown again: both an mprotect, as
  // the source stays mapped (inaccessible) under a torn-down page. One page
  // at a time, every page once per pass.
  const zeroOverBlock = timeLoop(pages, (i) => m.mapZero(i * 4096, 4096));
  let unmap = 0;
  let zeroAgain = 0;
  const passes = quick ? 2 : 8;
  for (let p = 0; p < passes; p++) {
    unmap += timeLoop(pages, (i) => m.unmap(i * 4096, 4096)) / passes;
    zeroAgain += timeLoop(pages, (i) => m.mapZero(i * 4096, 4096)) / passes;
  }
  const map2M = timeLoop(quick ? 500 : 2_000, (i) => m.mapBlocks((i % 2) * 2 * MiB, 2 * MiB, (i % 8) * 2 * MiB, true));
  const before = m.stats().syscalls;
  m.mapBlocks(0, 2 * MiB, 0, true);
  const syscallsPerRun = m.stats().syscalls - before;
  m.release();
  for (const [name, ns] of [
    ['MMU: map one block (4 KiB)', mapBlock],
    ['MMU: map the zero source over a block (4 KiB, mmap)', zeroOverBlock],
    ['MMU: tear down zeros (4 KiB, mprotect)', unmap],
    ['MMU: show zeros again (4 KiB, mprotect)', zeroAgain],
    [`MMU: map a 2 MiB run (${syscallsPerRun} syscall)`, map2M],
  ] as const) {
    rows.push({
      name,
      measured: `${formatNs(ns)}/op`,
      baseline: `${formatNs(mapBlock)}/op (map one block)`,
      ratio: ns / mapBlock,
      verdict: `${times(ns / mapBlock)} the time of mapping one block`,
      target: null,
      pass: null,
    });
  }
  return rows;
}

/**
 * Runs every measurement on `region` (at least 128 MiB, writable; its
 * contents are overwritten). `quick` runs fewer iterations and trials.
 */
export function runRegionBenchmark(region: Region, quick = false): Row[] {
  if (region.size < 128 * MiB) throw new Error('the region benchmark needs a region of at least 128 MiB');
  // Touch the whole span once so neither side pays first-touch page faults.
  region.zero(0, 128 * MiB);
  const fileRows = region.capabilities.kind === 'file' ? fileIoRows(region, quick) : [];
  return [...copyInRows(region, quick), ...fileRows, ...costRows(region, quick)];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes('--quick');
  const json = process.argv.includes('--json');
  // The name goes at once: a run that is killed leaves nothing behind.
  const backing = createUnlinkedPmem('bench', 128 * MiB);
  const region = Region.open(backing.path);
  try {
    const rows = runRegionBenchmark(region, quick);
    if (json) {
      console.log(JSON.stringify({ region: region.capabilities, rows }, null, 2));
    } else {
      const c = region.capabilities;
      console.log(`region benchmark on ${backing.name}, removed once open (${c.persistence}, flush ${c.flush})\n`);
      console.log(formatRows(rows));
    }
  } finally {
    region.close();
    backing.close();
  }
}
