// Transparent faults: plain loads and stores through a mapping's buffer on
// pages no call brought in, each served by the fault service in the SIGSEGV
// handler, against the bare mechanism (a SIGSEGV handler mapping one block,
// timed in C in this run) and beside the kernel's own first-touch fault on a
// shared mapping of the same blocks (also this run); and a first pass over a
// never-populated written file against the kernel's per-page cost and
// against the same pass over a mapping populate() brought in first.
import { randomFillSync } from 'node:crypto';

import type { Pool } from '../lib/pool/pool.js';
import { formatNs, now } from './measure.js';
import { timeRow, type Row } from './table.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE = 4096;

/** What the rows are measured against (fault-rows of this run). */
export interface FaultBaselines {
  /** The kernel's first-touch fault on a shared mapping (one load per 64 KiB), ns per fault. */
  kernelFault: number;
  /** The kernel's first touch, one load per page (its fault-around included), ns per page. */
  kernelPage: number;
  /** A SIGSEGV handler mapping one block and returning, timed in C, ns per fault. */
  signalFloor: number;
  /** A userfaultfd thread mapping one block and waking the faulting thread, timed in C (undefined where not granted). */
  uffdFloor: number | undefined;
}

function best(trials: number, run: () => number): number {
  let ns = Infinity;
  for (let t = 0; t < trials; t++) ns = Math.min(ns, run());
  return ns;
}

/** Loads one byte per page of `u8` (the sum keeps the loads from being optimised away). */
function touchPages(u8: Uint8Array, pages: number): number {
  let sum = 0;
  for (let p = 0; p < pages; p++) sum += u8[p * PAGE]!;
  return sum;
}

/** A pass reading every 8-byte word of `words`. */
function pass(words: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < words.length; i++) sum += words[i]!;
  return sum;
}

let sink = 0;

export function transparentRows(pool: Pool, quick: boolean, base: FaultBaselines): Row[] {
  const trials = quick ? 3 : 7;
  const bytes = (quick ? 8 : 32) * MiB;
  const pages = bytes / PAGE;
  const written = pool.open('transparent-data', { create: true });
  written.write(Buffer.alloc(bytes, 0x31), 0);
  const hole = pool.open('transparent-hole', { create: true });
  hole.truncate(bytes);

  // One page per fault: no fault-around, no 2 MiB faults.
  const loads = (file: typeof written) =>
    best(trials, () => {
      const m = file.map({ length: bytes, faultAround: 1, huge: false });
      const u8 = new Uint8Array(m.buffer);
      const start = now();
      sink += touchPages(u8, pages);
      const ns = Number(now() - start);
      if (m.servedFaults().reads !== pages) throw new Error(`expected ${pages} served loads, got ${m.servedFaults().reads}`);
      m.unmap();
      return ns / pages;
    });
  const readHole = loads(hole);
  const readWritten = loads(written);
  // Stores into holes: a fresh file each trial; the adoption of every
  // filled block (its transaction) is in the time, as allocation is in the
  // kernel's write fault.
  const writeHole = best(trials, () => {
    const g = pool.open('transparent-fill', { create: true });
    g.truncate(bytes);
    const m = g.map({ length: bytes, write: true, faultAround: 1, huge: false });
    const u8 = new Uint8Array(m.buffer);
    const start = now();
    for (let p = 0; p < pages; p++) u8[p * PAGE] = 1;
    g.stat(); // any call on the file adopts what the stores filled
    const ns = Number(now() - start);
    if (m.servedFaults().fills !== pages) throw new Error(`expected ${pages} fills, got ${m.servedFaults().fills}`);
    m.unmap();
    g.close();
    pool.unlink('transparent-fill');
    return ns / pages;
  });

  const rows: Row[] = [];
  // A page showing nothing is served by the mechanism in use: measured
  // against that mechanism's bare round trip.
  const uffd = pool.region.capabilities.transparentFaultMechanism === 'userfaultfd+signal' && base.uffdFloor !== undefined;
  const floor = uffd ? base.uffdFloor! : base.signalFloor;
  const bare = uffd ? 'a bare userfaultfd thread mapping a block (C)' : 'a bare SIGSEGV handler mapping a block (C)';
  const against = (name: string, ns: number) => {
    const row = timeRow(`${name} vs ${bare}`, { min: ns }, { min: floor }, 'fault', { atMost: 1.5 });
    row.baseline += `; kernel first-touch ${formatNs(base.kernelFault)}/fault`;
    rows.push(row);
  };
  against('transparent: load on a hole (zero source)', readHole);
  against('transparent: load on a written block', readWritten);
  against('transparent: store into a hole (block taken, zeroed, adopted)', writeHole);

  // A first pass over a never-populated written file with the default
  // fault-around (one load maps and populates the whole extent), against
  // the kernel's per-page first touch, and as throughput against the same
  // pass over a fresh mapping that populate() brought in first (untimed).
  // Random bytes: pages of one repeated byte may be merged by the host.
  const firstBytes = (quick ? 16 : 64) * MiB;
  const big = pool.open('transparent-big', { create: true });
  big.write(randomFillSync(Buffer.alloc(firstBytes)), 0);
  let firstTouch = Infinity;
  let firstPass = Infinity;
  let populatedPass = Infinity;
  for (let t = 0; t < trials; t++) {
    let m = big.map({ length: firstBytes });
    let start = now();
    sink += touchPages(new Uint8Array(m.buffer), firstBytes / PAGE);
    firstTouch = Math.min(firstTouch, Number(now() - start) / (firstBytes / PAGE));
    m.unmap();
    m = big.map({ length: firstBytes });
    start = now();
    sink += pass(new Float64Array(m.buffer));
    firstPass = Math.min(firstPass, Number(now() - start));
    m.unmap();
    m = big.map({ length: firstBytes });
    m.populate();
    start = now();
    sink += pass(new Float64Array(m.buffer));
    populatedPass = Math.min(populatedPass, Number(now() - start));
    m.unmap();
  }
  rows.push(timeRow(`transparent: first touch of a never-populated ${firstBytes / MiB} MiB file, per page, vs the kernel's first touch per page`, { min: firstTouch }, { min: base.kernelPage }, 'page', { atMost: 0.2 }));
  const throughput = populatedPass / firstPass; // share of the populated pass's throughput
  rows.push({
    name: `transparent: first pass over a never-populated ${firstBytes / MiB} MiB file vs the first pass after populate()`,
    measured: `${((firstBytes / firstPass) * 1e9 / 2 ** 30).toFixed(2)} GiB/s`,
    baseline: `${((firstBytes / populatedPass) * 1e9 / 2 ** 30).toFixed(2)} GiB/s`,
    ratio: throughput,
    verdict: `${throughput.toFixed(2)} of the throughput`,
    target: '≥ 0.5 of the throughput',
    pass: throughput >= 0.5,
  });
  written.close();
  hole.close();
  big.close();
  if (sink === -1) console.log(sink);
  return rows;
}
