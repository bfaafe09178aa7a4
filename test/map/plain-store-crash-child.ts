// The plain-store crash test's child: stores stamps through a shared
// writable mapping with nothing but plain stores, persists each one and says
// ACK, and between them stores unpersisted bytes into other holes (their
// blocks may or may not have been adopted when the parent kills it).
import { writeSync } from 'node:fs';

import { Pool } from '../../lib/index.js';
import { rng } from '../pool/crash-model.js';

const PAGE = 4096;
const STAMP_PAGES = 1024; // first half of the file: persisted stamps
const SLOTS = PAGE / 8;

const [path, seedText] = process.argv.slice(2);
const seed = Number(seedText);
const pool = Pool.open(path!);
const f = pool.open('f');
const m = f.map({ length: f.size, write: true });
const words = new Float64Array(m.buffer);
const bytes = new Uint8Array(m.buffer);
const rand = rng(seed);
const say = (line: string) => writeSync(1, `${line}\n`);
say('READY');
for (let i = 1; ; i++) {
  const page = rand(STAMP_PAGES);
  const slot = rand(SLOTS);
  const stamp = seed * 1_000_000 + i;
  say(`BEGIN ${page} ${slot} ${stamp}`);
  words[page * SLOTS + slot] = stamp;
  m.persist((page * SLOTS + slot) * 8, 8);
  say(`ACK ${page} ${slot} ${stamp}`);
  // unpersisted stores into the second half: no promise, but no leak either
  const other = STAMP_PAGES + rand(STAMP_PAGES);
  bytes[other * PAGE + rand(PAGE)] = 1 + rand(255);
}
