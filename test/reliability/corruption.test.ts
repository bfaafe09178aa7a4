// Corrupted and hostile images: open refuses them with a typed corruption
// error naming the damage, or opens them and check/repair leaves a pool that
// check accepts — never a crash, a hang, an out-of-range access or a silent
// wrong answer. Damage to one file's metadata stays with that file: every
// file whose metadata the damage did not touch reads exactly as before, and
// the touched one gives a typed error naming it, or reads exactly as before.
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';

import { setImmediate as yieldToLoop } from 'node:timers/promises';

import { describe as group, expect, it } from 'vitest';

import { isDaxfsError, Pool, type FileStat } from '../../lib/index.js';
import { rng } from '../pool/crash-model.js';
import { tmpfsDir, uniquePath } from '../helpers.js';
import { buildBase, hostileImages, randomMutation, type BaseImage } from './corruption.js';
import { commitSeed, replaySeed } from './seeds.js';

const dir = tmpfsDir();
/** Mutated images per run (the pinned seed and the commit's share them); a replay runs this many of its seed. */
const IMAGES = Number(process.env.DAXFS_CORRUPT_IMAGES ?? 10_000);
const REPLAY = replaySeed('DAXFS_CORRUPT_SEED');
/** A replay judges images FIRST..IMAGES-1 of its seed (the ones before are drawn, not judged): one image alone costs one. */
const FIRST = Number(process.env.DAXFS_CORRUPT_FIRST ?? 0);
if (!Number.isSafeInteger(FIRST) || FIRST < 0 || FIRST >= IMAGES) throw new Error(`DAXFS_CORRUPT_FIRST must be an image index below DAXFS_CORRUPT_IMAGES (${IMAGES}), got '${process.env.DAXFS_CORRUPT_FIRST}'`);
if (FIRST > 0 && REPLAY === undefined) throw new Error('DAXFS_CORRUPT_FIRST replays part of one seed: set DAXFS_CORRUPT_SEED too');
/**
 * Images that failed once (seed, and the image's index in it): each is
 * judged on every run, alone (the mutations before it are drawn, not
 * judged).
 */
const REGRESSIONS: { seed: number; image: number }[] = [
  // a random word over an inode's flags and name length set the orphan bit
  // and a name length of 0: the damaged file was taken for an unlinked one,
  // not listed, and a repair would have freed it
  { seed: 357467310, image: 1240 },
];

type Outcome =
  | { kind: 'refused'; code: string; message: string }
  | { kind: 'clean' }
  | { kind: 'repaired'; what: string[]; damaged: string[] };

/** What the judge knows of the damage: whether a checksum was recomputed over it, and whose metadata it touched. */
interface Damage {
  resealed: boolean;
  touched: Set<number>;
}

function readAll(pool: Pool, name: string): Buffer {
  const f = pool.open(name);
  try {
    const b = Buffer.alloc(Math.min(f.size, 1 << 20));
    f.read(b, 0);
    // and the tail of a (valid but) huge sparse file
    if (f.size > b.length) f.read(Buffer.alloc(4096), f.size - 4096);
    return b;
  } finally {
    f.close();
  }
}

/**
 * Every file as the rule wants it. `damage` undefined (hostile images): every
 * file reads without an untyped error. Otherwise, a file whose metadata was
 * not touched (and no checksum was forged) is listed under its name, not
 * damaged, and reads exactly as before; a touched one is listed damaged and
 * refused with EUCLEAN naming it, or reads exactly as before (forged
 * checksums: any typed outcome).
 */
