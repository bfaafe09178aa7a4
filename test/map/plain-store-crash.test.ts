// Plain stores + persist + SIGKILL, many rounds: a child stores stamps into
// a shared writable mapping with plain stores only (holes filled by the
// fault service, adopted by the pool), persists each and acknowledges it,
// with unpersisted stores into other holes in between, and is killed at a
// random moment. Every persisted stamp and its block must survive the
// remount, the one in flight may or may not, and check() must be clean:
// blocks taken for stores that were never adopted are free again.
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { packageRoot } from '../../lib/native.js';
import { rng } from '../pool/crash-model.js';
import { runUntilKilled } from '../helpers.js';
import { newPool } from '../pool/helpers.js';
import { commitSeed } from '../reliability/seeds.js';

const ROUNDS = Number(process.env['DAXFS_PLAIN_CRASH_ROUNDS'] ?? 24);
const CHILD = path.join(packageRoot, 'dist/test/map/plain-store-crash-child.js');
const PAGE = 4096;
const STAMP_PAGES = 1024;
const SLOTS = PAGE / 8;

interface Stamp {
  page: number;
  slot: number;
  stamp: number;
}

async function runChild(poolPath: string, seed: number, killAfterMs: number): Promise<{ acked: Stamp[]; inFlight: Stamp | undefined }> {
  const out = await runUntilKilled([CHILD, poolPath, String(seed)], killAfterMs);
  const acked: Stamp[] = [];
  let inFlight: Stamp | undefined;
  for (const line of out.split('\n')) {
    const [word, page, slot, stamp] = line.split(' ');
    if (word !== 'BEGIN' && word !== 'ACK') continue;
    const s = { page: Number(page), slot: Number(slot), stamp: Number(stamp) };
    if (word === 'BEGIN') inFlight = s;
    else {
      acked.push(s);
      inFlight = undefined;
    }
  }
  return { acked, inFlight };
}

describe('plain stores under SIGKILL', () => {
  const seed = commitSeed('plain-store-crash').seed;
  it(`seed ${seed}: ${ROUNDS} kill rounds: every persisted stamp and its block survive, check() is clean`, async () => {
    const { pool, path: poolPath } = newPool(16 << 20);
    const f = pool.open('f', { create: true });
    f.truncate(2 * STAMP_PAGES * PAGE);
    f.close();
    pool.close();
    const expected = new Map<number, number>(); // word index → stamp
    const rand = rng((seed ^ 0x5bd1e995) >>> 0);
    let acked = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const result = await runChild(poolPath, seed + round, 20 + rand(120));
      for (const s of result.acked) expected.set(s.page * SLOTS + s.slot, s.stamp);
      acked += result.acked.length;
      const mounted = Pool.open(poolPath);
      expect(mounted.check().problems, `round ${round}`).toEqual([]);
      const file = mounted.open('f');
      const half = Buffer.alloc(STAMP_PAGES * PAGE);
      file.read(half, 0);
      const words = new Float64Array(half.buffer, half.byteOffset, half.length / 8);
      const inFlight = result.inFlight ? result.inFlight.page * SLOTS + result.inFlight.slot : -1;
      for (const [index, stamp] of expected) {
        if (index === inFlight && words[index] === result.inFlight!.stamp) continue;
        expect(words[index], `round ${round}: word ${index}`).toBe(stamp);
      }
      if (result.inFlight && words[inFlight] === result.inFlight.stamp) expected.set(inFlight, result.inFlight.stamp);
      // every stamped page is allocated (the adoption of its block was durable)
      for (const index of expected.keys()) expect(file.getBlock(Math.floor(index / SLOTS)).mapped).toBe(true);
      file.close();
      mounted.close();
    }
    expect(acked).toBeGreaterThan(ROUNDS);
  }, 300_000);
});
