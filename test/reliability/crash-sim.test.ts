// The crash-state simulator over random workloads: every image a power
// failure could leave at every fence must mount, check clean and hold every
// acknowledged operation (the one in flight all or nothing, its bytes old or
// new), with no byte a file never had. Workload seeds: pinned ones, one
// from the commit under test, and every seed that ever failed;
// DAXFS_SIM_SEED=<seed> replays one workload alone.
import os from 'node:os';
import path from 'node:path';

import { setImmediate as yieldToLoop } from 'node:timers/promises';

import { describe as group, expect, it } from 'vitest';

import { tmpfsDir, uniquePath } from '../helpers.js';
import { Pool } from '../../lib/index.js';
import { bytesFor } from '../pool/crash-model.js';
import { checkRecording, parseTrace, record, type SimOp } from './crash-sim.js';
import { commitSeed, replaySeed } from './seeds.js';

const dir = tmpfsDir();
const WORKLOADS = Number(process.env.DAXFS_SIM_WORKLOADS ?? 8);
const OPS = Number(process.env.DAXFS_SIM_OPS ?? 40);
const SAMPLES = Number(process.env.DAXFS_SIM_SAMPLES ?? 4);
const FAIL_DIR = process.env.DAXFS_SIM_FAILURES ?? path.join(os.tmpdir(), 'daxfs-crash-failures');
const REPLAY = replaySeed('DAXFS_SIM_SEED');
/** Workload seeds that failed once (with the operation count they failed with): each runs every time. */
const REGRESSIONS: { seed: number; ops: number }[] = [];

/** Records workload `seed` and checks every crash image of it (the image sampling is seeded by it too). */
async function runWorkload(seed: number, ops: number): Promise<{ images: number; points: number; failures: string[] }> {
  const rec = record(uniquePath(dir, 'pool'), 4 << 20, seed, ops);
  const result = await checkRecording(rec, uniquePath(dir, 'image'), { samples: SAMPLES, seed, failDir: FAIL_DIR });
  return { images: result.images, points: result.crashPoints, failures: result.failures.map((f) => `workload ${seed}: ${f}`) };
}

