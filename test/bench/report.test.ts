import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

import { median, turns, turnsAsync } from '../../benchmarks/measure.js';
import { writeReport } from '../../benchmarks/report.js';
import { sqliteNodeFlags } from '../../benchmarks/sqlite.js';
import type { StoresResult } from '../../benchmarks/stores.js';
import { barChart, escapeXml, formatTime, niceStep } from '../../benchmarks/svg.js';
import { emulatedPmemDir } from '../../lib/emulated.js';
import { packageRoot } from '../../lib/native.js';
import { tmpfsDir } from '../helpers.js';

describe('measuring in turns', () => {
  it('gives every side one untimed round, then rotates who goes first', () => {
    const calls: string[] = [];
    const side = (name: string, values: number[]) => () => {
      calls.push(name);
      return values.shift()!;
    };
    const result = turns(3, [side('a', [99, 5, 3, 4]), side('b', [99, 10, 30, 20]), side('c', [99, 7, 8, 1])]);
    expect(calls).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b']);
    expect(result).toEqual([
      { samples: [5, 3, 4], min: 3, median: 4 },
      { samples: [10, 30, 20], min: 10, median: 20 },
      { samples: [7, 8, 1], min: 1, median: 7 },
    ]);
  });

  it('awaits asynchronous sides one trial at a time, in the same order', async () => {
    const calls: string[] = [];
    let running = 0;
    const side = (name: string, values: number[]) => async () => {
      calls.push(name);
      expect(running).toBe(0);
      running++;
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return values.shift()!;
    };
    const result = await turnsAsync(2, [side('a', [99, 5, 3]), side('b', [99, 10, 30])]);
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'b', 'a']);
    expect(result).toEqual([
      { samples: [5, 3], min: 3, median: 4 },
      { samples: [10, 30], min: 10, median: 20 },
    ]);
  });

  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('SVG charts', () => {
  it('pick round ticks and readable times', () => {
    expect(niceStep(47_700)).toBe(10_000);
    expect(niceStep(2_450)).toBe(500);
    expect(niceStep(1_520)).toBe(500);
    expect(niceStep(120)).toBe(25);
    expect(formatTime(844)).toBe('844 ns');
    expect(formatTime(1_520)).toBe('1.52 µs');
    expect(formatTime(38_300)).toBe('38.3 µs');
    expect(formatTime(2_500_000)).toBe('2.50 ms');
    expect(escapeXml('a < b & "c"')).toBe('a &lt; b &amp; &quot;c&quot;');
  });

  it('draw one bar per side to scale, a min mark, labelled ticks, a legend', () => {
    const svg = barChart({
      title: 'put',
      subtitle: 'sub',
      axisLabel: 'time per operation',
      bars: [
        { label: 'daxfs', sublabel: '', note: 'f.write(a < b)', median: 1_000, min: 900, highlight: true, annotation: '' },
        { label: 'lmdb', sublabel: '3.5.6', note: 'db.putSync', median: 40_000, min: 30_000, highlight: false, annotation: 'daxfs 40.00× faster' },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    // the scale runs to 40 µs in steps of 10 µs over 680 px from x = 150
    const bars = [...svg.matchAll(/<rect x="150" y="\d+" width="([\d.]+)" height="22" fill="(#[0-9a-f]+)"\/>/g)].map((m) => [Number(m[1]), m[2]]);
    expect(bars).toEqual([[17, '#1565c0'], [680, '#90a4ae']]);
    for (const tick of ['>0<', '>10 µs<', '>20 µs<', '>30 µs<', '>40 µs<']) expect(svg).toContain(tick);
    expect(svg).toContain('<line x1="660.0" y1="150" x2="660.0" y2="180"'); // lmdb's min at 30 µs
    expect(svg).toContain('>daxfs: median<');
    expect(svg).toContain('>fastest trial (min)<');
    expect(svg).toContain('f.write(a &lt; b)');
    expect(svg).toContain('40.0 µs median, 30.0 µs min · daxfs 40.00× faster');
    expect(svg).toContain('>time per operation<');
  });
});

describe('the report', () => {
  it('writes markdown with a chart and a table per operation', () => {
    const dir = path.join(tmpfsDir(), 'report');
    const stores: StoresResult = {
      node: 'v20.0.0',
      keys: 16_384,
      valueBytes: 4096,
      trials: 3,
      versions: { lmdb: '3.5.6' },
      skipped: [{ side: 'node:sqlite', reason: 'Node v20.0.0 has no node:sqlite (it came in 22.5)' }],
      ops: [
        {
          id: 'put',
          title: 'durable 4 KiB put',
          sides: [
            { side: 'daxfs', call: 'file.write', iterations: 100, samples: [1000, 1200, 1100], min: 1000, median: 1100 },
            { side: 'lmdb', call: 'db.putSync', iterations: 10, samples: [33_000, 44_000, 55_000], min: 33_000, median: 44_000 },
          ],
        },
      ],
    };
    const files = writeReport(dir, { started: new Date('2026-01-02T03:04:05Z'), seconds: 61, quick: true, stores, groups: [] });
    expect(files).toEqual([path.join(dir, 'report.md'), path.join(dir, 'put.svg')]);
    const md = readFileSync(files[0]!, 'utf8');
    expect(md).toContain('Quick run of 2026-01-02T03:04:05.000Z, 61 s, on a ');
    expect(md).toContain('![durable 4 KiB put: time per operation of each store](put.svg)');
    expect(md).toContain('| daxfs | file.write | 100 | 1.00 µs | 1.10 µs | — | — |');
    expect(md).toContain('| lmdb (3.5.6) | db.putSync | 10 | 33.00 µs | 44.00 µs | daxfs 40.00× faster | daxfs 33.00× faster |');
    expect(md).toContain('node:sqlite was not measured: Node v20.0.0 has no node:sqlite (it came in 22.5).');
    expect(readFileSync(files[1]!, 'utf8')).toContain('44.0 µs median, 33.0 µs min · daxfs 40.00× faster');
  });
});

describe('the stores benchmark', () => {
  it('measures daxfs, node:fs and lmdb (and node:sqlite where this Node has it) and leaves nothing behind', async () => {
    const run = promisify(execFile)(
      process.execPath,
      [...sqliteNodeFlags(), path.join(packageRoot, 'dist/benchmarks/stores.js'), '--quick', '--json'],
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 << 20 },
    );
    const pid = run.child.pid!;
    const { stdout } = await run;
    const result = JSON.parse(stdout) as StoresResult;
    const hasSqlite = result.skipped.length === 0;
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    expect(hasSqlite).toBe(major > 22 || (major === 22 && minor >= 5));
    if (!hasSqlite) expect(result.skipped).toEqual([{ side: 'node:sqlite', reason: `Node ${process.version} has no node:sqlite (it came in 22.5)` }]);
    const others = hasSqlite ? ['lmdb', 'node:sqlite'] : ['lmdb'];
    expect(result.ops.map((o) => [o.id, o.sides.map((s) => s.side)])).toEqual([
      ['put', ['daxfs', 'node:fs', ...others]],
      ['get', ['daxfs', 'node:fs', ...others]],
      ['zero-copy-get', ['daxfs', 'lmdb']],
    ]);
    for (const op of result.ops) {
      for (const s of op.sides) {
        expect(s.samples).toHaveLength(result.trials);
        expect(s.min).toBe(Math.min(...s.samples));
        expect(s.median).toBe(median(s.samples));
        expect(s.min).toBeGreaterThan(0);
      }
    }
    expect(result.versions.lmdb).toBe(JSON.parse(readFileSync(path.join(packageRoot, 'node_modules/lmdb/package.json'), 'utf8')).version);
    expect(readdirSync(emulatedPmemDir()).filter((n) => n.startsWith('daxfs-') && n.includes(`-${pid}-`))).toEqual([]);
  }, 120_000);
});