function judgeFiles(pool: Pool, base: BaseImage, damage: Damage | undefined, when: string): void {
  const listed = pool.list();
  for (const st of listed) {
    if (st.damaged !== undefined) {
      expectRefused(pool, st, when);
      continue;
    }
    const bytes = readAll(pool, st.name);
    const exact = damage !== undefined && !damage.resealed && base.files.has(st.name) && base.inos.get(st.name) === st.ino;
    if (exact && !bytes.equals(base.files.get(st.name)!)) throw new Error(`${when}: silent wrong answer: '${st.name}' reads differently and nothing reported damage`);
  }
  if (damage === undefined || damage.resealed) return;
  for (const [name, ino] of base.inos) {
    const st = listed.find((s) => s.ino === ino);
    if (damage.touched.has(ino)) {
      if (!st) throw new Error(`${when}: '${name}' (inode ${ino}) is neither listed nor listed as damaged`);
      continue;
    }
    if (!st || st.name !== name || st.damaged !== undefined)
      throw new Error(`${when}: '${name}' (inode ${ino}), whose metadata nothing touched, is ${st ? `listed as '${st.name}'${st.damaged ? ` and damaged: ${st.damaged}` : ''}` : 'missing'}`);
  }
}

function expectRefused(pool: Pool, st: FileStat, when: string): void {
  try {
    pool.open(st.name).close();
  } catch (e) {
    if (!isDaxfsError(e) || e.code !== 'EUCLEAN') throw new Error(`${when}: opening damaged '${st.name}' threw ${String(e)}`);
    if (!e.message.includes(`'${st.name}' (inode ${st.ino}`)) throw new Error(`${when}: the error does not name the file: ${e.message}`);
    return;
  }
  throw new Error(`${when}: damaged '${st.name}' opened`);
}

/** Opens the image at `path` and judges it; throws (a test failure) on anything but a clean outcome. */
function judge(path: string, base: BaseImage, damage: Damage | undefined): Outcome {
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
    judgeFiles(pool, base, damage, 'at mount');
    const first = pool.check();
    if (!first.ok) {
      const repair = pool.check({ repair: true });
      const after = pool.check();
      if (!after.ok)
        throw new Error(`open accepted an image check cannot repair: ${after.problems.map((p) => p.message).join('; ')} (repair: ${repair.repaired.length} fixed)`);
      outcome = { kind: 'repaired', what: first.problems.map((p) => p.kind), damaged: first.problems.filter((p) => p.kind === 'damaged').map((p) => p.message) };
    }
    if (pool.list().some((st) => st.damaged !== undefined)) throw new Error('a damaged file is left after repair');
    // Undamaged files are where they were; the damaged ones are set aside under reserved names.
    judgeFiles(pool, base, damage && { ...damage, touched: new Set([...damage.touched, ...setAside(pool)]) }, 'after repair');
    if (damage && !damage.resealed && outcome.kind === 'clean' && pool.list().length !== base.files.size)
      throw new Error(`silent wrong answer: ${pool.list().length} files listed, ${base.files.size} expected`);
    // The pool stays usable: a new file, then a clean check. (What a repair
    // set aside may fill the pool: removing it makes room.)
    const probe = pool.open(`probe-${Date.now()}`, { create: true });
    try {
      probe.write(Buffer.alloc(3 * 4096 + 5, 0x70), 0);
    } catch (e) {
      if (!isDaxfsError(e) || e.code !== 'ENOSPC' || setAside(pool).length === 0) throw e;
      for (const st of pool.list()) if (st.name.startsWith('lost+found.')) pool.unlink(st.name);
      probe.write(Buffer.alloc(3 * 4096 + 5, 0x70), 0);
    }
    probe.close();
    const last = pool.check();
    if (!last.ok) throw new Error(`after a write the check finds: ${last.problems.map((p) => p.message).join('; ')}`);
    judgeFiles(pool, base, damage && { ...damage, touched: new Set([...damage.touched, ...setAside(pool)]) }, 'after a new file');
    return outcome;
  } catch (e) {
    if (isDaxfsError(e) && e.code === 'EUCLEAN' && damage?.resealed !== false) return { kind: 'refused', code: e.code, message: e.message };
    throw e;
  } finally {
    pool.close();
  }
}

/** Inode numbers of files a repair set aside (lost+found.<inode>). */
function setAside(pool: Pool): number[] {
  return pool.list().filter((st) => st.name.startsWith('lost+found.')).map((st) => st.ino);
}

