import { readFileSync, writeFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { hashName, NameIndex } from '../../lib/pool/name-index.js';
import { BLOCK } from '../../lib/pool/layout.js';
import { Pool } from '../../lib/pool/pool.js';
import { rng } from './crash-model.js';
import { newPool } from './helpers.js';

/** Two different names of one hash, found by trying names in order (deterministic). */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let k = 0; ; k++) {
    const name = `n${k}`;
    const h = hashName(name);
    const other = seen.get(h);
    if (other !== undefined) return [other, name];
    seen.set(h, name);
  }
}

/** An index whose files' names live in `files` (ino → name), as they live in inodes. */
function indexOver(files: Map<number, string>): NameIndex {
  return new NameIndex((ino) => files.get(ino));
}

describe('NameIndex', () => {
  it('behaves like a Map of names across inserts, renames and deletes (growth, probe runs, wrap-around)', () => {
    const rand = rng(7);
    const files = new Map<number, string>();
    const index = indexOver(files);
    const model = new Map<string, number>();
    let nextIno = 0;
    for (let step = 0; step < 30_000; step++) {
      const op = rand(4);
      const names = [...model.keys()];
      if (op < 2 || names.length === 0) {
        const name = `f${rand(5_000)}`;
        const old = model.get(name);
        const ino = nextIno++;
        // the name goes to a new file: its old entry deleted first (as commit does), or overwritten
        const first = rand(2) === 0;
        if (old !== undefined && first) expect(index.delete(name)).toBe(true);
        files.set(ino, name);
        index.set(name, ino);
        if (old !== undefined) files.delete(old);
        model.set(name, ino);
      } else if (op === 2) {
        const name = names[rand(names.length)]!;
        expect(index.delete(name)).toBe(true);
        files.delete(model.get(name)!);
        model.delete(name);
      } else {
        const name = `f${rand(5_000)}`;
        expect(index.get(name)).toBe(model.get(name));
      }
      expect(index.size).toBe(model.size);
    }
    for (const [name, ino] of model) expect(index.get(name)).toBe(ino);
    expect(new Map(index)).toEqual(model);
  });

  it('tells apart two names of one hash: each finds its own file, and deleting one leaves the other', () => {
    const [a, b] = collidingPair();
    expect(a).not.toBe(b);
    expect(hashName(a)).toBe(hashName(b));
    const files = new Map([
      [3, a],
      [9, b],
    ]);
    const index = indexOver(files);
    index.set(a, 3).set(b, 9);
    expect([index.get(a), index.get(b), index.size]).toEqual([3, 9, 2]);
    expect(index.delete(a)).toBe(true);
    files.delete(3);
    expect([index.get(a), index.get(b), index.size]).toEqual([undefined, 9, 1]);
    // the scan's form: a second file under a listed name is reported, not added
    expect(index.addNew(b, 12, (ino) => files.get(ino))).toBe(9);
    files.set(12, a);
    expect(index.addNew(a, 12, (ino) => files.get(ino))).toBeUndefined();
    expect([index.get(a), index.size]).toEqual([12, 2]);
  });

  it('keeps temporaries apart: listed and counted without reading any inode', () => {
    const files = new Map([[1, 'plain']]);
    const reads: number[] = [];
    const index = new NameIndex((ino) => {
      reads.push(ino);
      return files.get(ino);
    });
    index.set('plain', 1).set('.daxfs-tmp.42.1', 2);
    expect([index.size, index.temporaryCount]).toEqual([2, 1]);
    expect([...index.temporaryEntries()]).toEqual([['.daxfs-tmp.42.1', 2]]);
    expect(index.get('.daxfs-tmp.42.1')).toBe(2);
    expect(reads).toEqual([]);
    index.deleteInos((ino) => ino === 2);
    expect([index.size, index.temporaryCount, index.get('plain')]).toEqual([1, 0, 1]);
  });

  it('a pool finds, renames and lists its files through it, before and after a mount', () => {
    const { pool, path } = newPool();
    for (let i = 0; i < 300; i++) pool.open(`file-${i}`, { create: true }).close();
    pool.rename('file-7', 'moved');
    pool.unlink('file-8');
    pool.close();
    const again = Pool.open(path);
    try {
      expect(again.stat('moved').name).toBe('moved');
      expect(again.stat('file-299').name).toBe('file-299');
      expect(() => again.stat('file-7')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
      expect(() => again.stat('file-8')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
      expect(again.list().length).toBe(299);
      expect(again.info().files).toBe(299);
      again.rename('moved', 'file-9'); // replaces file-9
      expect(again.list().map((f) => f.name).filter((n) => n === 'file-9' || n === 'moved')).toEqual(['file-9']);
      expect(again.info().files).toBe(298);
    } finally {
      again.close();
    }
  });

  it('at mount, a damaged file whose stored name a sound file holds is listed under a reserved name', () => {
    const { pool, path } = newPool(8 << 20);
    for (const name of ['a', 'b']) pool.open(name, { create: true }).close();
    const inodeStart = pool.superblock().inodeStart;
    const ino = pool.stat('b').ino;
    pool.close();
    const image = readFileSync(path);
    image[inodeStart * BLOCK + ino * 512 + 64] = 0x61; // its name 'b' becomes 'a'
    image[inodeStart * BLOCK + ino * 512 + 17]! ^= 0x20; // and its checksum fails
    writeFileSync(path, image);
    const again = Pool.open(path);
    try {
      expect(again.list().map((st) => [st.name, st.ino, st.damaged])).toEqual([
        ['a', 0, undefined],
        [`lost+found.${ino}`, ino, 'checksum mismatch'],
      ]);
    } finally {
      again.close();
    }
  });

  it('at mount, two files whose names share a hash are both listed, each under its own name', () => {
    const [a, b] = collidingPair();
    const { pool, path } = newPool(8 << 20);
    for (const name of [a, 'other', b]) {
      const f = pool.open(name, { create: true });
      f.write(Buffer.from(name), 0);
      f.close();
    }
    const inos = [a, b].map((n) => pool.stat(n).ino);
    pool.close();
    const again = Pool.open(path);
    try {
      expect([a, b].map((n) => again.stat(n).ino)).toEqual(inos);
      expect(again.list().map((st) => [st.name, st.damaged])).toEqual(
        [a, b, 'other'].sort().map((n) => [n, undefined]),
      );
      again.unlink(a);
      expect(() => again.stat(a)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
      expect(again.stat(b).ino).toBe(inos[1]);
    } finally {
      again.close();
    }
  });
});
