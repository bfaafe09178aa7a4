// Crash test for asynchronous writes: a child keeps allocating writeAsync
// calls in flight on one file (two disjoint ones together, a third queued
// behind one of them) and is killed with SIGKILL at a random moment. The
// pool must then mount clean, every acknowledged batch must be there
// exactly, and what was in flight must be either absent (a hole) or present
// — new blocks become visible only by the commit after their data — except
// the queued overwrite, which may be torn over the blocks it overwrote.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { packageRoot } from '../../lib/native.js';
import { half } from './async-crash-model.js';
import { newPool } from './helpers.js';

const CHILD = path.join(packageRoot, 'dist/test/pool/async-crash-child.js');
const MiB = 2 ** 20;
const HALF = MiB / 2;

/** Runs the child until `acks` batches are acknowledged (and `extraMs` more), kills it; returns the acknowledged count. */
function runChild(poolPath: string, acks: number, extraMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, poolPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const count = (out.match(/^ACK /gm) ?? []).length;
      if (!armed && out.includes('READY\n') && (count >= acks || out.includes('DONE'))) {
        armed = true;
        if (extraMs === 0) child.kill('SIGKILL');
        else setTimeout(() => child.kill('SIGKILL'), extraMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child ended with ${code} ${signal}: ${err}`));
      resolve((out.match(/^ACK /gm) ?? []).length);
    });
  });
}

/** Whether every 4-byte word of `got` is the word of `a` or of `b` there (a torn overwrite of a by b). */
function wordsFrom(got: Buffer, a: Buffer, b: Buffer): boolean {
  for (let i = 0; i < got.length; i += 4) {
    const w = got.readUInt32LE(i);
    if (w !== a.readUInt32LE(i) && w !== b.readUInt32LE(i)) return false;
  }
  return true;
}

describe('crash during asynchronous writes', () => {
  it('SIGKILL with allocating writeAsync calls in flight: clean mount, acknowledged batches exact, the rest absent or whole', async () => {
    const zeros = Buffer.alloc(HALF);
    let inFlightSeen = 0;
    for (let round = 0; round < 6; round++) {
      const { pool, path: poolPath } = newPool(64 * MiB);
      const f = pool.open('f', { create: true });
      f.truncate(48 * MiB);
      f.close();
      pool.close();
      const acked = await runChild(poolPath, round % 3, round < 3 ? 0 : 2 * round);
      const again = Pool.open(poolPath);
      expect(again.check().ok).toBe(true);
      const g = again.open('f');
      expect(g.size).toBe(48 * MiB);
      const got = Buffer.alloc(HALF);
      for (let k = 0; k < 48; k++) {
        g.read(got, k * MiB);
        const first = Buffer.from(got);
        g.read(got, k * MiB + HALF);
        const second = got;
        if (k < acked) {
          expect(first.equals(half(k, 2)), `batch ${k} first half`).toBe(true);
          expect(second.equals(half(k, 1)), `batch ${k} second half`).toBe(true);
          continue;
        }
        expect(second.equals(zeros) || second.equals(half(k, 1)), `batch ${k} second half`).toBe(true);
        const whole = first.equals(zeros) || first.equals(half(k, 0)) || first.equals(half(k, 2));
        expect(whole || wordsFrom(first, half(k, 0), half(k, 2)), `batch ${k} first half`).toBe(true);
        if (k > acked) {
          expect(first.equals(zeros) && second.equals(zeros), `batch ${k} was never started`).toBe(true);
        } else if (!first.equals(zeros) || !second.equals(zeros)) inFlightSeen++;
      }
      again.close();
    }
    console.log(`async crash test: 6 rounds, ${inFlightSeen} with part of the in-flight batch committed`);
  });
});
