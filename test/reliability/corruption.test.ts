// Corrupted and hostile images: open refuses them with a typed corruption
// error naming the damage, or opens them and check/repair leaves a pool that
// check accepts — never a crash, a hang, an out-of-range access or a silent
// wrong answer (an image whose damage nothing reported must read exactly as
// before).
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';

import { setImmediate as yieldToLoop } from 'node:timers/promises';

import { describe as group, expect, it } from 'vitest';

import { isDaxfsError, Pool } from '../../lib/index.js';
import { rng } from '../pool/crash-model.js';
import { tmpfsDir, uniquePath } from '../helpers.js';
import { buildBase, hostileImages, randomMutation, type BaseImage } from './corruption.js';

const dir = tmpfsDir();
const IMAGES = Number(process.env.DAXFS_CORRUPT_IMAGES ?? 10_000);

type Outcome = { kind: 'refused'; code: string; message: string } | { kind: 'clean' } | { kind: 'repaired'; what: string[] };

/** Opens the image at `path` and judges it; throws (a test failure) on anything but a clean outcome. */
function judge(path: string, base: BaseImage, mustMatch: boolean): Outcome {
  let pool: Pool;
  try {
    pool = Pool.open(path);
  } catch (e) {
    if (!isDaxfsError(e) || !['EUCLEAN', 'EINVAL'].includes(e.code)) throw new Error(`open threw an untyped error: ${String(e)}`);
    if (e.message.length < 10) throw new Error(`refusal without a reason: ${e.message}`);
    return { kind: 'refused', code: e.code, message: e.message };
  }
  try {
    let outcome: Outcome = { kind: 'clean' };
    const first = pool.check();
    if (!first.ok) {
      const repair = pool.check({ repair: true });
      const after = pool.check();
      if (!after.ok)
        throw new Error(`open accepted an image check cannot repair: ${after.problems.map((p) => p.message).join('; ')} (repair: ${repair.repaired.length} fixed)`);
      outcome = { kind: 'repaired', what: first.problems.map((p) => p.kind) };
    }
    // Every file reads without an untyped error; untouched damage changes nothing.
    for (const st of pool.list()) {
      const f = pool.open(st.name);
      // the head, and the tail of a (valid but) huge sparse file
      const b = Buffer.alloc(Math.min(st.size, 1 << 20));
      f.read(b, 0);
      if (st.size > b.length) f.read(Buffer.alloc(4096), st.size - 4096);
      f.close();
      if (mustMatch && outcome.kind === 'clean' && base.files.has(st.name) && !b.equals(base.files.get(st.name)!))
        throw new Error(`silent wrong answer: '${st.name}' reads differently and nothing reported damage`);
    }
    if (mustMatch && outcome.kind === 'clean' && pool.list().length !== base.files.size)
      throw new Error(`silent wrong answer: ${pool.list().length} files listed, ${base.files.size} expected`);
    // The pool stays usable: a new file, then a clean check.
    const probe = pool.open(`probe-${Date.now()}`, { create: true });
    probe.write(Buffer.alloc(3 * 4096 + 5, 0x70), 0);
    probe.close();
    const last = pool.check();
    if (!last.ok) throw new Error(`after a write the check finds: ${last.problems.map((p) => p.message).join('; ')}`);
    if (mustMatch)
      for (const [name, bytes] of base.files) {
        if (!pool.list().some((s) => s.name === name)) continue;
        const f = pool.open(name);
        const b = Buffer.alloc(f.size);
        f.read(b, 0);
        f.close();
        if (outcome.kind !== 'clean' || b.equals(bytes)) continue;
        throw new Error(`'${name}' changed after a new file was written`);
      }
    return outcome;
  } catch (e) {
    if (isDaxfsError(e) && e.code === 'EUCLEAN') return { kind: 'refused', code: e.code, message: e.message };
    throw e;
  } finally {
    pool.close();
  }
}

