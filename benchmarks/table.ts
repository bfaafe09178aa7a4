// The benchmarks' rows and the plain-text tables they print: one header per
// column, columns aligned, and ratios said the way round a reader expects
// ("5.26× slower", never "0.19x faster").
import { formatNs } from './measure.js';

export interface Row {
  name: string;
  /** daxfs's figure, with its unit. */
  measured: string;
  /** The figure it is compared with, with its unit. */
  baseline: string;
  ratio: number;
  /** The result in words: "3.50× faster", "5.26× slower", "1.20× the time with 1 mapping". */
  verdict: string;
  /** The target in words ("≥ 4× faster"), or null where the row only informs. */
  target: string | null;
  pass: boolean | null;
}

/** "3.50×". */
export function times(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}

/**
 * `ratio` is the other side's time over daxfs's (above 1: daxfs took less).
 * Says "N× faster" or "N× slower", N always at least 1.
 */
export function fasterOrSlower(ratio: number): string {
  if (!(ratio > 0) || !Number.isFinite(ratio)) return 'not measured';
  return ratio >= 1 ? `${times(ratio)} faster` : `${times(1 / ratio)} slower`;
}

/** A side measured in turns: its fastest trial and (where there were turns) its typical one. */
export interface Timed {
  min: number;
  median?: number;
}

/**
 * How two times are compared: daxfs N× faster or slower than the other
 * (`faster`), or daxfs's time as N× the other's (`atMost`); with a number,
 * that is the target (at least N× faster, at most N× the time).
 */
export type TimeTarget = { faster: number | null } | { atMost: number | null };

const timeCell = (t: Timed, unit: string) => `${formatNs(t.min)}/${unit}${t.median === undefined ? '' : ` (median ${formatNs(t.median)})`}`;

/**
 * A row of two times (smaller is better), `ours` (daxfs) against `theirs`,
 * judged by the fastest trials (the least disturbed); the medians' ratio is
 * shown beside. `faster`: the ratio is theirs over ours, the verdict "N×
 * faster/slower"; `atMost`: ours over theirs, "N× the time".
 */
export function timeRow(name: string, ours: Timed, theirs: Timed, unit: string, target: TimeTarget): Row {
  const atMost = 'atMost' in target;
  const goal = atMost ? target.atMost : target.faster;
  const ratioOf = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? NaN : atMost ? a / b : b / a);
  const say = (r: number) => (atMost ? `${times(r)} the time` : fasterOrSlower(r));
  const ratio = ratioOf(ours.min, theirs.min);
  const medians = ratioOf(ours.median, theirs.median);
  return {
    name,
    measured: timeCell(ours, unit),
    baseline: timeCell(theirs, unit),
    ratio,
    verdict: `${say(ratio)}${Number.isNaN(medians) ? '' : ` (medians: ${say(medians)})`}`,
    target: goal === null ? null : atMost ? `≤ ${goal}× the time` : `≥ ${goal}× faster`,
    pass: goal === null ? null : atMost ? ratio <= goal : ratio >= goal,
  };
}

/** A row whose measurement could not be made: what happened, said as the result, and its target missed. */
export function failedRow(name: string, what: string, target: string): Row {
  return { name, measured: what, baseline: '', ratio: NaN, verdict: 'not measured', target, pass: false };
}

/**
 * Aligns `rows` under `header`, two spaces between columns, a rule under
 * the header. Every row must have exactly one cell per header; an empty
 * cell is shown as "—" so that no column looks missing.
 */
export function formatTable(header: string[], rows: string[][]): string {
  for (const row of rows) {
    if (row.length !== header.length) throw new Error(`a table row has ${row.length} cells for ${header.length} headers: ${row.join(' | ')}`);
  }
  const cells = rows.map((row) => row.map((c) => (c === '' ? '—' : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export const ROW_HEADER = ['benchmark', 'daxfs', 'compared with', 'result', 'target'];

/** A row's target cell: the target and whether this run met it. */
export function targetCell(row: Row): string {
  if (row.target === null || row.pass === null) return '';
  return `${row.target}: ${row.pass ? 'met' : 'MISSED'}`;
}

export function formatRows(rows: Row[]): string {
  return formatTable(
    ROW_HEADER,
    rows.map((r) => [r.name, r.measured, r.baseline, r.verdict, targetCell(r)]),
  );
}
