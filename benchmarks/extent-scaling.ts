// How metadata transactions and block lookups scale with a file's extent
// count: a punch hole plus the write that refills it, and getBlock, on files
// of 1, 1 000 and 10 000 extents (medians of many samples), with the
// journal bytes each transaction writes. Run: node dist/benchmarks/extent-scaling.js
import { fileURLToPath } from 'node:url';

import { createUnlinkedPmem } from '../lib/emulated.js';
import { Pool } from '../lib/pool/pool.js';
import { now } from './measure.js';

const MiB = 1 << 20;
const BLOCK = 4096;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export interface ScalingRow {
  extents: number;
  /** Median µs of a punch of one block plus the write that refills it (two transactions). */
  punchRefillUs: number;
  /** Median ns of one getBlock at a random mapped block. */
  getBlockNs: number;
  /** Journal bytes of one punch plus refill. */
  journalBytes: number;
}

/** A file of `n` extents: 2n blocks written, then every odd block but the last punched. */
function fileWithExtents(pool: Pool, name: string, n: number) {
  const f = pool.open(name, { create: true });
  const block = Buffer.alloc(BLOCK, 0x5a);
  const all = Buffer.alloc(2 * n * BLOCK, 0x5a);
  f.write(all, 0);
  for (let k = 1; k < 2 * n - 2; k += 2) f.punchHole(k * BLOCK, BLOCK);
  return { f, block };
}

export function measureScaling(counts = [1, 1000, 10000], samples = 2000): ScalingRow[] {
  const backing = createUnlinkedPmem('bench-extents', 512 * MiB);
  const pool = Pool.format(backing.path, { size: 512 * MiB });
  const rows: ScalingRow[] = [];
  try {
    for (const n of counts) {
      const { f, block } = fileWithExtents(pool, `f${n}`, n);
      if (f.stat().extents !== n) throw new Error(`expected ${n} extents, got ${f.stat().extents}`);
      // a block in the middle that is its own extent (or block 0 of the one-extent file)
      const target = n === 1 ? 0 : 2 * Math.floor(n / 2);
      const times: number[] = [];
      const bytesBefore = pool.info().journalBytesCommitted;
      for (let i = 0; i < samples; i++) {
        const t0 = now();
        f.punchHole(target * BLOCK, BLOCK);
        f.write(block, target * BLOCK);
        times.push(Number(now() - t0) / 1000);
      }
      const bytesAfter = pool.info().journalBytesCommitted;
      // many short batches: on a shared machine a batch the scheduler
      // interrupts is an outlier the median ignores
      const lookups = 500;
      const order = new Uint32Array(lookups);
      let seed = 12345;
      for (let i = 0; i < lookups; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        order[i] = 2 * ((seed >>> 8) % n);
      }
      const per: number[] = [];
      let sink = 0;
      for (let t = 0; t < 2000; t++) {
        const t0 = now();
        for (let i = 0; i < lookups; i++) sink += f.getBlock(order[i]!).poolBlock;
        per.push(Number(now() - t0) / lookups);
      }
      if (sink < 0) throw new Error('unreachable');
      rows.push({
        extents: n,
        punchRefillUs: median(times),
        getBlockNs: median(per),
        journalBytes: (bytesAfter - bytesBefore) / samples,
      });
      f.close();
    }
  } finally {
    pool.close();
    backing.close();
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of measureScaling())
    console.log(
      `${String(r.extents).padStart(6)} extents: punch+refill ${r.punchRefillUs.toFixed(1)} µs, getBlock ${r.getBlockNs.toFixed(0)} ns` +
        `, journal ${r.journalBytes.toFixed(0)} bytes`,
    );
}
