// Crash test: a child process runs random metadata and data operations on a
// pool, reporting each one before (BEGIN) and after (ACK) it, and is killed
// with SIGKILL at a random moment. The parent then mounts the pool (journal
// replay), requires check() to be clean, and requires the files to be in a
// state the acknowledged operations allow: everything acknowledged is there,
// and the one operation in flight is either absent or present (its data may
// be torn byte by byte: in-place DAX writes are not atomic, metadata is).
// Seeds: a pinned one and one from the commit under test share the rounds;
// DAXFS_CRASH_SEED=<seed> replays one seed's operations (the kill moments
// are timing, not seed: they differ from run to run).
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { packageRoot } from '../../lib/native.js';
import { commitSeed, replaySeed } from '../reliability/seeds.js';
import { apply, readState, rng, verifyState, type Op, type State } from './crash-model.js';
import { runUntilKilled } from '../helpers.js';
import { newPool } from './helpers.js';

const ROUNDS = Number(process.env['DAXFS_CRASH_ROUNDS'] ?? 100);
const REPLAY = replaySeed('DAXFS_CRASH_SEED');
/** Seeds that failed once: each runs every time, for the rounds it failed in. */
const REGRESSIONS: { seed: number; rounds: number }[] = [];
const CHILD = path.join(packageRoot, 'dist/test/pool/crash-child.js');

interface Round {
  acked: { op: Op; written?: number }[];
  inFlight: Op | undefined;
}

async function runChild(poolPath: string, seed: number, killAfterMs: number): Promise<Round> {
  const out = await runUntilKilled([CHILD, poolPath, String(seed)], killAfterMs);
  const round: Round = { acked: [], inFlight: undefined };
  for (const line of out.split('\n')) {
    if (line.startsWith('BEGIN ')) round.inFlight = JSON.parse(line.slice(6)) as Op;
    else if (line.startsWith('ACK ')) {
      const { written } = JSON.parse(line.slice(4)) as { written?: number };
      round.acked.push({ op: round.inFlight!, written });
      round.inFlight = undefined;
    }
  }
  return round;
}

/** `rounds` kill rounds on a fresh pool: round r's child runs the operations of seed + r. */
async function runSeed(seed: number, rounds: number, label: string): Promise<{ acked: number; inFlight: number }> {
  console.log(`crash test: seed ${seed} (${label}), ${rounds} rounds — replay: DAXFS_CRASH_SEED=${seed} DAXFS_CRASH_ROUNDS=${rounds}`);
  const { pool, path: poolPath } = newPool(8 << 20);
  pool.close();
  let model: State = new Map();
  // the kill moments: xorshift from a small seed starts with small numbers (kills before the first operation)
  const rand = rng((seed ^ 0x9e3779b9) >>> 0);
  let totalAcked = 0;
  let inFlightRounds = 0;
  for (let round = 0; round < rounds; round++) {
    const result = await runChild(poolPath, seed + round, 5 + rand(60));
    let acked = model;
    for (const a of result.acked) acked = apply(acked, a.op, a.written);
    totalAcked += result.acked.length;
    if (result.inFlight) inFlightRounds++;
    const mounted = Pool.open(poolPath);
    const report = mounted.check();
    expect(report.problems, `seed ${seed}, round ${round}`).toEqual([]);
    const actual = readState(mounted);
    mounted.close();
    const problem = verifyState(actual, acked, result.inFlight);
    expect(problem, `seed ${seed}, round ${round}, in flight: ${JSON.stringify(result.inFlight)}`).toBeNull();
    model = actual;
  }
  console.log(`crash test: seed ${seed}: ${rounds} rounds, ${totalAcked} acknowledged operations, ${inFlightRounds} kills during an operation`);
  return { acked: totalAcked, inFlight: inFlightRounds };
}

describe('crash consistency under SIGKILL', () => {
  const half = Math.ceil(ROUNDS / 2);
  const fromCommit = commitSeed('crash');
  const seeds =
    REPLAY !== undefined
      ? [{ seed: REPLAY, rounds: ROUNDS, label: 'replay' }]
      : [{ seed: 1, rounds: half, label: 'pinned' }, { seed: fromCommit.seed, rounds: half, label: fromCommit.from }, ...REGRESSIONS.map((r) => ({ ...r, label: 'regression' }))];
  const rounds = seeds.reduce((n, s) => n + s.rounds, 0);
  it(`seeds ${seeds.map((s) => `${s.seed} (${s.label})`).join(', ')}: ${rounds} kill rounds: mount, clean check, every acknowledged operation intact`, async () => {
    let acked = 0;
    let inFlight = 0;
    for (const s of seeds) {
      const result = await runSeed(s.seed, s.rounds, s.label);
      acked += result.acked;
      inFlight += result.inFlight;
    }
    // the test exercised something (over all rounds: how many kills land mid-operation is timing)
    expect(acked).toBeGreaterThan(rounds);
    expect(inFlight).toBeGreaterThan(rounds / 2);
  }, 600_000);
});
