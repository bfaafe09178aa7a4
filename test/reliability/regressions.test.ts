// Bugs the reliability tests found, each kept as a named test.
import os from 'node:os';
import path from 'node:path';

import { describe as group, expect, it } from 'vitest';

import { tmpfsDir, uniquePath } from '../helpers.js';
import { checkRecording, crashPoints, record } from './crash-sim.js';

const dir = tmpfsDir();
const BLOCK = 4096;

group('regressions found by the crash simulator', () => {
  // Found 2026-11-25: a transaction that changed the superblock applied
  // both copies (blocks 0 and 1) in one fence epoch; a power failure tearing
  // both left a pool whose journal (which would have repaired them) could
  // not be found: mount failed with "primary superblock: checksum mismatch".
  it('torn-superblocks: the journal never has both superblock copies in flight at once', () => {
    const rec = record(uniquePath(dir, 'sb'), 4 << 20, 1000, 4); // creates files: the superblock is journaled
    let sawPrimary = 0;
    for (const point of crashPoints(rec)) {
      const lines = [...point.pendingByLine.keys()].map((line) => Math.floor((line * 64) / BLOCK));
      const primary = lines.includes(0);
      const backup = lines.includes(1);
      if (primary) sawPrimary++;
      expect(primary && backup, `crash point ${point.index}`).toBe(false);
    }
    expect(sawPrimary).toBeGreaterThan(0);
    const result = checkRecording(rec, uniquePath(dir, 'image'), { samples: 32, seed: 2, failDir: path.join(os.tmpdir(), 'daxfs-crash-failures') });
    expect(result.failures).toEqual([]);
  });
});
