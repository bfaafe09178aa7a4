// The benchmark report (`npm run bench -- --report DIR`): a markdown file
// and one SVG chart per store operation, every figure from the run that
// wrote them.
import { mkdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { emulatedPmemDir } from '../lib/emulated.js';
import { formatNs } from './measure.js';
import { againstDaxfs, STORE_HEADERS, storeRows, type StoresResult } from './stores.js';
import { barChart } from './svg.js';
import { ROW_HEADER, targetCell, type Row } from './table.js';

export interface ReportInput {
  started: Date;
  seconds: number;
  quick: boolean;
  stores: StoresResult;
  /** Titled groups of rows from the region, pool and fault benchmarks. */
  groups: { title: string; rows: Row[] }[];
}

const TMPFS_MAGIC = 0x01021994;

function isVm(): boolean {
  try {
    return /^flags\s*:.*\bhypervisor\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false; // no /proc/cpuinfo: say nothing about it
  }
}

/** "2 vCPU VM, Linux 6.1, Node v20.20.2", for a chart. */
export function machineShort(node = process.version): string {
  return `${os.cpus().length} ${isVm() ? 'vCPU VM' : 'CPU machine'}, Linux ${os.release()}, Node ${node}`;
}

/** The machine in a line: CPUs, VM or not, kernel, Node, where emulated pmem lives. */
export function describeMachine(): string {
  const cpus = os.cpus();
  const vm = isVm();
  const dir = emulatedPmemDir();
  let fs = 'a page-cache file system';
  try {
    if (statfsSync(dir).type === TMPFS_MAGIC) fs = 'tmpfs';
  } catch {
    // keep the generic word
  }
  return (
    `${cpus.length} ${vm ? 'vCPU VM' : 'CPU machine'} (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}; ` +
    `emulated pmem: files on ${dir} (${fs}), no NVDIMM`
  );
}

const cell = (text: string) => (text === '' ? '—' : text.replace(/\|/g, '\\|'));
const mdTable = (header: string[], rows: string[][]) =>
  [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');

/** Writes report.md and one chart per operation into `dir`; returns the files written. */
export function writeReport(dir: string, input: ReportInput): string[] {
  mkdirSync(dir, { recursive: true });
  const { stores } = input;
  const written: string[] = [];
  const md: string[] = [];
  md.push(
    '# daxfs benchmark report',
    '',
    `${input.quick ? 'Quick run' : 'Full run'} of ${input.started.toISOString()}, ${input.seconds.toFixed(0)} s, on a ${describeMachine()}.`,
    'Every figure below was measured in this one run, and every ratio compares two figures of this run.',
    '',
    '## daxfs against node:fs, lmdb and node:sqlite',
    '',
    `The same ${stores.keys.toLocaleString('en')} values of ${stores.valueBytes / 1024} KiB (${(stores.keys * stores.valueBytes) / 2 ** 20} MiB) in each store, all on the same tmpfs, read and`,
    'written at the same pseudo-random keys. Each side runs its own loop of one operation per key; the sides take',
    `turns, ${stores.trials} trials each after one untimed round, the first place in each round moving on by one.`,
    '**min** is a side\'s fastest trial (the least disturbed), **median** its typical one; "daxfs against it" divides',
    'that side\'s figure by daxfs\'s. A durable put returns once its bytes would survive a crash of the process:',
    'daxfs flushes and fences the cache lines; node:fs, lmdb and SQLite call fdatasync/fsync, which on tmpfs',
    'writes no device (so their figures here are the software path without a disk, their best case).',
    '',
  );
  for (const op of stores.ops) {
    const file = `${op.id}.svg`;
    writeFileSync(
      path.join(dir, file),
      barChart({
        title: `${op.title} by key`,
        subtitle: `${stores.keys.toLocaleString('en')} values of ${stores.valueBytes / 1024} KiB on tmpfs, random keys, ${stores.trials} trials per side in turns; ${machineShort(stores.node)}`,
        axisLabel: 'time per operation (linear scale from zero)',
        bars: op.sides.map((s) => ({
          label: s.side,
          sublabel: stores.versions[s.side] ?? '',
          note: s.call,
          median: s.median,
          min: s.min,
          highlight: s.side === 'daxfs',
          annotation: againstDaxfs(op, s, 'median'),
        })),
      }),
    );
    written.push(path.join(dir, file));
    md.push(
      `### ${op.title}`,
      '',
      `![${op.title}: time per operation of each store](${file})`,
      '',
      mdTable(STORE_HEADERS, storeRows(stores, op)),
      '',
    );
  }
  for (const s of stores.skipped) md.push(`${s.side} was not measured: ${s.reason}.`, '');
  for (const g of input.groups) {
    md.push(
      `## ${g.title}`,
      '',
      mdTable(ROW_HEADER, g.rows.map((r) => [r.name, r.measured, r.baseline, r.verdict, targetCell(r)])),
      '',
    );
  }
  const report = path.join(dir, 'report.md');
  writeFileSync(report, `${md.join('\n').trimEnd()}\n`);
  return [report, ...written];
}
