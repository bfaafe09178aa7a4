// Child processes for the mapping scenarios that end in a signal:
//   store <pool> <offset> <text>  map a hole, store through the buffer
//                                  directly, persist, say DONE, wait to be killed
//   stale <pool>                   hold a view of a mapped file, let another
//                                  handle truncate it and reuse its blocks,
//                                  then load through the stale view
import { writeSync } from 'node:fs';

import { Pool } from '../../lib/index.js';

const [mode, path, ...rest] = process.argv.slice(2);
const say = (line: string) => writeSync(1, `${line}\n`);

if (mode === 'store') {
  const offset = Number(rest[0]);
  const bytes = Buffer.from(rest[1]!);
  const pool = Pool.open(path!);
  const f = pool.open('crash', { create: true });
  f.truncate(offset + bytes.length);
  const m = f.map({ length: offset + bytes.length, write: true });
  // The fault returns once the allocation is durable; then plain stores.
  const view = m.view(offset, bytes.length, { write: true });
  for (let i = 0; i < bytes.length; i++) view[i] = bytes[i]!;
  m.persist(offset, bytes.length);
  say('DONE');
  setInterval(() => {}, 1000); // no sync, no close: the parent kills us
} else if (mode === 'stale') {
  const pool = Pool.open(path!);
  const a = pool.open('victim');
  const m = a.map({ length: 1 << 20 });
  const view = m.view(0, 1 << 20);
  say(`BEFORE ${view[0]}`);
  const filler = pool.open('filler', { create: true });
  filler.write(Buffer.alloc((pool.info().freeBlocks - 8) * 4096, 0x46), 0); // a full pool
  const victimBlocks = new Set<number>();
  for (let i = 0; i < 256; i++) victimBlocks.add(a.getBlock(i).poolBlock);
  const b = pool.open('victim');
  b.truncate(0);
  const c = pool.open('thief', { create: true });
  c.write(Buffer.alloc(1 << 20, 0x53), 0); // 'S'ecret bytes in the freed blocks
  let reused = 0;
  for (let i = 0; i < 256; i++) if (victimBlocks.has(c.getBlock(i).poolBlock)) reused++;
  say(`REUSED ${reused}`);
  say(`STATES ${m.pageStates(0, 8192).join(',')}`);
  // A load through the stale view: the page is torn down, so this must
  // kill the process rather than return the thief's bytes.
  say(`LOADED ${view[0]}`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
