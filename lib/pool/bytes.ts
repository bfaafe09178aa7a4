// Buffer helpers for the metadata hot path. Buffer.alloc of a fresh
// ArrayBuffer costs microseconds here (zeroed off-heap memory, external
// memory accounting, GC pressure); small buffers come from Node's pool
// instead, zeroed explicitly. 64-bit fields hold safe integers, written as
// two 32-bit halves rather than through BigInt.

/** A zeroed buffer of `size` bytes; pooled (cheap) below 4 KiB. */
export function zeroed(size: number): Buffer {
  return Buffer.allocUnsafe(size).fill(0);
}

export function writeU64(b: Buffer, value: number, at: number): void {
  b.writeUInt32LE(value % 0x100000000, at);
  b.writeUInt32LE(Math.floor(value / 0x100000000), at + 4);
}

/** A 64-bit field as a number; -1 when it exceeds 2^53-1 (callers treat that as damage). */
export function readU64(b: Buffer, at: number): number {
  const hi = b.readUInt32LE(at + 4);
  if (hi > 0x1fffff) return -1;
  return hi * 0x100000000 + b.readUInt32LE(at);
}

/**
 * murmur3's 32-bit finalizer: every input bit reaches every output bit.
 * The inode size word's check is made with it, so its arithmetic is part of
 * the format and must not change.
 */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
