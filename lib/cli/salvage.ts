// daxfs salvage: every file a salvage mount can read — damaged ones as far
// as they can be recovered — copied into a directory. The pool is opened
// read-only and nothing in it changes; no file in the directory is
// overwritten.
import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

import { BLOCK } from '../pool/layout.js';
import type { PoolFile } from '../pool/file.js';
import { Pool } from '../pool/pool.js';

const CHUNK = 8 << 20;

export interface SalvagedFile {
  name: string;
  ino: number;
  bytes: number;
  file: string;
  /** Present when the file's metadata is damaged: what it holds is what could be recovered. */
  damaged?: string;
}

export interface SalvageResult {
  dir: string;
  files: SalvagedFile[];
  /** Pool-wide damage the salvage mount worked around. */
  notes: string[];
}

/**
 * The file name a pool name gets in the directory: '%' as '%25', and the
 * names '.' and '..' as '%2E' and '%2E%2E', so that every pool name has a
 * file of its own (and decoding the percent escapes gives the name back).
 */
export function salvageFileName(name: string): string {
  const escaped = name.replaceAll('%', '%25');
  return escaped === '.' ? '%2E' : escaped === '..' ? '%2E%2E' : escaped;
}

/** Copies every readable file of the pool at `poolPath` into `dir` (created if missing). */
export function salvagePool(poolPath: string, dir: string): SalvageResult {
  const pool = Pool.open(poolPath, { salvage: true });
  try {
    mkdirSync(dir, { recursive: true });
    const files: SalvagedFile[] = [];
    const chunk = Buffer.alloc(CHUNK);
    for (const st of pool.list()) {
      const file = path.join(dir, salvageFileName(st.name));
      const fd = openSync(file, 'wx');
      try {
        const f = pool.open(st.name);
        try {
          copyOut(f, fd, chunk);
        } finally {
          f.close();
        }
      } finally {
        closeSync(fd);
      }
      files.push({ name: st.name, ino: st.ino, bytes: st.size, file, ...(st.damaged !== undefined ? { damaged: st.damaged } : {}) });
    }
    return { dir, files, notes: pool.info().salvage ?? [] };
  } finally {
    pool.close();
  }
}

/** Copies the file's written blocks to `fd` at their offsets; holes (and unwritten blocks) stay holes. */
function copyOut(f: PoolFile, fd: number, chunk: Buffer): void {
  const size = f.size;
  for (let fb = 0; fb * BLOCK < size; ) {
    const m = f.getBlock(fb);
    const end = Math.min((fb + m.count) * BLOCK, size);
    if (m.mapped && !m.unwritten)
      for (let at = fb * BLOCK; at < end; ) {
        const n = f.read(chunk, at, 0, Math.min(chunk.length, end - at));
        for (let done = 0; done < n; ) done += writeSync(fd, chunk, done, n - done, at + done);
        at += n;
      }
    fb += m.count;
  }
  ftruncateSync(fd, size);
}
