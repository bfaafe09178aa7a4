// The asynchronous crash test's child: on file 'f' (48 MiB of holes), batch
// k writes MiB k as two concurrent writeAsync halves (both allocate), and
// one more writeAsync over the first half queues behind the first; it
// prints ACK k once all three settled, until the parent kills it.
import { writeSync } from 'node:fs';

import { Pool } from '../../lib/index.js';
import { half } from './async-crash-model.js';

const pool = Pool.open(process.argv[2]!);
const f = pool.open('f');
writeSync(1, 'READY\n');
for (let k = 0; k < 48; k++) {
  await Promise.all([f.writeAsync(half(k, 0), k * 2 ** 20), f.writeAsync(half(k, 1), k * 2 ** 20 + 2 ** 19), f.writeAsync(half(k, 2), k * 2 ** 20)]);
  writeSync(1, `ACK ${k}\n`);
}
writeSync(1, 'DONE\n');
await new Promise(() => setInterval(() => {}, 1000)); // wait for the kill
