import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { formatRows, ROW_HEADER, type Row } from '../benchmarks/table.js';
import { emulatedPmemDir } from '../lib/emulated.js';
import { packageRoot } from '../lib/native.js';
import { parseSize } from '../lib/cli/start.js';
import { readTable } from './bench/table-text.js';

describe('npm start (the main job)', () => {
  it('creates emulated pmem, reports it, round-trips a file through a pool, benchmarks, and cleans up', async () => {
    // asynchronously: the benchmark takes seconds, and the test runner must stay responsive
    const run = promisify(execFile)(process.execPath, [path.join(packageRoot, 'dist/lib/cli/start.js'), '--json'], {
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const pid = run.child.pid!;
    const child = await run;
    const out = JSON.parse(child.stdout) as {
      capabilities: { persistence: string; kind: string; mapSync: boolean; size: number };
      roundTrip: { ok: boolean; check: boolean; files: number; demo: { ok: boolean; lines: string[] } };
      benchmark: Row[];
      unlinked: boolean;
    };
    expect(out.roundTrip).toMatchObject({ ok: true, check: true, files: 1, demo: { ok: true } });
    const demo = out.roundTrip.demo.lines.join('\n');
    expect(demo).toMatch(/A reads 4 KiB at offset 0: all zeros, page shows the zero page/);
    expect(demo).toMatch(/now reads "hello from B"/);
    expect(demo).toMatch(/A touches offset 0 again: SIGBUS/);
    expect(out.benchmark.map((r) => r.name)).toContain('fault: one 2 MiB fault vs 512 separate 4 KiB faults');
    expect(out.capabilities).toMatchObject({ kind: 'file', persistence: 'volatile', mapSync: false, size: 128 * 2 ** 20 });
    expect(out.benchmark.map((r) => r.name)).toContain('copy-in + persist 4 KiB (JS vs native loop)');
    expect(out.benchmark.map((r) => r.name)).toContain('pool: 4 KiB random overwrite, durable, vs fs.writeSync');
    for (const row of out.benchmark) expect(row.ratio).toBeGreaterThan(0);
    expect(out.unlinked).toBe(true);
    // Every row of this run in the table: one cell under each header, and
    // "faster" or "slower" as the ratio says (N always at least 1).
    const table = readTable(formatRows(out.benchmark));
    expect(table.header).toEqual(ROW_HEADER);
    expect(table.rows.map((r) => r[0])).toEqual(out.benchmark.map((r) => r.name));
    for (const cells of table.rows) expect(cells.every((c) => c.length > 0)).toBe(true);
    for (const row of out.benchmark) {
      const said = /^(\d+\.\d+)× (faster|slower)/.exec(row.verdict);
      if (!said) continue;
      expect(Number(said[1])).toBeGreaterThanOrEqual(1);
      expect(said[2]).toBe(row.ratio >= 1 ? 'faster' : 'slower');
      expect(Number(said[1])).toBeCloseTo(row.ratio >= 1 ? row.ratio : 1 / row.ratio, 1);
    }
    // names carry their maker's pid: this run left none (other runs may be
    // going on at the same time, with names of their own)
    expect(readdirSync(emulatedPmemDir()).filter((f) => f.startsWith('daxfs-') && f.includes(`-${pid}-`))).toEqual([]);
  }, 120_000);

  it('fails with a clear message and exit code 2 on a bad size', () => {
    const child = spawnSync(process.execPath, [path.join(packageRoot, 'dist/lib/cli/start.js'), '--size', '5000'], { encoding: 'utf8' });
    expect(child.status).toBe(2);
    expect(child.stderr).toMatch(/daxfs: size must be a positive multiple of 4096/);
  });

  it('refuses to overwrite an existing backing without --overwrite', () => {
    const existing = path.join(packageRoot, 'package.json');
    const child = spawnSync(process.execPath, [path.join(packageRoot, 'dist/lib/cli/start.js'), '--path', existing], { encoding: 'utf8' });
    expect(child.status).toBe(1);
    expect(child.stderr).toMatch(/exists: its contents would be overwritten; add --overwrite/);
  });

  it('parses human sizes', () => {
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('256M')).toBe(256 * 2 ** 20);
    expect(parseSize('1GiB')).toBe(2 ** 30);
    expect(parseSize('2t')).toBe(2 * 2 ** 40);
    expect(() => parseSize('12 apples')).toThrow(/not a size/);
  });
});
