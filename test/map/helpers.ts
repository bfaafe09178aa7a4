import { afterEach, expect } from 'vitest';

import type { Pool, PoolFile } from '../../lib/index.js';
import { newPool } from '../pool/helpers.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const PAGE = 4096;

/** The invariant run after every scenario: no page of any mapping shows a free block, another file's block or a page past EOF. */
export function expectMappingsSound(pool: Pool): void {
  expect(pool.verifyMappings()).toEqual([]);
}

export function text(view: Uint8Array): string {
  return Buffer.from(view.buffer, view.byteOffset, view.length).toString();
}

/**
 * A fresh pool per test, verified and closed after it: no page of any
 * mapping may show a free or foreign block, and with `check` the pool must
 * check clean. A test that closes the pool itself calls forget(); one that
 * reopens it hands the new one to adopt().
 */
export function poolPerTest(options: { check?: boolean } = {}) {
  let current: Pool | undefined;
  let path = '';
  afterEach(() => {
    if (current) {
      expectMappingsSound(current);
      if (options.check) expect(current.check().problems).toEqual([]);
    }
    current?.close();
    current = undefined;
  });
  return {
    fresh(size = 64 * MiB): Pool {
      const created = newPool(size);
      current = created.pool;
      path = created.path;
      return current;
    },
    get path(): string {
      return path;
    },
    forget(): void {
      current = undefined;
    },
    adopt(pool: Pool): Pool {
      current = pool;
      return pool;
    },
  };
}

/** Bytes [position, position + length) of `f`, read whole. */
export function fileBytes(f: PoolFile, position: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  expect(f.read(b, position)).toBe(length);
  return b;
}

/** Fills the pool's free space but `margin` blocks with a file, so that the next allocations must reuse freed blocks. */
export function fillPool(p: Pool, name: string, margin = 32): void {
  const f = p.open(name, { create: true });
  const bytes = (p.info().freeBlocks - margin) * PAGE;
  if (bytes > 0) f.write(Buffer.alloc(bytes, 0x46), 0);
  f.close();
}