group('crash-state simulator', () => {
  it('records stores, flushes, fences and marks in order', () => {
    const rec = record(uniquePath(dir, 'trace'), 4 << 20, 1, 3);
    const kinds = new Set(rec.events.map((e) => e.kind));
    expect(kinds).toEqual(new Set(['store', 'flush', 'fence', 'mark']));
    const marks = rec.events.filter((e) => e.kind === 'mark').map((e) => (e as { value: number }).value);
    expect(marks).toEqual([0, 1, 2, 3, 4, 5]);
    expect(() => parseTrace(Buffer.from([9]))).toThrow(/unknown event kind 9/);
  });

  it(`finds a missing fence: a store made durable without one is caught`, async () => {
    // The simulator must be able to fail: take a real recording and drop the
    // fence between the journal body and its commit word. Some image then
    // has the commit word without a valid body, and mount refuses it.
    const rec = record(uniquePath(dir, 'broken'), 4 << 20, 7, 6);
    let dropped = 0;
    const events = rec.events.filter((e, i) => {
      const next = rec.events[i + 1];
      // a fence followed by an 8-byte store (the commit word) and its flush
      if (e.kind === 'fence' && next?.kind === 'store' && next.data.length === 8 && dropped < 50) {
        dropped++;
        return false;
      }
      return true;
    });
    expect(dropped).toBeGreaterThan(0);
    const result = await checkRecording({ ...rec, events }, uniquePath(dir, 'image'), { samples: 8, seed: 3, failDir: path.join(FAIL_DIR, 'expected'), maxFailures: 1 });
    expect(result.failures.length).toBe(1);
  });

  it('appends through a kept handle (size-word stores, preallocated blocks): every crash image is consistent', async () => {
    // 8 blocks written at once, then block and byte appends: preallocation
    // kicks in from the fourth block on, and most appends commit nothing
    const appends = (state: Map<string, Buffer>, rand: (n: number) => number, seed: number) => {
      const size = state.get('log')?.length ?? 0;
      const len = size === 0 ? 8 * 4096 : size % 4096 === 0 && rand(3) > 0 ? 4096 : 1 + rand(3000);
      return { op: 'write' as const, name: 'log', pos: size, len, seed, keep: true };
    };
    const rec = record(uniquePath(dir, 'appends'), 4 << 20, 77, 40, appends);
    const sizeWordStores = rec.events.filter((e) => e.kind === 'store' && e.data.length === 8).length;
    expect(sizeWordStores).toBeGreaterThan(20); // the fast path ran
    const result = await checkRecording(rec, uniquePath(dir, 'image'), { samples: SAMPLES, seed: 9, failDir: FAIL_DIR });
    expect(result.failures).toEqual([]);
    expect(result.images).toBeGreaterThan(100);
  });

  it('edits in the middle of a multi-block extent chain (partly filled blocks, splits, merges): every crash image is consistent', async () => {
    // 'a' has 280 one-block extents (11 inline, then two extent blocks), so
    // each punch, write, zero range or allocation below rewrites one or two
    // extent blocks in the middle of the chain, with splits and merges
    const setup = (pool: Pool) => {
      const f = pool.open('a', { create: true });
      f.write(bytesFor(560 * 4096, 5), 0);
      for (let k = 1; k < 558; k += 2) f.punchHole(k * 4096, 4096);
      f.close();
    };
    const edits = (_state: Map<string, Buffer>, rand: (n: number) => number, seed: number): SimOp => {
      const off = rand(560) * 4096;
      const len = 4096 * (1 + rand(3));
      switch (rand(4)) {
        case 0:
          return { op: 'punch', name: 'a', off, len };
        case 1:
          return { op: 'write', name: 'a', pos: off, len, seed };
        case 2:
          return { op: 'zero', name: 'a', off, len };
        default:
          return { op: 'allocate', name: 'a', off, len };
      }
    };
    const rec = record(uniquePath(dir, 'chain'), 4 << 20, 31, 12, edits, setup);
    const extentBlockStores = rec.events.filter((e) => e.kind === 'store' && e.data.length === 4096).length;
    expect(extentBlockStores).toBeGreaterThan(10); // extent blocks were rewritten
    const result = await checkRecording(rec, uniquePath(dir, 'image'), { samples: SAMPLES, seed: 13, failDir: FAIL_DIR });
    expect(result.failures).toEqual([]);
    expect(result.images).toBeGreaterThan(50);
  }, 300_000);

  it('creates that grow the inode table past its fixed area (a chunk, its map block, the superblock): every crash image is consistent', async () => {
    // 63 files fill all but one slot of the fixed area (64 inodes in a 4 MiB pool); the second create grows the table
    const setup = (pool: Pool) => {
      const state = new Map<string, Buffer>();
      for (let i = 0; i < 63; i++) {
        const f = pool.open(`p${i}`, { create: true });
        f.write(Buffer.from(`p${i}`), 0);
        f.close();
        state.set(`p${i}`, Buffer.from(`p${i}`));
      }
      return state;
    };
    const creates = (state: Map<string, Buffer>, rand: (n: number) => number, seed: number): SimOp => {
      const fresh = Array.from({ length: 12 }, (_, i) => `g${i}`).filter((n) => !state.has(n));
      if (fresh.length === 0 || rand(4) === 0) return { op: 'unlink', name: [...state.keys()][rand(state.size)]! };
      return { op: 'write', name: fresh[0]!, pos: 0, len: 1 + rand(5000), seed };
    };
    const at = uniquePath(dir, 'grow');
    const rec = record(at, 4 << 20, 91, 14, creates, setup);
    const after = Pool.open(at, { readOnly: true });
    expect(after.superblock().tableChunks).toBe(1); // the workload grew the table
    after.close();
    const result = await checkRecording(rec, uniquePath(dir, 'image'), { samples: SAMPLES, seed: 91, failDir: FAIL_DIR });
    expect(result.failures).toEqual([]);
    expect(result.images).toBeGreaterThan(100);
  });

  // The pinned workloads and the commit's share the count: one in eight (at least one) is the commit's.
  const fromCommit = commitSeed('crash-sim');
  const commitWorkloads = Math.max(1, Math.ceil(WORKLOADS / 8));
  const seeds =
    REPLAY !== undefined
      ? [{ seed: REPLAY, ops: OPS, label: 'replay' }]
      : [
          ...Array.from({ length: Math.max(0, WORKLOADS - commitWorkloads) }, (_, w) => ({ seed: 1000 + w, ops: OPS, label: 'pinned' })),
          ...Array.from({ length: commitWorkloads }, (_, w) => ({ seed: fromCommit.seed + w, ops: OPS, label: fromCommit.from })),
          ...REGRESSIONS.map((r) => ({ ...r, label: 'regression' })),
        ];

  it(`${seeds.length} random workloads (${seeds.map((s) => s.seed).join(', ')}): every crash image is consistent`, async () => {
    let images = 0;
    let points = 0;
    const failures: string[] = [];
    for (const { seed, ops, label } of seeds) {
      console.log(`crash simulator: workload ${seed} (${label}), ${ops} ops — replay: DAXFS_SIM_SEED=${seed} DAXFS_SIM_OPS=${ops} DAXFS_SIM_SAMPLES=${SAMPLES}`);
      const result = await runWorkload(seed, ops);
      images += result.images;
      points += result.points;
      failures.push(...result.failures);
      if (failures.length > 0) break;
      await yieldToLoop(); // long synchronous stretches starve the test runner's RPC
    }
    console.log(`crash simulator: ${seeds.length} workloads, ${points} crash points, ${images} images mounted and checked`);
    expect(failures).toEqual([]);
    expect(images).toBeGreaterThanOrEqual(seeds.reduce((n, s) => n + s.ops, 0));
  }, 600_000);
});
