import { Pool, type FormatOptions } from '../../lib/index.js';
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
