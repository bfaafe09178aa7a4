// Reads a plain-text table back into cells by the columns its rule marks,
// and checks that every line keeps to those columns.
import { expect } from 'vitest';

export function readTable(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split('\n');
  const rule = lines[1]!;
  expect(rule).toMatch(/^-+( {2}-+)*$/);
  const starts = [...rule.matchAll(/-+/g)].map((m) => m.index);
  const cut = (line: string) =>
    starts.map((s, i) => {
      // two spaces before every column: no cell runs into the next one
      if (s > 0 && line.length > s) expect(line.slice(s - 2, s), `column ${i} of "${line}"`).toBe('  ');
      return line.slice(s, starts[i + 1] ?? line.length).trim();
    });
  return { header: cut(lines[0]!), rows: lines.slice(2).map(cut) };
}
