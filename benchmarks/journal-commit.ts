// The cost of one journal commit: a 3-record transaction (an inode-sized
// record, a bitmap word, a 64-byte record) committed 1000 times on a region
// in tmpfs; prints the median time per commit, and the region's persist
// counters per commit. Run: npx vite-node benchmarks/journal-commit.ts
import { rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Region } from '../lib/region.js';
import { Journal, type JournalRecord } from '../lib/pool/journal.js';
import { BLOCK } from '../lib/pool/layout.js';

const COMMITS = 1000;
const ROUNDS = 5;
const dir = existsDir('/dev/shm') ? '/dev/shm' : os.tmpdir();
const file = path.join(dir, `daxfs-journal-commit-${process.pid}`);

function existsDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const region = Region.create(file, 4 << 20);
try {
  const journal = new Journal(region, 2, 8);
  const meta = 16 * BLOCK;
  const records: JournalRecord[] = [
    { offset: meta + 256, data: Buffer.alloc(256, 1) },
    { offset: meta + 8 * BLOCK, data: Buffer.alloc(8, 2) },
    { offset: meta + 12 * BLOCK + 64, data: Buffer.alloc(64, 3) },
  ];
  for (let i = 0; i < 200; i++) journal.commit(records); // warm-up
  const medians: number[] = [];
  const before = region.stats();
  for (let round = 0; round < ROUNDS; round++) {
    const times = new Float64Array(COMMITS);
    for (let i = 0; i < COMMITS; i++) {
      const t0 = process.hrtime.bigint();
      journal.commit(records);
      times[i] = Number(process.hrtime.bigint() - t0);
    }
    times.sort();
    medians.push(times[COMMITS / 2]!);
  }
  const after = region.stats();
  const per = (k: 'fences' | 'flushCalls' | 'persistCalls') => (after[k] - before[k]) / (ROUNDS * COMMITS);
  medians.sort((a, b) => a - b);
  console.log(`persistence: ${region.capabilities.persistence}; ${ROUNDS} rounds of ${COMMITS} commits of 3 records`);
  console.log(`median per commit (ns), per round: ${medians.map((m) => m.toFixed(0)).join(' ')}; median of rounds ${medians[Math.floor(ROUNDS / 2)]!.toFixed(0)}`);
  console.log(`per commit: fences ${per('fences')}, flush calls ${per('flushCalls')}, persist calls ${per('persistCalls')}`);
} finally {
  region.close();
  rmSync(file, { force: true });
}
