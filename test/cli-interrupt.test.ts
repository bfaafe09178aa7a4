// npm start stopped mid-run, by SIGINT (Ctrl-C) or SIGKILL, while the main
// process measures its own region and while a benchmark runs in a child:
// afterwards no name that the run or its children made is left in the
// emulated pmem directory.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { emulatedPmemDir } from '../lib/emulated.js';
import { packageRoot } from '../lib/native.js';

const dir = emulatedPmemDir();

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The files of the emulated directory that `pid` has open, as the kernel names them. */
function openBackings(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      })
      .filter((target) => target.startsWith(`${dir}/daxfs-`));
  } catch {
    return [];
  }
}

function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Names in the emulated directory made by any of `pids` (names carry their maker's pid). */
function namesOf(pids: number[]): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('daxfs-') && pids.some((p) => n.includes(`-${p}-`)));
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts the main job; `stop` ends it (and any child it left) if the test fails before it does. */
function startMainJob() {
  const child = spawn(process.execPath, [path.join(packageRoot, 'dist/lib/cli/start.js')], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, s) => resolve(s)));
  const seen = new Set<number>();
  return {
    pid: child.pid!,
    exited,
    kill: (signal: NodeJS.Signals) => child.kill(signal),
    remember: (pid: number) => seen.add(pid),
    stop: () => {
      for (const pid of [child.pid!, ...seen]) {
        try {
          if (running(pid)) process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}

describe('npm start, stopped mid-run', () => {
  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    it(`${signal} while it measures its own region: nothing left`, async () => {
      const job = startMainJob();
      try {
        // The backing is open, and already has no name.
        const open = await until('the demo backing to be open', 30_000, () =>
          openBackings(job.pid).find((t) => t.includes('daxfs-demo-') && t.endsWith(' (deleted)')),
        );
        expect(open).toMatch(new RegExp(`^${dir}/daxfs-demo-${job.pid}-\\d+ \\(deleted\\)$`));
        expect(namesOf([job.pid])).toEqual([]);
        job.kill(signal);
        expect(await job.exited).toBe(signal);
        expect(namesOf([job.pid])).toEqual([]);
      } finally {
        job.stop();
      }
    }, 60_000);

    it(`${signal} while a benchmark runs in a child process: nothing left by either`, async () => {
      const job = startMainJob();
      try {
        const kid = await until('a benchmark child with its backing open', 90_000, () =>
          children(job.pid).find((k) => openBackings(k).some((t) => t.includes('daxfs-bench-') && t.endsWith(' (deleted)'))),
        );
        job.remember(kid);
        expect(namesOf([job.pid, kid])).toEqual([]);
        job.kill(signal);
        expect(await job.exited).toBe(signal);
        // SIGINT is passed on to the child; after SIGKILL the child is an
        // orphan that finishes its benchmark alone and cleans up after itself.
        await until(`child ${kid} to end`, signal === 'SIGINT' ? 10_000 : 120_000, () => (running(kid) ? undefined : true));
        expect(namesOf([job.pid, kid])).toEqual([]);
        expect(running(job.pid)).toBe(false);
      } finally {
        job.stop();
      }
    }, 180_000);
  }
});
