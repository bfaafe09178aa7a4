import { rmSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import fc from 'fast-check';
import { describe as group, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { tmpfsDir, uniquePath } from '../helpers.js';
import { commands, expectedErrors, type Model, type Real } from './model.js';
import { commitSeed, replaySeed } from './seeds.js';

const dir = tmpfsDir();
/** Operations per seed run (the pinned seed and the commit's share them); a replay runs this many of its seed. */
const TARGET = Number(process.env.DAXFS_MODEL_OPS ?? 100_000);
const REPLAY = replaySeed('DAXFS_MODEL_SEED');
/** verifyMappings() and check() after every this many operations: every one in CI, fewer in long runs. */
const CHECK_EVERY = Number(process.env.DAXFS_MODEL_CHECK_EVERY ?? 1);
if (!Number.isSafeInteger(CHECK_EVERY) || CHECK_EVERY < 1) throw new Error(`DAXFS_MODEL_CHECK_EVERY must be a whole number of operations (at least 1), got '${process.env.DAXFS_MODEL_CHECK_EVERY}'`);

/**
 * Seeds that failed once, replayed on every run with the operation count
 * they failed with. `known`: a bug not fixed yet — the case is expected to
 * fail (it.fails), and passes again only when the bug is gone.
 */
const REGRESSIONS: { seed: number; ops: number; known?: string }[] = [
  // file.write from a mapping of the same file overlapping the destination smeared the data
  // (source and destination alias the same blocks at other addresses)
  { seed: 20261218, ops: 1 },
  // the same through a private mapping across two extents (one native copy per extent)
  { seed: 1687599416, ops: 1 },
  // zeroRange(offset past EOF, 0): the model grew the file, the pool changes nothing (the model was wrong)
  { seed: 1734191999, ops: 1 },
];

/** Runs rounds of 20 fast-check runs from `seed` (round r uses seed + r) until `target` operations ran. */
async function runSeed(seed: number, target: number, label: string): Promise<number> {
  const counter = { ops: 0, byKind: new Map<string, number>(), errors: 0 };
  const errorsBefore = expectedErrors.count;
  let runs = 0;
  console.log(`model test: seed ${seed} (${label}), ${target} operations — replay: DAXFS_MODEL_SEED=${seed} DAXFS_MODEL_OPS=${target}`);
  for (let round = 0; counter.ops < target; round++) {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 400, size: 'max' }), (cmds) => {
        runs++;
        const path = uniquePath(dir, 'model');
        const real: Real = { pool: Pool.format(path, { size: 8 << 20 }), path, mappings: [], handles: new Map() };
        try {
          fc.modelRun(() => ({ model: { files: new Map(), mappings: [], counter, checkEvery: CHECK_EVERY } satisfies Model, real }), cmds);
        } finally {
          real.pool.close();
          rmSync(path, { force: true }); // a pool is reserved space: thousands of runs would fill the tmpfs
        }
      }),
      { numRuns: 20, seed: seed + round, endOnFailure: false },
    );
    await yieldToLoop(); // keep the test runner's RPC alive
  }
  console.log(`model test: seed ${seed}: ${counter.ops} operations in ${runs} runs, ${expectedErrors.count - errorsBefore} of them the expected typed errors\n  ${[...counter.byKind].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return counter.ops;
}

group('model-based random testing (fast-check)', () => {
  if (REPLAY !== undefined) {
    it(`replays seed ${REPLAY} (DAXFS_MODEL_SEED) for ${TARGET} operations`, async () => {
      expect(await runSeed(REPLAY, TARGET, 'replay')).toBeGreaterThanOrEqual(TARGET);
    }, 900_000);
    return;
  }

  // The pinned seed and the commit's seed split the operations: CI time stays what one seed took.
  const half = Math.ceil(TARGET / 2);
  it(`pinned seed 20261125: ${half} random operations against the model, comparing after every step`, async () => {
    expect(await runSeed(20261125, half, 'pinned')).toBeGreaterThanOrEqual(half);
  }, 900_000);

  const fromCommit = commitSeed('model');
  it(`seed ${fromCommit.seed} from the ${fromCommit.from}: ${half} more operations on new ground`, async () => {
    expect(await runSeed(fromCommit.seed, half, fromCommit.from)).toBeGreaterThanOrEqual(half);
  }, 900_000);

  for (const r of REGRESSIONS) {
    const name = `regression seed ${r.seed} (${r.ops} operations)${r.known ? `: expected to fail until fixed — ${r.known}` : ''}`;
    (r.known ? it.fails : it)(name, async () => {
      expect(await runSeed(r.seed, r.ops, 'regression')).toBeGreaterThanOrEqual(r.ops);
    }, 900_000);
  }
});
