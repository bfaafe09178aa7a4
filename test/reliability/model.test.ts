import { setImmediate as yieldToLoop } from 'node:timers/promises';

import fc from 'fast-check';
import { describe as group, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { tmpfsDir, uniquePath } from '../helpers.js';
import { commands, expectedErrors, type Model, type Real } from './model.js';

const dir = tmpfsDir();
const TARGET = Number(process.env.DAXFS_MODEL_OPS ?? 100_000);
const SEED = Number(process.env.DAXFS_MODEL_SEED ?? 20261125);

group('model-based random testing (fast-check)', () => {
  it(`runs at least ${TARGET} random operations against the model, comparing after every step`, async () => {
    const counter = { ops: 0, byKind: new Map<string, number>(), errors: 0 };
    let runs = 0;
    for (let round = 0; counter.ops < TARGET; round++) {
      fc.assert(
        fc.property(fc.commands(commands, { maxCommands: 400, size: 'max' }), (cmds) => {
          runs++;
          const path = uniquePath(dir, 'model');
          const real: Real = { pool: Pool.format(path, { size: 8 << 20 }), path, mappings: [], handles: new Map() };
          try {
            fc.modelRun(() => ({ model: { files: new Map(), mappings: [], counter } satisfies Model, real }), cmds);
          } finally {
            real.pool.close();
          }
        }),
        { numRuns: 20, seed: SEED + round, endOnFailure: false },
      );
      await yieldToLoop(); // keep the test runner's RPC alive
    }
    console.log(`model test: ${counter.ops} operations in ${runs} runs, ${expectedErrors.count} of them the expected typed errors\n  ${[...counter.byKind].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
    expect(counter.ops).toBeGreaterThanOrEqual(TARGET);
  }, 900_000);
});