group('corrupted and hostile images', () => {
  const base = buildBase(uniquePath(dir, 'base'));

  it('the base image opens clean and holds every kind of metadata', () => {
    const path = uniquePath(dir, 'img');
    writeFileSync(path, base.image);
    expect(judge(path, base, true)).toEqual({ kind: 'clean' });
    expect(base.areas.some((a) => a.name.startsWith('extent block'))).toBe(true);
  });

  it('structured hostile images are each refused with a message naming the damage, or repaired', () => {
    const path = uniquePath(dir, 'hostile');
    const outcomes: Record<string, string> = {};
    for (const { name, image } of hostileImages(base)) {
      writeFileSync(path, image);
      let outcome: Outcome;
      try {
        outcome = judge(path, base, false);
      } catch (e) {
        throw new Error(`${name}: ${(e as Error).message}`);
      }
      outcomes[name] = outcome.kind === 'refused' ? `${outcome.code}: ${outcome.message}` : outcome.kind === 'repaired' ? `repaired ${outcome.what.join(', ')}` : 'clean';
    }
    console.log(Object.entries(outcomes).map(([k, v]) => `  ${k} → ${v}`).join('\n'));
    // Damage the checksums cannot see must still be found.
    expect(outcomes['newer format version']).toMatch(/EUCLEAN: .*format version 3 is not supported/);
    expect(outcomes['a size word whose check fails']).toMatch(/EUCLEAN: inode 0: the size word fails its check/);
    expect(outcomes['absurd file size (2^60)']).toMatch(/EUCLEAN: inode 0: the size word fails its check/);
    expect(outcomes['extent past the end of the pool']).toMatch(/EUCLEAN: .*outside the data area/);
    expect(outcomes['extent in the metadata area']).toMatch(/EUCLEAN: .*outside the data area/);
    expect(outcomes['extents of two files overlapping']).toMatch(/EUCLEAN: .*(owned|both)/);
    expect(outcomes['extent-block chain cycle']).toMatch(/EUCLEAN: .*cycle/);
    expect(outcomes['two files with one name']).toMatch(/EUCLEAN: .*name/);
    expect(outcomes['owned blocks marked free in the bitmap']).toBe('clean'); // re-marked at mount (regressions.test.ts)
    expect(outcomes['truncated backing (half)']).toMatch(/EUCLEAN|EINVAL/);
    expect(outcomes['all zeros']).toMatch(/EUCLEAN: .*magic/);
    expect(outcomes['a committed journal transaction with a bad body']).toMatch(/EUCLEAN: journal: .*body checksum mismatch/);
    expect(outcomes['a committed journal transaction replayed again (idempotent)']).toBe('clean');
    expect(outcomes['inode high-water past the table']).toMatch(/EUCLEAN: .*high-water/);
    expect(outcomes['file size past the largest file']).toMatch(/EUCLEAN: inode 0: absurd size/);
  });

  it(`${IMAGES} randomly mutated images: refused or repaired, never a crash or a silent wrong answer`, async () => {
    const path = uniquePath(dir, 'mutated');
    writeFileSync(path, base.image);
    const fd = openSync(path, 'r+');
    const rand = rng(20261125);
    const tally = new Map<string, number>();
    const scratch = Buffer.alloc(base.image.length);
    try {
      for (let i = 0; i < IMAGES; i++) {
        const m = randomMutation(base, rand);
        base.image.copy(scratch);
        m.apply(scratch);
        writeSync(fd, scratch, 0, scratch.length, 0);
        let outcome: Outcome;
        try {
          outcome = judge(path, base, !m.resealed);
        } catch (e) {
          throw new Error(`image ${i} (${m.kind} in the ${m.area}${m.resealed ? ', re-sealed' : ''}): ${(e as Error).message}`);
        }
        const key = `${m.area.startsWith('extent block') ? 'extent blocks' : m.area}: ${outcome.kind}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
        if (i % 500 === 499) await yieldToLoop(); // keep the test runner's RPC alive
      }
    } finally {
      closeSync(fd);
    }
    console.log(`corrupted images: ${IMAGES} mutated images\n${[...tally].sort().map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
    expect([...tally.values()].reduce((a, b) => a + b, 0)).toBe(IMAGES);
  }, 600_000);
});
