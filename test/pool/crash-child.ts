// The crash test's child: performs random operations on a pool forever,
// printing BEGIN before and ACK after each, until the parent kills it.
import { writeSync } from 'node:fs';

import { Pool } from '../../lib/index.js';
import { apply, randomOp, readState, rng, runOp, type State } from './crash-model.js';

const [path, seedText] = process.argv.slice(2);
const seed = Number(seedText);
const pool = Pool.open(path!);
const state: State = readState(pool);
const rand = rng(seed);
const say = (line: string) => writeSync(1, `${line}\n`);
say('READY');
for (let i = 0; ; i++) {
  const op = randomOp(state, rand, seed * 100_000 + i);
  say(`BEGIN ${JSON.stringify(op)}`);
  const written = runOp(pool, op);
  // keep the child's own view in step, as the parent's model does
  const next = apply(state, op, written);
  state.clear();
  for (const [k, v] of next) state.set(k, v);
  say(`ACK ${JSON.stringify({ written })}`);
}
