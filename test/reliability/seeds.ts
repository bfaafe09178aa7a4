// Seeds of the random tests. Each runs its pinned seeds (fixed ground, and
// every seed that ever failed) and one derived from the commit under test:
// the same commit always gets the same seed, so a rerun is not flaky, and
// every new commit explores new ground. A seed given in the test's
// environment variable replays that seed alone. Every run prints its seeds.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';

import { packageRoot } from '../../lib/native.js';

/** Used when git (or the repository) is not there: a fixed seed, with a printed note. */
const NO_GIT_SEED = 20261219;

let head: string | null | undefined;

/** The commit under test, or null without git. */
export function commitUnderTest(): string | null {
  if (head !== undefined) return head;
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    head = /^[0-9a-f]{40,64}$/.test(out) ? out : null;
  } catch {
    head = null;
  }
  return head;
}

/** A seed (below 2^31) for test `name` from the commit under test; the same commit gives the same seed. */
export function commitSeed(name: string): { seed: number; from: string } {
  const commit = commitUnderTest();
  if (commit === null) {
    console.log(`note: git rev-parse HEAD failed here (no git, or not a repository): ${name} uses the fixed seed ${NO_GIT_SEED} instead of one derived from the commit`);
    return { seed: NO_GIT_SEED, from: 'fixed: no commit' };
  }
  const seed = createHash('sha256').update(`${commit}:${name}`).digest().readUInt32LE(0) & 0x7fffffff;
  return { seed, from: `commit ${commit.slice(0, 12)}` };
}

/** The seed in environment variable `name`, when set: a replay of that seed alone. */
export function replaySeed(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${name} must be a non-negative integer seed, got '${raw}'`);
  return seed;
}
