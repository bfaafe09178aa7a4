import { describe, expect, it } from 'vitest';

import { fasterOrSlower, formatRows, formatTable, type Row } from '../../benchmarks/table.js';
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
});
