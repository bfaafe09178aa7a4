import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

import type { Row } from '../../benchmarks/table.js';
import { emulatedPmemDir } from '../../lib/emulated.js';
import { packageRoot } from '../../lib/native.js';

describe('the metadata benchmark', () => {
  it('prints every row with its target, says what it could not measure, and leaves nothing behind', async () => {
    // asynchronously: the quick run takes tens of seconds
    const run = promisify(execFile)(process.execPath, [path.join(packageRoot, 'dist/benchmarks/metadata.js'), '--quick', '--json'], {
      encoding: 'utf8',
      timeout: 240_000,
      maxBuffer: 16 << 20,
    });
    const pid = run.child.pid!;
    const rows = JSON.parse((await run).stdout) as Row[];
    const quick = ' (quick: 10k, not 100k)';
    expect(rows.map((r) => r.name)).toEqual([
      'metadata: small file create + 4 KiB write + close vs node:fs',
      `metadata: create at 10,000 files vs at 1,000 (daxfs, per create)${quick}`,
      `metadata: unlink at 10,000 files vs at 1,000 (daxfs, per unlink)${quick}`,
      `metadata: create at 10,000 files vs at 1,000 (node:fs, for reference, per create)${quick}`,
      `metadata: unlink at 10,000 files vs at 1,000 (node:fs, for reference, per unlink)${quick}`,
      `metadata: mount (Pool.open + close) of 10,000 files vs readdirSync + statSync of each on tmpfs${quick}`,
      `metadata: RSS a mount of 10,000 files adds, per file (child process)${quick}`,
      'metadata: punch one block + write refilling it, 2,000 extents vs 1 extent',
      'metadata: getBlock, file of 2,000 extents vs 1 extent (4,000 blocks)',
      'async: 2 × 1 MiB writeAsync in flight on one file vs write (sync)',
      'async: 2 × 1 MiB writeAsync in flight on 2 files vs write (sync) of the same files',
      'async: 4 × 1 MiB writeAsync in flight on one file vs write (sync)',
      'async: 4 × 1 MiB writeAsync in flight on 4 files vs write (sync) of the same files',
      'async: 2 × 1 MiB readAsync in flight on one file vs read (sync)',
      'async: 4 × 1 MiB readAsync in flight on one file vs read (sync)',
    ]);
    for (const row of rows) {
      const reference = row.name.includes('for reference');
      expect(row.target === null).toBe(reference);
      expect(row.pass === null).toBe(reference);
      // NaN travels through JSON as null: a row that could not measure says why
      if (row.ratio === null) expect([row.verdict, row.pass, row.measured]).toEqual(['not measured', false, expect.stringMatching(/^(E[A-Z]+: not supported yet|fails: ENOSPC|below measurement: RSS fell by \d+ KiB across the mount)/)]);
      else expect(row.ratio).toBeGreaterThan(0);
    }
    expect(readdirSync(emulatedPmemDir()).filter((n) => n.startsWith('daxfs-') && n.includes(`-${pid}-`))).toEqual([]);
  }, 240_000);
});
