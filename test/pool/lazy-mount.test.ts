import { describe, expect, it } from 'vitest';

import { Pool } from '../../lib/index.js';
import type { InodeStore } from '../../lib/pool/inode-store.js';
import { pattern } from '../helpers.js';
import { newPool } from './helpers.js';

function store(pool: Pool): InodeStore {
  return (pool as unknown as { state: { inodes: InodeStore } }).state.inodes;
}

describe('mount decodes an inode on first use, not every inode', () => {
  it('a mount of 3,000 files decodes none of them; a lookup decodes one, once', () => {
    const { pool, path } = newPool(64 << 20);
    for (let i = 0; i < 3000; i++) {
      const f = pool.open(`f${i}`, { create: true });
      f.write(pattern(100, i), 0);
      f.close();
    }
    pool.close();
    const again = Pool.open(path);
    try {
      const inodes = store(again);
      expect(inodes.decodes).toBe(0);
      expect(inodes.used).toBe(3000);
      expect(again.info().files).toBe(3000);
      expect(again.stat('f1234').size).toBe(100);
      expect(inodes.decodes).toBe(1);
      const f = again.open('f1234');
      const b = Buffer.alloc(100);
      f.read(b, 0);
      f.write(pattern(10, 9), 100);
      f.close();
      expect(b.equals(pattern(100, 1234))).toBe(true);
      again.unlink('f7');
      again.rename('f8', 'g8');
      expect(inodes.decodes).toBe(3);
      expect(again.stat('g8').ino).toBe(8);
      // what a lookup decodes is the inode as committed: the names moved with it
      expect(again.list().length).toBe(2999);
      expect(again.check().problems).toEqual([]);
    } finally {
      again.close();
    }
    const third = Pool.open(path, { readOnly: true });
    expect(third.stat('f1234').size).toBe(110);
    expect(third.stat('g8').ino).toBe(8);
    expect(() => third.stat('f7')).toThrow(/no file named 'f7'/);
    third.close();
  });
});
