// The mapping benchmark: the fault handler against the kernel's own
// first-touch faults on a shared mapping of the same backing (measured in C,
// in this run), 2 MiB against 4 KiB faults, loads and stores through a
// mapping against a plain Buffer, plain accesses served by the fault
// service (transparent.ts), MMU calls for populating a large file, and
// the cost of invalidation as unrelated mappings multiply. Every figure is
// measured in this run; ratios compare figures from this run only.
import { fileURLToPath } from 'node:url';

import { createUnlinkedPmem } from '../lib/emulated.js';
import { Pool } from '../lib/pool/pool.js';
import { formatNs, now } from './measure.js';
import type { FaultMechanism } from '../lib/native.js';
import { fasterOrSlower, formatRows, timeRow, times, type Row } from './table.js';
import { transparentRows, type FaultBaselines } from './transparent.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE = 4096;

function best(trials: number, run: () => number): number {
  let ns = Infinity;
  for (let t = 0; t < trials; t++) ns = Math.min(ns, run());
  return ns;
}

function timed(op: () => void): number {
  const start = now();
  op();
  return Number(now() - start);
}

/** A row where smaller is better for `ours`: ratio = theirs / ours. */
function fasterRow(name: string, ours: number, theirs: number, target: number | null, unit = 'op'): Row {
  const ratio = theirs / ours;
  return {
    name,
    measured: `${formatNs(ours)}/${unit}`,
    baseline: `${formatNs(theirs)}/${unit}`,
    ratio,
    verdict: fasterOrSlower(ratio),
    target: target === null ? null : `≥ ${target}× faster`,
    pass: target === null ? null : ratio >= target,
  };
}

const MECHANISMS: [FaultMechanism, string][] = [
  ['uffd-map', 'a userfaultfd thread mapping the block'],
  ['uffd-zeropage', 'a userfaultfd thread with UFFDIO_ZEROPAGE'],
  ['signal-map', 'a SIGSEGV handler mapping the block'],
];

/**
 * The bare mechanisms a fault handler serving plain loads and stores would
 * be built on, each resolving read faults on the blocks at regionOffset,
 * timed in C: the floor of such a handler, beside the kernel's fault. A
 * mechanism this process may not use (userfaultfd without privilege) has
 * no row: the capability report says what is granted.
 */
function mechanismRows(pool: Pool, regionOffset: number, pages: number, kernelFault: number, trials: number): { rows: Row[]; floors: Map<FaultMechanism, number> } {
  const rows: Row[] = [];
  const floors = new Map<FaultMechanism, number>();
  for (const [mechanism, what] of MECHANISMS) {
    let ns: number;
    try {
      ns = best(trials, () => {
        const r = pool.region.faultRoundTrip(regionOffset, pages, mechanism);
        return r.ns / r.faults;
      });
    } catch (e) {
      if ((e as { code?: unknown }).code === 'EPERM' || (e as { code?: unknown }).code === 'ENOSYS') continue;
      throw e;
    }
    floors.set(mechanism, ns);
    rows.push(fasterRow(`fault floor: read fault resolved by ${what} (C) vs kernel first-touch fault`, ns, kernelFault, null, 'fault'));
  }
  return { rows, floors };
}

