// Damaged files: what they refuse, the reserved names, repairs, and salvage
// mounts (a committed journal transaction read through in memory, or
// ignored when it fails its checks).
import { readFileSync, writeFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { BLOCK, computeGeometry } from '../../lib/pool/layout.js';
import { expectCode, pattern } from '../helpers.js';
import { sealInode } from '../reliability/corruption.js';
import { newPool, poolWithPendingTransaction } from './helpers.js';

function readFile(pool: Pool, name: string): Buffer {
  const f = pool.open(name);
  const b = Buffer.alloc(f.size);
  f.read(b, 0);
  f.close();
  return b;
}

/** A pool holding `names` (5000 bytes each, patterned by index), with a bit of the mtime of `damage` flipped on media. */
function poolWithDamage(names: string[], damage: string[]): string {
  const { pool, path } = newPool(8 << 20);
  for (const [i, name] of names.entries()) {
    const f = pool.open(name, { create: true });
    f.write(pattern(5000, i + 1), 0);
    f.close();
  }
  const inodeStart = pool.superblock().inodeStart;
  const inos = damage.map((n) => pool.stat(n).ino);
  pool.close();
  const image = readFileSync(path);
  for (const ino of inos) image[inodeStart * BLOCK + ino * 512 + 17]! ^= 0x20;
  writeFileSync(path, image);
  return path;
}

describe('damaged files', () => {
  it('are refused by open, stat, unlink and rename (either side), and listed; the rest of the pool works', () => {
    const pool = Pool.open(poolWithDamage(['a', 'b', 'c'], ['b']));
    try {
      const why = /file 'b' \(inode 1\) is damaged: checksum mismatch/;
      expectCode(() => pool.open('b'), 'EUCLEAN', why);
      expectCode(() => pool.open('b', { create: true }), 'EUCLEAN', why);
      expectCode(() => pool.stat('b'), 'EUCLEAN', why);
      expectCode(() => pool.unlink('b'), 'EUCLEAN', why);
      expectCode(() => pool.rename('b', 'z'), 'EUCLEAN', why);
      expectCode(() => pool.rename('a', 'b'), 'EUCLEAN', why);
      expect(pool.list().map((st) => [st.name, st.damaged])).toEqual([
        ['a', undefined],
        ['b', 'checksum mismatch'],
        ['c', undefined],
      ]);
      expect(pool.info()).toMatchObject({ files: 3, damagedFiles: 1, inodes: { used: 3 } });
      pool.rename('a', 'z');
      pool.unlink('c');
      const n = pool.open('new', { create: true });
      n.write(pattern(3 * BLOCK, 9), 0);
      n.close();
      // the damaged file's slot is not reused
      expect(pool.stat('new').ino).toBe(2);
      expect(readFile(pool, 'z').equals(pattern(5000, 1))).toBe(true);
    } finally {
      pool.close();
    }
  });

  it('names starting with lost+found. are reserved: no file is created or renamed to one; a repair sets files aside there', () => {
    const pool = Pool.open(poolWithDamage(['a', 'b'], ['a', 'b']));
    try {
      expectCode(() => pool.open('lost+found.7', { create: true }), 'EINVAL', /name 'lost\+found\.7' is reserved/);
      const report = pool.check({ repair: true });
      expect(report.repaired.map((p) => p.kind)).toEqual(['damaged', 'damaged']);
      expect(pool.list().map((st) => [st.name, st.ino])).toEqual([
        ['lost+found.0', 0],
        ['lost+found.1', 1],
      ]);
      expect(readFile(pool, 'lost+found.0').equals(pattern(5000, 1))).toBe(true);
      expect(readFile(pool, 'lost+found.1').equals(pattern(5000, 2))).toBe(true);
      // set-aside files can be renamed out of the reserved names, not into them
      expectCode(() => pool.rename('lost+found.0', 'lost+found.9'), 'EINVAL', /to 'lost\+found\.9' is reserved/);
      pool.rename('lost+found.1', 'b');
      expect(pool.check().ok).toBe(true);
    } finally {
      pool.close();
    }
  });

  it('a lost+found name already taken (by a file from before the reservation) gets a numbered suffix', () => {
    const path = poolWithDamage(['a', 'b'], ['b']);
    // inode 0 renamed on media to 'lost+found.1', checksum recomputed
    const pool = Pool.open(path, { readOnly: true });
    const at = pool.superblock().inodeStart * BLOCK;
    pool.close();
    const image = readFileSync(path);
    image.fill(0, at + 64, at + 64 + 255);
    image.write('lost+found.1', at + 64);
    image.writeUInt32LE('lost+found.1'.length, at + 4);
    sealInode(image, at, at / BLOCK);
    writeFileSync(path, image);
    const live = Pool.open(path);
    try {
      expect(live.check({ repair: true }).ok).toBe(true);
      expect(live.list().map((st) => [st.name, st.ino])).toEqual([
        ['lost+found.1', 0],
        ['lost+found.1.2', 1],
      ]);
      expect(readFile(live, 'lost+found.1.2').equals(pattern(5000, 2))).toBe(true);
    } finally {
      live.close();
    }
  });

  // Only a slot shaped as the writer shapes an unlinked-while-open inode —
  // flags exactly in use + orphan, name length 0, no name bytes — is taken
  // for an orphan (whose blocks mount and repair free). Damage that sets the
  // orphan bit and clears the name length of a named file leaves its name
  // bytes: that file is damaged, listed, and kept by a repair.
  describe('the orphan bit', () => {
    /** A pool holding 'a' and 'b' (5000 bytes each); `edit` changes b's inode slot on media. */
    function withSlotOfB(edit: (slot: Buffer) => void): { path: string; ino: number } {
      const { pool, path } = newPool(8 << 20);
      for (const [i, name] of ['a', 'b'].entries()) {
        const f = pool.open(name, { create: true });
        f.write(pattern(5000, i + 1), 0);
        f.close();
      }
      const ino = pool.stat('b').ino;
      const at = pool.superblock().inodeStart * BLOCK + ino * 512;
      pool.close();
      const image = readFileSync(path);
      edit(image.subarray(at, at + 512));
      writeFileSync(path, image);
      return { path, ino };
    }

    const words: [what: string, flags: number][] = [
      ['a random word over flags and name length (orphan bit set, name length 0)', 0x12057b16],
      ['flags in use + orphan, name length 0', 3],
    ];
    for (const [what, flags] of words) {
      it(`${what}, name bytes left: the file is damaged, listed and set aside, never freed`, () => {
        const { path, ino } = withSlotOfB((slot) => {
          slot.writeUInt32LE(flags, 0);
          slot.writeUInt32LE(0, 4);
        });
        const pool = Pool.open(path);
        try {
          expect(pool.info().orphansFreedAtMount).toBe(0);
          const why = `file 'lost+found.${ino}' (inode ${ino}) is damaged: checksum mismatch`;
          expect(pool.list().map((st) => [st.name, st.ino, st.damaged])).toEqual([
            ['a', 0, undefined],
            [`lost+found.${ino}`, ino, 'checksum mismatch'],
          ]);
          expectCode(() => pool.open(`lost+found.${ino}`), 'EUCLEAN', new RegExp(why.replace(/[.+()]/g, '\\$&')));
          expect(pool.check().problems.map((p) => [p.kind, p.message])).toEqual([['damaged', why]]);
          expect(pool.check({ repair: true }).ok).toBe(true);
          expect(pool.check().problems).toEqual([]);
          expect(readFile(pool, `lost+found.${ino}`).equals(pattern(5000, 2))).toBe(true);
          expect(readFile(pool, 'a').equals(pattern(5000, 1))).toBe(true);
        } finally {
          pool.close();
        }
      });
    }

    it('an orphan bit on a slot that still holds a name is damage even under a valid checksum', () => {
      const { path, ino } = withSlotOfB((slot) => {
        slot.writeUInt32LE(3, 0);
        sealInode(slot, 0, 0);
      });
      const pool = Pool.open(path);
      try {
        expect(pool.info().orphansFreedAtMount).toBe(0);
        expect(pool.list().map((st) => [st.name, st.damaged])).toEqual([
          ['a', undefined],
          ['b', 'flagged unlinked but holds a name'],
        ]);
        expect(pool.check({ repair: true }).ok).toBe(true);
        expect(readFile(pool, `lost+found.${ino}`).equals(pattern(5000, 2))).toBe(true);
      } finally {
        pool.close();
      }
    });

    it('a damaged slot with the whole shape of an orphan is an orphan: not listed, freed by the repair', () => {
      const { pool, path } = newPool(8 << 20);
      const keep = pool.open('a', { create: true });
      keep.write(pattern(5000, 1), 0);
      keep.close();
      const f = pool.open('gone', { create: true });
      f.write(pattern(3 * BLOCK, 2), 0);
      pool.unlink('gone'); // still open: an orphan on media
      const ino = f.ino;
      const sb = pool.superblock();
      const image = Buffer.alloc(pool.region.size);
      pool.region.read(0, image);
      f.close();
      pool.close();
      image[sb.inodeStart * BLOCK + ino * 512 + 17]! ^= 0x20; // mtime: the checksum fails
      writeFileSync(path, image);
      const live = Pool.open(path);
      try {
        expect(live.list().map((st) => st.name)).toEqual(['a']);
        expect(live.check().problems.map((p) => p.message)).toEqual([`unlinked inode ${ino} is damaged: checksum mismatch`]);
        const free = live.info().freeBlocks;
        expect(live.check({ repair: true }).ok).toBe(true);
        expect(live.info().freeBlocks).toBe(free + 3);
        expect(live.list().map((st) => st.name)).toEqual(['a']);
        expect(live.check().problems).toEqual([]);
      } finally {
        live.close();
      }
    });
  });

  it('salvage mounts read a committed transaction a read-only mount cannot replay, and ignore one that fails its checks', () => {
    const { path, image } = poolWithPendingTransaction(
      (pool) => {
        const f = pool.open('x');
        f.write(pattern(3 * BLOCK, 4), 0); // one transaction: a block allocated, the inode's map and size
        f.close();
      },
      (pool) => pool.open('x', { create: true }).close(),
    );
    // (a read-only mount replays it in memory: read-only.test.ts)
    const salvage = Pool.open(path, { salvage: true });
    try {
      expect(salvage.readOnly).toBe(true);
      expect(readFile(salvage, 'x').equals(pattern(3 * BLOCK, 4))).toBe(true);
      expect(salvage.info().salvage).toEqual([expect.stringMatching(/^journal: a committed transaction of \d+ records is read through in memory/)]);
      expectCode(() => salvage.open('y', { create: true }), 'EROFS');
    } finally {
      salvage.close();
    }
    // the file on media is unchanged by the salvage mount
    expect(readFileSync(path).equals(image)).toBe(true);
    // a committed transaction whose body fails its checksum: ignored, the state before it is read
    image[(computeGeometry(image.length).journalStart + 1) * BLOCK + 20]! ^= 0x40;
    writeFileSync(path, image);
    expectCode(() => Pool.open(path), 'EUCLEAN', /journal: committed transaction \d+: body checksum mismatch/);
    const broken = Pool.open(path, { salvage: true });
    try {
      expect(broken.stat('x').size).toBe(0);
      expect(broken.info().salvage).toEqual([expect.stringMatching(/body checksum mismatch: not replayed/)]);
    } finally {
      broken.close();
    }
  });

  it('salvage is a boolean and read-only', () => {
    const { pool, path } = newPool();
    pool.close();
    expectCode(() => Pool.open(path, { salvage: 'yes' as unknown as boolean }), 'EINVAL', /salvage must be a boolean/);
    expectCode(() => Pool.open(path, { salvage: true, readOnly: false }), 'EINVAL', /read-only/);
    const ro = Pool.open(path, { salvage: true });
    expect(ro.info()).toMatchObject({ readOnly: true, salvage: [], damagedFiles: 0 });
    ro.close();
  });
});
