// The crash test's child: performs random operations on a pool forever,
// printing BEGIN before and ACK after each, until the parent kills it.
import { writeSync } from 'node:fs';

import { Pool } from '../../lib/index.js';
import { apply, bytesFor, randomOp, readState, rng, type State } from './crash-model.js';

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
  let written: number | undefined;
  switch (op.op) {
    case 'write': {
      const f = pool.open(op.name, { create: true });
      written = f.write(bytesFor(op.len, op.seed), op.pos);
      f.close();
      break;
    }
    case 'truncate': {
      const f = pool.open(op.name, { create: true });
      f.truncate(op.size);
      f.close();
      break;
    }
    case 'allocate':
    case 'punch':
    case 'zero': {
      const f = pool.open(op.name);
      if (op.op === 'allocate') f.allocate(op.off, op.len);
      else if (op.op === 'punch') f.punchHole(op.off, op.len);
      else f.zeroRange(op.off, op.len);
      f.close();
      break;
    }
    case 'unlink':
      pool.unlink(op.name);
      break;
    case 'rename':
      pool.rename(op.from, op.to);
      break;
    case 'orphanWrite': {
      const f = pool.open(op.name);
      pool.unlink(op.name);
      f.write(bytesFor(4096 * 3, op.seed), 100);
      f.close();
      break;
    }
  }
  // keep the child's own view in step, as the parent's model does
  const next = apply(state, op, written);
  state.clear();
  for (const [k, v] of next) state.set(k, v);
  say(`ACK ${JSON.stringify({ written })}`);
}