function faultRows(pool: Pool, quick: boolean): { rows: Row[]; baselines: FaultBaselines } {
  const rows: Row[] = [];
  const trials = quick ? 3 : 7;
  const bytes = (quick ? 8 : 32) * MiB;
  const pages = bytes / PAGE;
  const f = pool.open('fault-data', { create: true });
  f.write(Buffer.alloc(bytes, 0x61), 0);
  const regionOffset = f.getBlock(0).poolBlock * PAGE;
  if (f.getBlock(0).count < pages) throw new Error('the benchmark file is not contiguous');
  const hole = pool.open('fault-hole', { create: true });
  hole.truncate(bytes);

  // The kernel: a fresh MAP_SHARED mapping of the same blocks, one load per
  // page (its fault-around maps 16 pages per fault) and one per 64 KiB (each
  // load a fault).
  const kernelPage = best(trials, () => {
    const r = pool.region.firstTouch(regionOffset, bytes, PAGE, false);
    return r.ns / r.touches;
  });
  const kernelFault = best(trials, () => {
    const r = pool.region.firstTouch(regionOffset, bytes, 64 * KiB, false);
    return r.ns / r.touches;
  });
  const kernelWrite = best(trials, () => {
    const r = pool.region.firstTouch(regionOffset, bytes, 64 * KiB, true);
    return r.ns / r.touches;
  });

  // Ours, one page per fault (no fault-around, no huge faults).
  const perFault = (file: typeof f, write: boolean, shared = true) =>
    best(trials, () => {
      const m = file.map({ length: bytes, write: write || !shared, shared, faultAround: 1, huge: false });
      const ns = timed(() => {
        for (let p = 0; p < pages; p++) m.fault(p * PAGE, { write });
      });
      m.unmap();
      return ns / pages;
    });
  const readWritten = perFault(f, false);
  const readHole = perFault(hole, false);
  const cow = perFault(f, true, false);
  // Write faults on holes allocate: a fresh file each trial.
  const writeHole = best(trials, () => {
    const g = pool.open('fault-fill', { create: true });
    g.truncate(bytes);
    const m = g.map({ length: bytes, write: true, faultAround: 1, huge: false });
    const ns = timed(() => {
      for (let p = 0; p < pages; p++) m.fault(p * PAGE, { write: true });
    });
    m.unmap();
    g.close();
    pool.unlink('fault-fill');
    return ns / pages;
  });
  // The kernel's fault-around window (16 pages), one fault per 64 KiB on both sides.
  const readHole16 = best(trials, () => {
    const m = hole.map({ length: bytes, faultAround: 16, huge: false });
    const ns = timed(() => {
      for (let p = 0; p < pages; p += 16) m.fault(p * PAGE);
    });
    m.unmap();
    return ns / (pages / 16);
  });
  // Default fault-around over a hole: one fault maps the whole hole.
  const holeAround = best(trials, () => {
    const m = hole.map({ length: bytes });
    const ns = timed(() => m.fault(0));
    m.unmap();
    return ns;
  });

  rows.push(fasterRow('fault: read, hole → zero source (4 KiB) vs kernel first-touch fault', readHole, kernelFault, 1, 'fault'));
  rows.push(fasterRow('fault: read, hole → zero source, 16-page window (the kernel\'s) vs kernel fault', readHole16, kernelFault, null, 'fault'));
  rows.push(fasterRow('fault: read, written block (4 KiB) vs kernel first-touch fault', readWritten, kernelFault, null, 'fault'));
  rows.push(timeRow('fault: write, hole → allocate + zero + durable vs kernel write fault', { min: writeHole }, { min: kernelWrite }, 'fault', { atMost: 1.5 }));
  rows.push(fasterRow('fault: write, private copy (4 KiB) vs kernel first-touch fault', cow, kernelFault, null, 'fault'));
  rows.push(fasterRow(`fault: read, hole with fault-around (${bytes / MiB} MiB at once) vs kernel, per page`, holeAround / pages, kernelPage, null, 'page'));

  // 2 MiB faults against 512 separate 4 KiB faults over the same bytes.
  const huge = best(trials, () => {
    const m = f.map({ length: bytes, faultAround: 1 });
    const ns = timed(() => {
      for (let p = 0; p < pages; p += 512) m.fault(p * PAGE);
    });
    if (m.stats().huge !== pages / 512) throw new Error(`expected ${pages / 512} huge faults, got ${m.stats().huge}`);
    m.unmap();
    return ns / (pages / 512);
  });
  rows.push(fasterRow('fault: one 2 MiB fault vs 512 separate 4 KiB faults', huge, readWritten * 512, 10, '2 MiB'));
  const floors = mechanismRows(pool, regionOffset, Math.min(pages, quick ? 256 : 2048), kernelFault, trials);
  rows.push(...floors.rows);
  f.close();
  hole.close();
  return { rows, baselines: { kernelFault, kernelPage, signalFloor: floors.floors.get('signal-map')!, uffdFloor: floors.floors.get('uffd-map') } };
}

/** Loads and stores through a populated mapping against a Buffer of the same size. */
function accessRows(pool: Pool, quick: boolean): Row[] {
  const bytes = (quick ? 16 : 64) * MiB;
  const trials = quick ? 3 : 11;
  const f = pool.open('access', { create: true });
  f.truncate(bytes);
  const m = f.map({ length: bytes, write: true });
  const mapped = new Uint32Array(m.view(0, bytes, { write: true }).buffer, 0, bytes / 4);
  const plain = new Uint32Array(Buffer.alloc(bytes).buffer, 0, bytes / 4);
  const store = (a: Uint32Array) => () =>
    timed(() => {
      for (let i = 0; i < a.length; i++) a[i] = i;
    });
  let sink = 0;
  const load = (a: Uint32Array) => () =>
    timed(() => {
      let s = 0;
      for (let i = 0; i < a.length; i++) s = (s + a[i]!) | 0;
      sink ^= s;
    });
  const rows: Row[] = [];
  for (const [what, fn] of [['stores', store], ['loads', load]] as const) {
    let ours = Infinity;
    let theirs = Infinity;
    for (let t = 0; t < trials; t++) {
      ours = Math.min(ours, fn(mapped)());
      theirs = Math.min(theirs, fn(plain)());
    }
    const ratio = theirs / ours; // throughput ratio
    rows.push({
      name: `mapping: sequential 32-bit ${what} vs a Buffer (${bytes / MiB} MiB)`,
      measured: `${((bytes / ours) * 1e9 / 2 ** 30).toFixed(2)} GiB/s`,
      baseline: `${((bytes / theirs) * 1e9 / 2 ** 30).toFixed(2)} GiB/s`,
      ratio,
      verdict: `${times(ratio)} its throughput`,
      target: '≥ 0.9×',
      pass: ratio >= 0.9,
    });
  }
  if (sink === 0.5) console.log(sink);
  m.unmap();
  f.close();
  return rows;
}

