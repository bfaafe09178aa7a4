// The mount scan's quick look at one inode slot: the checks decodeInode
// and the scan make, done on the bytes in place, with no object per inode
// (an inode object, its extents and its map per file were most of what a
// mount of many files allocated, and the heap they grew stayed resident).
// It answers only for the common shapes — a free slot, a named file of
// ASCII or valid UTF-8 name with at most INLINE_EXTENTS extents — and for
// anything else, or any failed check, says "look again" (SLOW): the full
// decode then gives the same verdict it always did, with its message.
import { crc32 } from 'node:zlib';

import { decodeSizeWord, FLAG_USED, INLINE_EXTENTS, NAME_MAX, SIZE_WORD } from './inode.js';
import { BLOCK, INODE_SIZE, MAX_FILE_SIZE } from './layout.js';

export const QUICK_FREE = 0;
export const QUICK_USED = 1;
export const QUICK_SLOW = -1;

/** What the quick look found in a slot it passed as QUICK_USED (one object, reused: nothing is allocated per slot). */
export const quick = {
  name: '',
  generation: 0,
  /** Inline extents, all checked: fileBlock, poolBlock, length at 320 + 16k. */
  extentCount: 0,
  /** Whether blocks are mapped wholly past EOF (preallocation a crash left). */
  pastEof: false,
};

/**
 * Looks at the slot at byte `at` of `b` (inode `ino`): QUICK_FREE (all
 * zeros), QUICK_USED (a sound named file with only inline extents, details
 * in `quick`), or QUICK_SLOW (anything else: decode it in full). The size
 * word is zeroed for the CRC and put back, so `b` is as it was.
 */
export function quickSlot(b: Buffer, at: number, ino: number, g: { dataStart: number; nblocks: number }): number {
  const flags = b.readUInt32LE(at);
  if (flags === 0) return isZero(b, at) ? QUICK_FREE : QUICK_SLOW;
  if (flags !== FLAG_USED) return QUICK_SLOW; // orphans and bad flags: rare, decoded in full
  const lo = b.readUInt32LE(at + SIZE_WORD);
  const hi = b.readUInt32LE(at + SIZE_WORD + 4);
  // the CRC with the size word taken as zero: zeroed in place for one call over the slot
  b.writeUInt32LE(0, at + SIZE_WORD);
  b.writeUInt32LE(0, at + SIZE_WORD + 4);
  const crc = crc32(b.subarray(at, at + INODE_SIZE - 4));
  b.writeUInt32LE(lo, at + SIZE_WORD);
  b.writeUInt32LE(hi, at + SIZE_WORD + 4);
  if (b.readUInt32LE(at + INODE_SIZE - 4) !== crc) return QUICK_SLOW;
  const nameLen = b.readUInt32LE(at + 4);
  if (nameLen < 1 || nameLen > NAME_MAX) return QUICK_SLOW;
  const size = decodeSizeWord(lo, hi, ino);
  if (size < 0 || size > MAX_FILE_SIZE) return QUICK_SLOW;
  const count = b.readUInt32LE(at + 32);
  if (count > INLINE_EXTENTS) return QUICK_SLOW; // extent blocks: decoded in full
  const nameAt = at + 64;
  let ascii = true;
  for (let k = nameAt; k < nameAt + nameLen; k++) {
    const c = b[k]!;
    if (c === 0 || c === 0x2f) return QUICK_SLOW; // NUL or '/': UTF-8 has these bytes only as themselves
    if (c >= 0x80) ascii = false;
  }
  let name: string;
  if (ascii) name = b.toString('latin1', nameAt, nameAt + nameLen);
  else {
    name = b.toString('utf8', nameAt, nameAt + nameLen);
    if (!Buffer.from(name, 'utf8').equals(b.subarray(nameAt, nameAt + nameLen))) return QUICK_SLOW;
  }
  let prevEnd = 0;
  for (let k = 0; k < count; k++) {
    const e = at + 320 + 16 * k;
    const fileBlock = b.readUInt32LE(e);
    const poolBlock = b.readUInt32LE(e + 4);
    const length = b.readUInt32LE(e + 8);
    if (length < 1 || fileBlock < prevEnd) return QUICK_SLOW;
    if (poolBlock < g.dataStart || poolBlock + length > g.nblocks) return QUICK_SLOW;
    if (fileBlock + length > 2 ** 32) return QUICK_SLOW;
    prevEnd = fileBlock + length;
  }
  const hiGen = b.readUInt32LE(at + 28);
  quick.name = name;
  quick.generation = hiGen > 0x1fffff ? 0 : hiGen * 0x100000000 + b.readUInt32LE(at + 24);
  quick.extentCount = count;
  quick.pastEof = count > 0 && prevEnd > Math.ceil(size / BLOCK);
  return QUICK_USED;
}

/** Whether the slot at `at` is all zeros. */
function isZero(b: Buffer, at: number): boolean {
  for (let k = at; k < at + INODE_SIZE; k += 4) if (b.readUInt32LE(k) !== 0) return false;
  return true;
}
