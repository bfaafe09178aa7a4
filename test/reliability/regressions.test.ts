// Bugs the reliability tests found, each kept as a named test.
import os from 'node:os';
import path from 'node:path';

import { writeFileSync } from 'node:fs';

import { describe as group, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import { expectCode, tmpfsDir, uniquePath } from '../helpers.js';
import { buildBase, hostileImages, sealInode } from './corruption.js';
import { checkRecording, crashPoints, record } from './crash-sim.js';

const dir = tmpfsDir();
const BLOCK = 4096;

group('regressions found by the crash simulator', () => {
  // Found 2026-11-25: a transaction that changed the superblock applied
  // both copies (blocks 0 and 1) in one fence epoch; a power failure tearing
  // both left a pool whose journal (which would have repaired them) could
  // not be found: mount failed with "primary superblock: checksum mismatch".
  // Fixed twice: the writer applies the backup in a fence epoch of its own
  // (tested here), and the reader finds the journal through the geometry of
  // the backing's size when both copies are bad (the saved image of the
  // original failure replays clean: replay.test.ts, torn-superblocks).
  it('torn-superblocks: the journal never has both superblock copies in flight at once', () => {
    const rec = record(uniquePath(dir, 'sb'), 4 << 20, 1000, 4); // creates files: the superblock is journaled
    let sawPrimary = 0;
    for (const point of crashPoints(rec)) {
      const lines = [...point.pendingByLine.keys()].map((line) => Math.floor((line * 64) / BLOCK));
      const primary = lines.includes(0);
      const backup = lines.includes(1);
      if (primary) sawPrimary++;
      expect(primary && backup, `crash point ${point.index}`).toBe(false);
    }
    expect(sawPrimary).toBeGreaterThan(0);
    const result = checkRecording(rec, uniquePath(dir, 'image'), { samples: 32, seed: 2, failDir: path.join(os.tmpdir(), 'daxfs-crash-failures') });
    expect(result.failures).toEqual([]);
  });
});

group('regressions found by the corrupted-image tests', () => {
  const base = buildBase(uniquePath(dir, 'base'));
  const hostile = new Map(hostileImages(base).map((h) => [h.name, h.image]));
  const mount = (name: string) => {
    const path = uniquePath(dir, 'hostile');
    writeFileSync(path, hostile.get(name)!);
    return path;
  };
  const INODE_TABLE = base.sb.inodeStart * BLOCK;

  // Found 2026-11-25: an inode whose size passed the largest file size (but
  // not 2^53) mounted; reading it then failed deep inside with a RangeError.
  it('absurd-size: an inode larger than the largest file refuses the mount', () => {
    expectCode(() => Pool.open(mount('file size past the largest file')), 'EUCLEAN', /inode 0: absurd size/);
  });

  // Found 2026-11-25: two files owning one block mounted writable; a write
  // to one would have changed the other. Now refused, read-only allowed.
  it('double-owner-mount: blocks owned twice refuse a writable mount; a read-only one reads the files', () => {
    const path = mount('extents of two files overlapping');
    expectCode(() => Pool.open(path), 'EUCLEAN', /owned by both inode 0 \('small'\) and inode 1 \('sparse'\)/);
    const ro = Pool.open(path, { readOnly: true });
    try {
      expect(ro.list().map((s) => s.name).sort()).toEqual(['fragmented', 'small', 'sparse']);
      expect(ro.check().problems.some((p) => p.kind === 'double-owner')).toBe(true);
    } finally {
      ro.close();
    }
  });

  // Found 2026-11-25: blocks owned by files but marked free in the bitmap
  // mounted as they were; the allocator would have handed them out again.
  it('unmarked-blocks-mount: owned blocks marked free are marked in use at mount, before any allocation', () => {
    const pool = Pool.open(mount('owned blocks marked free in the bitmap'));
    try {
      expect(pool.info().blocksRemarkedAtMount).toBeGreaterThan(0);
      expect(pool.check().problems).toEqual([]);
      const f = pool.open('new', { create: true });
      f.write(Buffer.alloc(64 * 1024, 1), 0);
      f.close();
      for (const [name, bytes] of base.files) {
        const g = pool.open(name);
        const b = Buffer.alloc(g.size);
        g.read(b, 0);
        g.close();
        expect(b.equals(bytes), name).toBe(true);
      }
    } finally {
      pool.close();
    }
  });

  // Found 2026-11-25: an inode whose name held NUL (or '/', or bytes that are
  // not UTF-8) mounted; check then reported a problem it could not repair.
  it('bad-name-mount: an on-media name with NUL, / or invalid UTF-8 refuses the mount', () => {
    for (const [bytes, why] of [[Buffer.from('a\0b'), /holds '\/' or NUL/], [Buffer.from('a/b'), /holds '\/' or NUL/], [Buffer.from([0x61, 0xff, 0x62]), /not valid UTF-8/]] as const) {
      const image = Buffer.from(base.image);
      const at = INODE_TABLE; // inode 0
      image.fill(0, at + 64, at + 64 + 255);
      bytes.copy(image, at + 64);
      image.writeUInt32LE(bytes.length, at + 4);
      sealInode(image, at, base.sb.inodeStart);
      const path = uniquePath(dir, 'name');
      writeFileSync(path, image);
      expectCode(() => Pool.open(path), 'EUCLEAN', why);
    }
  });
});

group('regressions found by the bad-input table', () => {
  // Found 2026-11-25: `?? default` took null for an absent option, so
  // getBlock(0, { maxBlocks: null }) and map({ offset: null }) went through.
  it('null-is-not-absent: null for maxBlocks, offset or faultAround is EINVAL', () => {
    const pool = Pool.format(uniquePath(dir, 'null'), { size: 4 << 20 });
    try {
      const f = pool.open('f', { create: true });
      f.write(Buffer.alloc(BLOCK, 1), 0);
      expectCode(() => f.getBlock(0, { maxBlocks: null as unknown as number }), 'EINVAL', /maxBlocks/);
      expectCode(() => f.map({ offset: null as unknown as number, length: BLOCK }), 'EINVAL', /offset/);
      expectCode(() => f.map({ length: BLOCK, faultAround: null as unknown as number }), 'EINVAL', /faultAround/);
    } finally {
      pool.close();
    }
  });

  // Found 2026-11-25: mapping.view(undefined, n) defaulted the offset to 0.
  it('view-needs-offset: mapping.view() without an offset is EINVAL', () => {
    const pool = Pool.format(uniquePath(dir, 'view'), { size: 4 << 20 });
    try {
      const f = pool.open('f', { create: true });
      f.write(Buffer.alloc(BLOCK, 1), 0);
      const m = f.map({ length: BLOCK });
      expectCode(() => m.view(undefined as unknown as number, 16), 'EINVAL', /offset/);
      expectCode(() => m.view(0, undefined as unknown as number), 'EINVAL', /length/);
      expect(m.view(0, 16).length).toBe(16);
    } finally {
      pool.close();
    }
  });
});