/** Images `first`..`count`-1 mutated from seed `seed`; returns the outcomes tallied by area. */
async function mutateAndJudge(base: BaseImage, seed: number, first: number, count: number, label: string): Promise<Map<string, number>> {
  const from = first > 0 ? ` from image ${first}` : '';
  console.log(`corrupted images: seed ${seed} (${label}), ${count - first} images${from} — replay: DAXFS_CORRUPT_SEED=${seed}${first > 0 ? ` DAXFS_CORRUPT_FIRST=${first}` : ''} DAXFS_CORRUPT_IMAGES=${count}`);
  const path = uniquePath(dir, 'mutated');
  writeFileSync(path, base.image);
  const fd = openSync(path, 'r+');
  const rand = rng(seed);
  const tally = new Map<string, number>();
  const scratch = Buffer.alloc(base.image.length);
  try {
    for (let i = 0; i < count; i++) {
      const m = randomMutation(base, rand);
      if (i < first) continue; // drawn (so that image i is the seed's image i), not judged
      base.image.copy(scratch);
      const touched = m.apply(scratch);
      writeSync(fd, scratch, 0, scratch.length, 0);
      let outcome: Outcome;
      try {
        outcome = judge(path, base, { resealed: m.resealed, touched });
      } catch (e) {
        const alone = `DAXFS_CORRUPT_SEED=${seed} DAXFS_CORRUPT_FIRST=${i} DAXFS_CORRUPT_IMAGES=${i + 1}`;
        throw new Error(`seed ${seed}, image ${i} (${m.kind} in the ${m.area}${m.resealed ? ', re-sealed' : ''}; replay it alone: ${alone}): ${(e as Error).message}`);
      }
      const kind = outcome.kind === 'repaired' && outcome.damaged.length > 0 ? 'a file damaged, set aside' : outcome.kind;
      const key = `${m.area.startsWith('extent block') ? 'extent blocks' : m.area}: ${kind}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
      if (i % 500 === 499) await yieldToLoop(); // keep the test runner's RPC alive
    }
  } finally {
    closeSync(fd);
  }
  const refused = [...tally].filter(([k]) => k.endsWith(': refused')).reduce((n, [, v]) => n + v, 0);
  console.log(`corrupted images: seed ${seed}: ${count - first} mutated images${from}, ${refused} refused pool-wide\n${[...tally].sort().map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
  return tally;
}

group('corrupted and hostile images', () => {
  const base = buildBase(uniquePath(dir, 'base'));

  it('the base image opens clean and holds every kind of metadata', () => {
    const path = uniquePath(dir, 'img');
    writeFileSync(path, base.image);
    expect(judge(path, base, { resealed: false, touched: new Set() })).toEqual({ kind: 'clean' });
    expect(base.areas.some((a) => a.name.startsWith('extent block'))).toBe(true);
  });

  it('structured hostile images are each refused with a message naming the damage, or the damaged file is set aside', () => {
    const path = uniquePath(dir, 'hostile');
    const outcomes: Record<string, string> = {};
    for (const { name, image } of hostileImages(base)) {
      writeFileSync(path, image);
      let outcome: Outcome;
      try {
        outcome = judge(path, base, undefined);
      } catch (e) {
        throw new Error(`${name}: ${(e as Error).message}`);
      }
      outcomes[name] =
        outcome.kind === 'refused' ? `${outcome.code}: ${outcome.message}` : outcome.kind === 'repaired' ? `repaired ${outcome.what.join(', ')}${outcome.damaged.map((d) => `; ${d}`).join('')}` : 'clean';
    }
    console.log(Object.entries(outcomes).map(([k, v]) => `  ${k} → ${v}`).join('\n'));
    // Damage to the pool as a whole refuses the mount, naming it.
    expect(outcomes['newer format version']).toMatch(/EUCLEAN: .*format version 4 is not supported/);
    expect(outcomes['truncated backing (half)']).toMatch(/EUCLEAN|EINVAL/);
    expect(outcomes['all zeros']).toMatch(/EUCLEAN: .*magic/);
    expect(outcomes['a committed journal transaction with a bad body']).toMatch(/EUCLEAN: journal: .*body checksum mismatch/);
    expect(outcomes['inode high-water past the table']).toMatch(/EUCLEAN: .*high-water/);
    expect(outcomes['owned blocks marked free in the bitmap']).toBe('clean'); // re-marked at mount (regressions.test.ts)
    expect(outcomes['a committed journal transaction replayed again (idempotent)']).toBe('clean');
    // Damage to one file — even damage the checksums cannot see — is that file's.
    const small = `file 'small' \\(inode 0\\) is damaged`;
    expect(outcomes['a size word whose check fails']).toMatch(new RegExp(`^repaired damaged.*; ${small}: the size word fails its check`));
    expect(outcomes['absurd file size (2^60)']).toMatch(new RegExp(`; ${small}: the size word fails its check`));
    expect(outcomes['file size past the largest file']).toMatch(new RegExp(`; ${small}: absurd size`));
    expect(outcomes['extent past the end of the pool']).toMatch(new RegExp(`; ${small}: .*outside the data area`));
    expect(outcomes['extent in the metadata area']).toMatch(new RegExp(`; ${small}: .*outside the data area`));
    expect(outcomes['extents of two files overlapping']).toMatch(new RegExp(`; ${small}: blocks \\d+\\.\\.\\d+ are also claimed by inode 1 \\('sparse'\\); file 'sparse' \\(inode 1\\) is damaged: .*claimed by inode 0`));
    expect(outcomes['extents of one file out of order']).toMatch(/; file 'fragmented' \(inode 2\) is damaged: .*out of order/);
    expect(outcomes['extent-block chain cycle']).toMatch(/; file 'fragmented' \(inode 2\) is damaged: .*cycle/);
    expect(outcomes['extent count beyond the chain']).toMatch(/; file 'fragmented' \(inode 2\) is damaged: /);
    expect(outcomes['two files with one name']).toMatch(/; file 'small' \(inode 0\) is damaged: name 'small' is also used by inode 1; file 'lost\+found\.1' \(inode 1, named 'small' on media\) is damaged/);
  });

  const runs =
    REPLAY !== undefined
      ? [{ seed: REPLAY, first: FIRST, images: IMAGES, label: 'replay' }]
      : [
          { seed: 20261125, first: 0, images: Math.ceil(IMAGES / 2), label: 'pinned' },
          (() => {
            const c = commitSeed('corruption');
            return { seed: c.seed, first: 0, images: Math.ceil(IMAGES / 2), label: c.from };
          })(),
          ...REGRESSIONS.map((r) => ({ seed: r.seed, first: r.image, images: r.image + 1, label: 'regression' })),
        ];
  // A pool whose inode table grew: its chunk's slots and its map are metadata like the rest.
  if (REPLAY === undefined) {
    const grown = buildBase(uniquePath(dir, 'grown'), 2 << 20, true);
    it('a grown table: the base opens clean; mutations of its chunk and map are refused or kept to the files they touch', async () => {
      const path = uniquePath(dir, 'img');
      writeFileSync(path, grown.image);
      expect(judge(path, grown, { resealed: false, touched: new Set() })).toEqual({ kind: 'clean' });
      expect(grown.areas.map((a) => a.name)).toEqual(expect.arrayContaining(['inode table chunk', 'inode table map']));
      const images = Math.ceil(IMAGES / 8);
      const tally = await mutateAndJudge(grown, 20261129, 0, images, 'grown table');
      expect([...tally.values()].reduce((a, b) => a + b, 0)).toBe(images);
      expect([...tally.keys()].some((k) => k.startsWith('inode table chunk:'))).toBe(true);
      expect([...tally.keys()].some((k) => k.startsWith('inode table map:'))).toBe(true);
    }, 600_000);
  }

  for (const run of runs) {
    const what = run.first > 0 ? `image ${run.first}` : `${run.images} randomly mutated images`;
    it(`seed ${run.seed} (${run.label}): ${what}: refused, or damage kept to the file it touched`, async () => {
      const tally = await mutateAndJudge(base, run.seed, run.first, run.images, run.label);
      expect([...tally.values()].reduce((a, b) => a + b, 0)).toBe(run.images - run.first);
    }, 600_000);
  }
});
