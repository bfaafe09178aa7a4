// The narrated demo of the reference thread (npm start): two mappings of one
// file play app A (read-only) and app B (shared, writable). Every value the
// narration prints is read back from the pool, the mappings or their
// counters at that moment; the checks decide whether the demo passed.
import { isDaxfsError } from '../errors.js';
import type { Pool } from '../pool/pool.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export interface DemoResult {
  lines: string[];
  /** Every claim of the narration held. */
  ok: boolean;
}

function ascii(view: Uint8Array): string {
  return JSON.stringify(Buffer.from(view.buffer, view.byteOffset, view.length).toString('latin1'));
}

export function runFaultDemo(pool: Pool): DemoResult {
  const lines: string[] = [];
  const checks: boolean[] = [];
  const say = (text: string, holds = true) => {
    lines.push(`${holds ? ' ' : '!'} ${text}`);
    checks.push(holds);
  };
  const file = pool.open('thread.db', { create: true, exclusive: true });
  try {
    file.truncate(4 * MiB);
    say(`thread.db is ${file.size / MiB} MiB of hole: ${file.stat().allocated} bytes allocated`, file.stat().allocated === 0);
    const A = file.map({ length: 4 * MiB });
    const B = file.map({ length: 4 * MiB, write: true, faultAround: 1 });

    // Question 1: a read of a hole allocates nothing.
    const free0 = pool.info().freeBlocks;
    const a = A.view(0, 4 * KiB);
    const zeros = a.every((x) => x === 0);
    say(`A reads 4 KiB at offset 0: ${zeros ? 'all zeros' : 'NOT zeros'}, page shows the ${A.pageStates(0, 1)[0]} page`, zeros && A.pageStates(0, 1)[0] === 'zero');
    say(`  pool free blocks before and after: ${free0} → ${pool.info().freeBlocks}`, pool.info().freeBlocks === free0);

    // Question 2: a write fault fills the hole and A's zeros are replaced.
    B.write(0, Buffer.from('hello from B'));
    const free1 = pool.info().freeBlocks;
    say(`B stores "hello from B" at offset 0: a write fault (major faults: ${B.stats().major}), ${free0 - free1} block allocated, zeroed and committed before the store`, B.stats().major === 1 && free0 - free1 === 1);
    const seen = ascii(a.subarray(0, 12));
    say(`A's buffer, taken before B wrote, now reads ${seen}; A's page is ${A.pageStates(0, 1)[0]} (invalidations in A: ${A.stats().invalidations})`, seen === '"hello from B"' && A.stats().invalidations === 1);

    // Private mappings copy on write.
    const P = file.map({ length: 4 * KiB, shared: false, write: true });
    P.write(0, Buffer.from('private text'));
    const back = Buffer.alloc(12);
    file.read(back, 0);
    say(`a private mapping stores "private text": it reads ${ascii(P.view(0, 12))}, the file still reads ${JSON.stringify(back.toString())} (copies on write: ${P.stats().copyOnWrite})`, back.toString() === 'hello from B' && P.stats().copyOnWrite === 1);
    P.unmap();

    // Question 3: truncate tears A down before the block is freed.
    const other = pool.open('thread.db');
    other.truncate(0);
    other.close();
    const states = A.pageStates(0, 2 * 4 * KiB);
    say(`another handle truncates thread.db to 0: A's pages are now ${states.join(', ')}; free blocks back to ${pool.info().freeBlocks}`, states.every((s) => s === 'none') && pool.info().freeBlocks === free0);
    try {
      A.fault(0);
      say('A touches offset 0 again: the fault succeeded (it must not)', false);
    } catch (e) {
      const code = isDaxfsError(e) ? e.code : String(e);
      say(`A touches offset 0 again: ${code} — ${e instanceof Error ? e.message : ''}`, code === 'SIGBUS');
    }
    say(`pool verification of every mapping's pages: ${pool.verifyMappings().length === 0 ? 'no page shows a free or foreign block' : pool.verifyMappings().join('; ')}`, pool.verifyMappings().length === 0);
    A.unmap();
    B.unmap();
    const s = pool.faultStats();
    lines.push(
      `  fault statistics: ${s.minor} minor, ${s.major} major, ${s.zeroPage} zero-page, ${s.copyOnWrite} copy-on-write, ${s.huge} huge, ` +
        `${s.invalidations} invalidations, ${s.sigbus} SIGBUS, ${s.mmuCalls} MMU system calls`,
    );
  } finally {
    file.close();
    pool.unlink('thread.db');
  }
  return { lines, ok: checks.every(Boolean) };
}
