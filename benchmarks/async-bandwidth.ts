// Asynchronous 1 MiB transfers against the synchronous path, on one file of
// one pool, in the same run: a loop of write() (read()) of 1 MiB over a
// 32 MiB file, against the same bytes moved by
// writeAsync (readAsync) with `depth` requests in flight, each lane with a
// buffer of its own (the synchronous loop takes the same buffers in turn).
// Trials alternate the sides; each side's figure is the median of its
// trials, and its best trial (on a shared machine, the least disturbed one). Run: node dist/benchmarks/async-bandwidth.js
// [trials] [--per-lane] (--per-lane: each lane writes a file of its own).
import { fileURLToPath } from 'node:url';

import { createUnlinkedPmem } from '../lib/emulated.js';
import type { PoolFile } from '../lib/pool/file.js';
import { Pool } from '../lib/pool/pool.js';
import { median, now } from './measure.js';

const MiB = 1 << 20;
const FILE = 32 * MiB;
/** Passes over the file per trial. */
const PASSES = 1;

/** FILE bytes in 1 MiB calls, through the same buffers the asynchronous lanes use, in turn (the same cache footprint). */
function syncPass(f: PoolFile, bufs: Buffer[], write: boolean): number {
  const t = now();
  for (let pass = 0; pass < PASSES; pass++) {
    for (let at = 0, k = 0; at < FILE; at += MiB, k++) {
      const buf = bufs[k % bufs.length]!;
      if (write) f.write(buf, at);
      else f.read(buf, at);
    }
  }
  return Number(now() - t);
}

/**
 * FILE bytes in 1 MiB requests, `depth` in flight at a time (each on its own
 * buffer); lane k uses files[k % files.length] (one file for all, or one each).
 */
async function asyncPass(files: PoolFile[], bufs: Buffer[], write: boolean): Promise<number> {
  const t = now();
  let next = 0;
  const lane = async (buf: Buffer, k: number) => {
    const f = files[k % files.length]!;
    while (next < PASSES * FILE) {
      const at = next % FILE;
      next += MiB;
      if (write) await f.writeAsync(buf, at);
      else await f.readAsync(buf, at);
    }
  };
  await Promise.all(bufs.map(lane));
  return Number(now() - t);
}

export interface AsyncRow {
  op: 'write' | 'read';
  depth: number;
  syncMiBs: number;
  asyncMiBs: number;
  ratio: number;
  bestSyncMiBs: number;
  bestAsyncMiBs: number;
  bestRatio: number;
}

/** With `perLane`, each request lane has a file of its own (the same 32 MiB each). */
export async function runAsyncBandwidth(trials = 7, depths = [1, 2, 4], perLane = false): Promise<AsyncRow[]> {
  const backing = createUnlinkedPmem('bench-async', 256 * MiB);
  const pool = Pool.format(backing.path, { size: 256 * MiB, zeroAll: true });
  const rows: AsyncRow[] = [];
  try {
    const fill = Buffer.alloc(MiB, 0x5a);
    const files = Array.from({ length: perLane ? Math.max(...depths) : 1 }, (_, k) => {
      const g = pool.open(`data${k}`, { create: true });
      for (let at = 0; at < FILE; at += MiB) g.write(fill, at);
      return g;
    });
    const f = files[0]!;
    const bufs = Array.from({ length: Math.max(...depths) }, (_, k) => Buffer.alloc(MiB, k + 1));
    for (const op of ['write', 'read'] as const) {
      for (const depth of depths) {
        const sync: number[] = [];
        const async: number[] = [];
        syncPass(f, bufs.slice(0, depth), op === 'write'); // warm both paths
        await asyncPass(files, bufs.slice(0, depth), op === 'write');
        for (let t = 0; t < trials; t++) {
          sync.push(syncPass(f, bufs.slice(0, depth), op === 'write'));
          async.push(await asyncPass(files, bufs.slice(0, depth), op === 'write'));
        }
        const s = median(sync);
        const a = median(async);
        const bytes = (PASSES * FILE) / MiB;
        const bs = Math.min(...sync);
        const ba = Math.min(...async);
        rows.push({
          op,
          depth,
          syncMiBs: bytes / (s / 1e9),
          asyncMiBs: bytes / (a / 1e9),
          ratio: s / a,
          bestSyncMiBs: bytes / (bs / 1e9),
          bestAsyncMiBs: bytes / (ba / 1e9),
          bestRatio: bs / ba,
        });
      }
    }
    for (const g of files) g.close();
  } finally {
    pool.close();
    backing.close();
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const trials = Number(process.argv[2] ?? 7);
  const perLane = process.argv.includes('--per-lane');
  console.log(`${perLane ? 'a file per lane' : 'one file'}, median of ${trials} trials`);
  const rows = await runAsyncBandwidth(trials, [1, 2, 4], perLane);
  for (const r of rows)
    console.log(
      `${r.op.padEnd(5)} depth ${r.depth}: median sync ${r.syncMiBs.toFixed(0)} MiB/s, async ${r.asyncMiBs.toFixed(0)} MiB/s, ratio ${r.ratio.toFixed(2)}; ` +
        `best sync ${r.bestSyncMiBs.toFixed(0)}, async ${r.bestAsyncMiBs.toFixed(0)}, ratio ${r.bestRatio.toFixed(2)}`,
    );
}
