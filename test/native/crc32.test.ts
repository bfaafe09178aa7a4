// The native CRC-32 the commit path uses for extent blocks: the very value
// node:zlib computes (what mount checks), over every length class the
// folding path and the table tail divide a buffer into.
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { addon } from '../../lib/native.js';
import { expectCode } from '../helpers.js';

/** Bytes from a fixed pseudo-random sequence. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('addon.crc32', () => {
  it('equals node:zlib crc32 for every length up to 300 and at every offset into a 16-byte lane', () => {
    const data = bytes(400, 7);
    for (let offset = 0; offset < 16; offset++)
      for (let length = 0; length <= 300; length++) {
        const view = data.subarray(offset, offset + length);
        expect(addon.crc32(view)).toBe(crc32(view));
      }
  });

  it('equals node:zlib crc32 for whole blocks: zeros, a pattern, random bytes', () => {
    const pattern = Buffer.alloc(4096);
    for (let i = 0; i < 4096; i++) pattern[i] = i & 0xff;
    for (const block of [Buffer.alloc(4096), pattern, bytes(4096, 1), bytes(65536 + 13, 2)]) expect(addon.crc32(block)).toBe(crc32(block));
    expect(addon.crc32(Buffer.alloc(4096))).toBe(0xc71c0011);
    expect(addon.crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('takes a plain Uint8Array and rejects anything else with EINVAL', () => {
    const plain = new Uint8Array(bytes(100, 3));
    expect(addon.crc32(plain)).toBe(crc32(plain));
    for (const bad of [undefined, 'abc', 5, new Uint16Array(4), new ArrayBuffer(8), [1, 2]])
      expectCode(() => addon.crc32(bad as unknown as Uint8Array), 'EINVAL', /data must be a Uint8Array/);
  });
});
