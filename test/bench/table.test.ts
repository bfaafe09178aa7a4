import { describe, expect, it } from 'vitest';

import { failedRow, fasterOrSlower, formatRows, formatTable, timeRow, type Row } from '../../benchmarks/table.js';
import { readTable } from './table-text.js';

const rows: Row[] = [
  { name: 'pool: 4 KiB read vs fs.readSync', measured: '600 ns/op', baseline: '2.10 µs/op', ratio: 3.5, verdict: fasterOrSlower(3.5), target: '≥ 4× faster', pass: false },
  { name: 'small file create vs node:fs', measured: '100 µs/op', baseline: '19 µs/op', ratio: 0.19, verdict: fasterOrSlower(0.19), target: null, pass: null },
  { name: 'mount', measured: '1 ms', baseline: '1 ms', ratio: 1, verdict: '1.00× the time', target: '≤ 1.5× the time', pass: true },
];

describe('benchmark tables', () => {
  it('say how many times faster or slower, never a fraction "faster"', () => {
    expect(fasterOrSlower(3.5)).toBe('3.50× faster');
    expect(fasterOrSlower(1)).toBe('1.00× faster');
    expect(fasterOrSlower(0.19)).toBe('5.26× slower');
    expect(fasterOrSlower(0.5)).toBe('2.00× slower');
    expect(fasterOrSlower(0)).toBe('not measured');
    expect(fasterOrSlower(Number.NaN)).toBe('not measured');
    expect(fasterOrSlower(Infinity)).toBe('not measured');
  });

  it('put one header over every column, and every cell under its header', () => {
    const text = formatRows(rows);
    const table = readTable(text);
    expect(table.header).toEqual(['benchmark', 'daxfs', 'compared with', 'result', 'target']);
    expect(table.rows).toEqual([
      ['pool: 4 KiB read vs fs.readSync', '600 ns/op', '2.10 µs/op', '3.50× faster', '≥ 4× faster: MISSED'],
      ['small file create vs node:fs', '100 µs/op', '19 µs/op', '5.26× slower', '—'],
      ['mount', '1 ms', '1 ms', '1.00× the time', '≤ 1.5× the time: met'],
    ]);
    expect(text).not.toMatch(/0\.\d+×? faster/);
  });

  it('refuses a row whose cells do not match the headers', () => {
    expect(() => formatTable(['a', 'b', 'c'], [['1', '2']])).toThrow(/a table row has 2 cells for 3 headers: 1 \| 2/);
    expect(formatTable(['a', 'b'], [['x', '']])).toBe('a  b\n-  -\nx  —');
  });

  it('compare two times by their fastest trials, the medians beside, either way round', () => {
    expect(timeRow('create', { min: 1000, median: 2000 }, { min: 3000, median: 3000 }, 'op', { faster: 2 })).toEqual({
      name: 'create',
      measured: '1.00 µs/op (median 2.00 µs)',
      baseline: '3.00 µs/op (median 3.00 µs)',
      ratio: 3,
      verdict: '3.00× faster (medians: 1.50× faster)',
      target: '≥ 2× faster',
      pass: true,
    });
    expect(timeRow('fault', { min: 1600 }, { min: 1000 }, 'fault', { atMost: 1.5 })).toEqual({
      name: 'fault',
      measured: '1.60 µs/fault',
      baseline: '1.00 µs/fault',
      ratio: 1.6,
      verdict: '1.60× the time',
      target: '≤ 1.5× the time',
      pass: false,
    });
    const reference = timeRow('ref', { min: 500, median: 800 }, { min: 1000, median: 1000 }, 'op', { atMost: null });
    expect([reference.verdict, reference.target, reference.pass]).toEqual(['0.50× the time (medians: 0.80× the time)', null, null]);
  });

  it('say what stopped a measurement, and count its target missed', () => {
    const row = failedRow('async', 'EBUSY: not supported yet', '≥ 0.8 of the bandwidth');
    expect(row).toEqual({ name: 'async', measured: 'EBUSY: not supported yet', baseline: '', ratio: NaN, verdict: 'not measured', target: '≥ 0.8 of the bandwidth', pass: false });
    expect(readTable(formatRows([row])).rows).toEqual([['async', 'EBUSY: not supported yet', '—', 'not measured', '≥ 0.8 of the bandwidth: MISSED']]);
  });
});
