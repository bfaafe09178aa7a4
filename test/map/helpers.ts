import { expect } from 'vitest';

import type { Pool } from '../../lib/index.js';

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
