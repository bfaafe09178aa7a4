import { readFileSync, writeFileSync } from 'node:fs';

import { Pool, type FormatOptions } from '../../lib/index.js';
import { BLOCK, type Superblock } from '../../lib/pool/layout.js';
import { tmpfsDir, uniquePath } from '../helpers.js';

const MiB = 1 << 20;
// Imported at the top of a test file: the directory is removed after that file.
const dir = tmpfsDir();

/** A freshly formatted pool on tmpfs, and its path. */
export function newPool(size = 16 * MiB, options: FormatOptions = {}): { pool: Pool; path: string } {
  const path = uniquePath(dir, 'pool');
  return { pool: Pool.format(path, { size, ...options }), path };
}

export function poolPath(): string {
  return uniquePath(dir, 'pool');
}

/**
 * A pool as a crash leaves it between a commit point and the apply: a fresh
 * pool where `setup` ran, then `write`, rewritten by committedNotApplied
 * (the metadata as after `setup`). Returns the path and the image on media.
 */
export function poolWithPendingTransaction(write: (pool: Pool) => void, setup: (pool: Pool) => void = () => {}): { path: string; image: Buffer } {
  const { pool, path } = newPool(8 << 20);
  setup(pool);
  const before = Buffer.alloc(pool.region.size);
  pool.region.read(0, before);
  write(pool);
  const sb = pool.superblock();
  pool.close();
  return { path, image: committedNotApplied(path, sb, before) };
}

/**
 * Rewrites the closed pool at `path` as a crash would leave it between a
 * transaction's commit point and its apply: the bitmap and inode table as in
 * `before` (an image taken before the transaction), the journal holding the
 * last transaction with its commit word set. Returns the new image.
 */
export function committedNotApplied(path: string, sb: Superblock, before: Buffer): Buffer {
  const image = readFileSync(path);
  before.copy(image, sb.bitmapStart * BLOCK, sb.bitmapStart * BLOCK, sb.dataStart * BLOCK);
  const header = sb.journalStart * BLOCK;
  image.writeBigUInt64LE(image.readBigUInt64LE(header + 8), header + 64);
  writeFileSync(path, image);
  return image;
}