/** Mapping and populating a large file written contiguously: MMU calls per extent. */
function populateRow(pool: Pool, quick: boolean): Row {
  const bytes = (quick ? 128 : 1024) * MiB;
  const f = pool.open('large', { create: true });
  const chunk = Buffer.alloc(64 * MiB, 0x6c);
  for (let at = 0; at < bytes; at += chunk.length) f.write(chunk, at);
  const extents = f.stat().extents;
  const m = f.map({ length: bytes });
  const ns = timed(() => m.populate());
  const calls = m.stats().mmuCalls - 1; // the reservation is not a fault
  m.unmap();
  f.close();
  pool.unlink('large');
  return {
    name: `mapping: populate a ${bytes / MiB} MiB file of ${extents} extent(s)`,
    measured: `${calls} MMU call(s), ${formatNs(ns)}`,
    baseline: `${bytes / PAGE} pages`,
    ratio: calls / extents,
    verdict: `${(calls / extents).toFixed(2)} calls per extent`,
    target: '≤ 1 call per extent',
    pass: calls <= extents,
  };
}

/** A hole-filling write with 1, 10 and 100 unrelated mappings of other files alive. */
function invalidationRows(pool: Pool, quick: boolean): Row[] {
  const holes = quick ? 256 : 1024;
  const trials = quick ? 5 : 7;
  const x = pool.open('watched', { create: true });
  const others: { unmap(): void }[] = [];
  const page = Buffer.alloc(PAGE, 0x78);
  const once = (): number => {
    x.truncate(0);
    x.truncate(holes * PAGE);
    const a = x.map({ length: holes * PAGE });
    a.populate(); // every page shows zeros
    const ns = timed(() => {
      for (let i = 0; i < holes; i++) x.write(page, i * PAGE);
    });
    if (a.stats().invalidations !== holes) throw new Error(`expected ${holes} invalidations, got ${a.stats().invalidations}`);
    a.unmap();
    return ns / holes;
  };
  // The counts take turns within each trial (mappings added or removed
  // between them, outside the timing), so that a slow phase of a shared
  // machine does not land on one count only.
  const counts = [1, 10, 100];
  const bestNs = counts.map(() => Infinity);
  for (let t = 0; t < trials; t++) {
    counts.forEach((count, k) => {
      while (others.length > count) others.pop()!.unmap();
      while (others.length < count) {
        const g = pool.open(`other-${others.length}`, { create: true });
        g.write(Buffer.alloc(16 * PAGE, 1), 0);
        const m = g.map({ length: 16 * PAGE });
        m.populate();
        others.push(m);
        g.close();
      }
      bestNs[k] = Math.min(bestNs[k]!, once());
    });
  }
  const results = counts.map((count, k): [number, number] => [count, bestNs[k]!]);
  for (const m of others) m.unmap();
  x.close();
  const base = results[0]![1];
  return results.map(([count, ns]) => ({
    name: `invalidation: hole-filling 4 KiB write, ${count} unrelated mapping(s)`,
    measured: `${formatNs(ns)}/write`,
    baseline: `${formatNs(base)}/write (1 mapping)`,
    ratio: ns / base,
    verdict: `${times(ns / base)} the time with 1 mapping`,
    target: '≤ 1.25× (flat)',
    pass: ns / base <= 1.25,
  }));
}

export function runFaultBenchmark(quick = false): Row[] {
  const size = (quick ? 512 : 1536) * MiB;
  // The name goes as soon as the file is open: a killed run leaves nothing.
  const backing = createUnlinkedPmem('bench-faults', size);
  try {
    // zeroAll: every page of the emulated pmem exists, as on real pmem.
    const pool = Pool.format(backing.path, { size, zeroAll: true });
    try {
      const faults = faultRows(pool, quick);
      return [
        ...faults.rows,
        ...transparentRows(pool, quick, faults.baselines),
        ...accessRows(pool, quick),
        populateRow(pool, quick),
        ...invalidationRows(pool, quick),
      ];
    } finally {
      pool.close();
    }
  } finally {
    backing.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes('--quick');
  const rows = runFaultBenchmark(quick);
  if (process.argv.includes('--json')) console.log(JSON.stringify(rows, null, 2));
  else console.log(formatRows(rows));
}
