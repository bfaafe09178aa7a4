// What `daxfs check` reports: the problems check() found and repaired, and,
// with --repair, what the read-write mount repaired before check() ran.
import type { CheckReport, PoolInfo } from '../pool/index.js';
import { escapeForTerminal as esc } from './output.js';

/** Exit status of check: clean; problems found and all repaired; problems left; could not check. */
export const CHECK_CLEAN = 0;
export const CHECK_REPAIRED = 1;
export const CHECK_PROBLEMS_LEFT = 4;
export const CHECK_FAILED = 8;

export interface MountRepair {
  kind: 'journal' | 'superblock' | 'unmarked-blocks' | 'orphan' | 'temporary';
  message: string;
}

/** What a read-write mount repaired, from the pool's counters. */
export function mountRepairs(info: PoolInfo): MountRepair[] {
  const out: MountRepair[] = [];
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (info.superblockRestoredAtMount) out.push({ kind: 'superblock', message: 'rewrote the damaged primary superblock' });
  if (info.recovery.replayed) out.push({ kind: 'journal', message: `replayed a committed transaction of ${plural(info.recovery.records, 'record')} from the journal` });
  if (info.blocksRemarkedAtMount > 0)
    out.push({ kind: 'unmarked-blocks', message: `marked ${plural(info.blocksRemarkedAtMount, 'block')} in use that files own but the bitmap had free` });
  if (info.orphansFreedAtMount > 0)
    out.push({ kind: 'orphan', message: `freed ${plural(info.orphansFreedAtMount, 'unlinked file')} that a process that is gone still had open` });
  if (info.temporariesRemovedAtMount > 0)
    out.push({ kind: 'temporary', message: `removed ${plural(info.temporariesRemovedAtMount, 'temporary file')} of a process that is gone (an interrupted put)` });
  return out;
}

/** What a read-only check saw but did not change, from the pool's counters: a journal replayed in memory only. */
export function readOnlyNotes(info: PoolInfo): string[] {
  if (!info.recovery.inMemory) return [];
  const n = info.recovery.records;
  return [`journal: a committed transaction of ${n} record${n === 1 ? '' : 's'} is pending; checked as replayed in memory (the next read-write open replays it)`];
}

/** The human report, and the exit status. */
export function describeCheck(report: CheckReport, atMount: MountRepair[], notes: string[] = []): { text: string; status: number } {
  const lines = notes.map((n) => `note: ${esc(n)}`);
  lines.push(...atMount.map((r) => `repaired at mount: ${r.kind}: ${esc(r.message)}`));
  for (const p of report.problems)
    lines.push(`${report.repaired.includes(p) ? 'repaired' : p.repairable ? 'repairable' : 'PROBLEM'}: ${p.kind}: ${esc(p.message)}`);
  const repaired = atMount.length + report.repaired.length;
  const counted = `${report.filesChecked} files, ${report.blocksChecked} blocks checked`;
  if (report.problems.length === 0) lines.push(`${repaired > 0 ? `${repaired} repaired; now ` : ''}clean: ${counted}`);
  else
    lines.push(
      `${report.problems.length} problem(s), ${report.repaired.length} repaired${atMount.length > 0 ? ` (and ${atMount.length} at mount)` : ''}${report.ok ? '' : '; run check --repair to fix the repairable ones'}`,
    );
  const status = !report.ok ? CHECK_PROBLEMS_LEFT : repaired > 0 ? CHECK_REPAIRED : CHECK_CLEAN;
  return { text: lines.join('\n'), status };
}
