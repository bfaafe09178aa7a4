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
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { packageRoot } from '../../lib/native.js';
import { commitSeed, replaySeed } from '../reliability/seeds.js';
import { apply, readState, rng, verifyState, type Op, type State } from './crash-model.js';
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

function runChild(poolPath: string, seed: number, killAfterMs: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, poolPath, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (timer === undefined && out.includes('READY\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`child ended with ${code} ${signal}: ${err}`));
      const round: Round = { acked: [], inFlight: undefined };
      for (const line of out.split('\n')) {
        if (line.startsWith('BEGIN ')) round.inFlight = JSON.parse(line.slice(6)) as Op;
        else if (line.startsWith('ACK ')) {
          const { written } = JSON.parse(line.slice(4)) as { written?: number };
          round.acked.push({ op: round.inFlight!, written });
          round.inFlight = undefined;
        }
      }
      resolve(round);
    });
  });
}

/** `rounds` kill rounds on a fresh pool: round r's child runs the operations of seed + r. */
async function runSeed(seed: number, rounds: number, label: string): Promise<void> {
  console.log(`crash test: seed ${seed} (${label}), ${rounds} rounds — replay: DAXFS_CRASH_SEED=${seed} DAXFS_CRASH_ROUNDS=${rounds}`);
  const { pool, path: poolPath } = newPool(8 << 20);
  pool.close();
  let model: State = new Map();
  const rand = rng(seed);
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
  // the test exercised something
  expect(totalAcked).toBeGreaterThan(rounds);
  expect(inFlightRounds).toBeGreaterThan(rounds / 2);
  console.log(`crash test: seed ${seed}: ${rounds} rounds, ${totalAcked} acknowledged operations, ${inFlightRounds} kills during an operation`);
}

describe('crash consistency under SIGKILL', () => {
  if (REPLAY !== undefined) {
    it(`replays seed ${REPLAY} (DAXFS_CRASH_SEED): ${ROUNDS} kill rounds`, () => runSeed(REPLAY, ROUNDS, 'replay'), 600_000);
    return;
  }
  const half = Math.ceil(ROUNDS / 2);
  it(`pinned seed 1: ${half} kill rounds: mount, clean check, every acknowledged operation intact`, () => runSeed(1, half, 'pinned'), 600_000);
  const fromCommit = commitSeed('crash');
  it(`seed ${fromCommit.seed} from the ${fromCommit.from}: ${half} more kill rounds`, () => runSeed(fromCommit.seed, half, fromCommit.from), 600_000);
  for (const r of REGRESSIONS) it(`regression seed ${r.seed}: ${r.rounds} kill rounds`, () => runSeed(r.seed, r.rounds, 'regression'), 600_000);
});
