// Inodes (512 bytes each in the inode table) and extent blocks. A file's
// name lives in its inode: the directory is the set of named inodes.
//
// inode:  0 flags u32 | 4 nameLen u32 | 8 size u64 | 16 mtimeMs u64 |
//         24 generation u64 | 32 extentCount u32 | 36 firstExtentBlock u32 |
//         64 name[256] | 320 inline extents[11] | 508 crc32
// extent: fileBlock u32 | poolBlock u32 | length u32 | flags u32 (1 = unwritten)
// extent block: magic u32 | count u32 | next u32 | crc32 u32 | extents[255]
//
// An extent block may hold fewer than 255 extents (count 1..255): a file's
// extent blocks are the chunks of its ExtentMap, and an edit rewrites only
// its own chunk. The inline extents are always the first 11.
import { endianness } from 'node:os';
import { crc32 } from 'node:zlib';
import { addon } from '../native.js';

import { daxfsError } from '../errors.js';
import { makeExtent, type Extent } from './extents.js';
import { ExtentMap, EXTENTS_PER_BLOCK, INLINE_EXTENTS, type Chunk } from './extent-map.js';
import { mix32, readU64, writeU64, zeroed } from './bytes.js';
import { BLOCK, INODE_SIZE, MAX_FILE_SIZE } from './layout.js';
import { isTemporaryName, TEMP_PREFIX } from './temporary.js';

export const FLAG_USED = 1;
export const FLAG_ORPHAN = 2;
export { EXTENTS_PER_BLOCK, INLINE_EXTENTS };
export const NAME_MAX = 255;
const EXTENT_BLOCK_MAGIC = 0x4b4c4258; // "XBLK"

export interface Inode {
  ino: number;
  flags: number;
  name: string;
  size: number;
  mtimeMs: number;
  generation: number;
  /** The block map: extents sorted by file block, in chunks (see extent-map.ts). */
  extents: ExtentMap;
  /**
   * Pool blocks the inode holds for extents that do not fit inline, in
   * chain order: the chunks' blocks once a commit has placed them (a commit
   * gives chunks not placed yet the ones no chunk uses, and frees the rest).
   */
  extentBlocks: number[];
}

/** Every inode object is made here: one hidden class (see makeExtent). An array of extents is packed into a new map. */
export function makeInode(ino: number, flags: number, name: string, size: number, mtimeMs: number, generation: number, extents: readonly Extent[] | ExtentMap, extentBlocks: number[]): Inode {
  return { ino, flags, name, size, mtimeMs, generation, extents: extents instanceof ExtentMap ? extents : ExtentMap.from(extents), extentBlocks };
}

/** A new version of an inode to edit: its map shares every chunk with the old one's (O(chunks), not O(extents)). */
export function cloneInode(i: Inode): Inode {
  return makeInode(i.ino, i.flags, i.name, i.size, i.mtimeMs, i.generation, i.extents.clone(), [...i.extentBlocks]);
}

/**
 * Checks a file name: UTF-8, 1..255 bytes, no '/', no NUL, and — unless
 * `reserved` allows it (the pool's own temporaries) — not starting with the
 * prefix of temporary files.
 */
export function checkName(name: unknown, what = 'name', reserved = false): string {
  if (typeof name !== 'string') throw daxfsError('EINVAL', `${what} must be a string`);
  const bytes = utf8Length(name);
  if (bytes < 1 || bytes > NAME_MAX) throw daxfsError('EINVAL', `${what} must be 1 to ${NAME_MAX} bytes of UTF-8, got ${bytes}`);
  if (name.includes('/')) throw daxfsError('EINVAL', `${what} must not contain '/'`);
  if (name.includes('\0')) throw daxfsError('EINVAL', `${what} must not contain NUL`);
  // a name of as many bytes as characters is ASCII, so valid UTF-8: the round trip is for the others
  if (bytes !== name.length && Buffer.from(name, 'utf8').toString('utf8') !== name) throw daxfsError('EINVAL', `${what} is not valid UTF-8`);
  if (!reserved && isTemporaryName(name)) throw daxfsError('EINVAL', `${what} must not start with '${TEMP_PREFIX}' (reserved for the pool's temporary files)`);
  return name;
}

/** UTF-8 bytes of `name`: counted here for ASCII (a name is short; the native call costs more), else by Buffer.byteLength. */
function utf8Length(name: string): number {
  const n = name.length;
  if (n > NAME_MAX) return Buffer.byteLength(name, 'utf8');
  for (let k = 0; k < n; k++) if (name.charCodeAt(k) >= 0x80) return Buffer.byteLength(name, 'utf8');
  return n;
}

const LITTLE_ENDIAN = endianness() === 'LE';

function readExtent(b: Buffer, at: number): Extent {
  return makeExtent(b.readUInt32LE(at), b.readUInt32LE(at + 4), b.readUInt32LE(at + 8), (b.readUInt32LE(at + 12) & 1) === 1);
}

/** Extent blocks an inode with `count` extents needs. */
export function extentBlocksFor(count: number): number {
  return Math.max(0, Math.ceil((count - INLINE_EXTENTS) / EXTENTS_PER_BLOCK));
}

/** Byte offset of the size word in an inode. */
export const SIZE_WORD = 8;

/**
 * The size word: the size in the low 44 bits, and in the high 20 a check
 * over the size and the inode number. It sits outside the inode's CRC so
 * that an append can change the size with one atomic 8-byte store; the
 * check still catches damage to it. Returns [low 32 bits, high 32 bits].
 */
export function sizeWord(size: number, ino: number): [number, number] {
  const lo = size % 0x100000000;
  const hi = Math.floor(size / 0x100000000); // < 2^12: sizes stay below 2^44
  const check = (sizeCheck(lo, hi, ino) & 0xfffff) >>> 0;
  return [lo, (hi | (check << 12)) >>> 0];
}

/**
 * A 32-bit mix of the size and the inode number (murmur3's finalizer over
 * the three words). It is on the append path, so it is arithmetic rather
 * than a CRC call (which costs ~0.4 µs from JavaScript here); every bit of
 * the input reaches every bit of the output, so damage to the word shows.
 */
function sizeCheck(lo: number, hi: number, ino: number): number {
  let h = 0x9e3779b9 ^ ino;
  h = Math.imul(h ^ lo, 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593);
  h = Math.imul(h ^ hi, 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593);
  return mix32(h);
}

/** Decodes a size word; -1 when its check does not match. */
export function decodeSizeWord(lo: number, hi: number, ino: number): number {
  const sizeHi = hi & 0xfff;
  if (hi >>> 12 !== (sizeCheck(lo, sizeHi, ino) & 0xfffff)) return -1;
  return sizeHi * 0x100000000 + lo;
}

/**
 * The inode's slot image, in `into` (INODE_SIZE bytes, overwritten) when
 * given, with its checksum (the last 4 bytes) left zero: the commit seals it
 * (JournalRecord.seal = SIZE_WORD: a CRC-32 over everything but the size
 * word, which carries its own check), in the same native call that journals it.
 */
export function encodeInode(i: Inode, into?: Buffer): Buffer {
  const b = into ? into.fill(0) : zeroed(INODE_SIZE);
  if (i.flags === 0) return b; // a free inode is all zeros
  b.writeUInt32LE(i.flags, 0);
  // written in place: the name was checked to fit 255 bytes
  b.writeUInt32LE(i.name.length === 0 ? 0 : writeName(b, i.name), 4);
  writeU64(b, Math.max(0, Math.round(i.mtimeMs)), 16);
  writeU64(b, i.generation, 24);
  b.writeUInt32LE(i.extents.length, 32);
  const chunks = i.extents.chunks();
  b.writeUInt32LE(chunks[1]?.block ?? 0, 36);
  copyExtents(chunks[0]!, b, 320);
  const [lo, hi] = sizeWord(i.size, i.ino);
  b.writeUInt32LE(lo, SIZE_WORD);
  b.writeUInt32LE(hi, SIZE_WORD + 4);
  return b;
}

/**
 * Writes `name` at byte 64 of `b`, returning its UTF-8 length: an ASCII
 * name byte by byte (most names: a native call costs more than the loop),
 * any other through Buffer.write.
 */
function writeName(b: Buffer, name: string): number {
  const n = name.length;
  for (let k = 0; k < n; k++) {
    const c = name.charCodeAt(k);
    if (c >= 0x80) return b.write(name, 64, NAME_MAX, 'utf8'); // overwrites the bytes written so far
    b[64 + k] = c;
  }
  return n;
}

/** Writes a chunk's extents at `at` (their layout in memory is the one on media). */
function copyExtents(chunk: Chunk, b: Buffer, at: number): void {
  if (chunk.n === 0) return;
  // a few extents (most files) value by value: a view costs more than they do
  if (LITTLE_ENDIAN && chunk.n > 2) {
    b.set(new Uint8Array(chunk.data.buffer, chunk.data.byteOffset, chunk.n * 16), at);
    return;
  }
  const d = chunk.data;
  for (let k = 0; k < chunk.n * 4; k++) b.writeUInt32LE(d[k]!, at + k * 4);
}

/** The extent block holding `chunk`, whose chain continues at `next` (0: the last); in `into` (BLOCK bytes, overwritten) when given. */
export function encodeExtentBlock(chunk: Chunk, next: number, into?: Buffer): Buffer {
  const b = into ?? Buffer.allocUnsafe(BLOCK);
  b.writeUInt32LE(EXTENT_BLOCK_MAGIC, 0);
  b.writeUInt32LE(chunk.n, 4);
  b.writeUInt32LE(next, 8);
  b.writeUInt32LE(0, 12);
  copyExtents(chunk, b, 16);
  // every byte is written: the header, the extents, then zeros (none after a full chunk)
  if (16 + chunk.n * 16 < BLOCK) b.fill(0, 16 + chunk.n * 16);
  // computed with the crc field still zero; natively: node:zlib's takes twice as long for a block, twice per edit of a large file
  b.writeUInt32LE(addon.crc32(b), 12);
  return b;
}

/**
 * The extent blocks of `i` that differ from `before` (its version on
 * media): a chunk is unchanged when `before` has the very same chunk
 * object followed by the same block (chunks never change once made). Each
 * with the block it goes to, encoded into a buffer `into(k)` gives for the
 * k-th (or a fresh one). All of them when there is no earlier version.
 * O(chunks), without a lookup structure: both maps' chunks are in file
 * order and a chunk holds at least one extent, so a chunk `before` shares
 * is found by walking its list once, by first file block.
 */
export function changedExtentBlocks(i: Inode, before: Inode | undefined, into?: (k: number) => Buffer | undefined): { block: number; data: Buffer; chunk: Chunk }[] {
  const chunks = i.extents.chunks();
  const out: { block: number; data: Buffer; chunk: Chunk }[] = [];
  if (chunks.length === 1) return out;
  const old = before && before.extents !== i.extents ? before.extents.chunks() : [];
  let j = 1;
  for (let k = 1; k < chunks.length; k++) {
    const c = chunks[k]!;
    const next = chunks[k + 1]?.block ?? 0;
    const first = c.data[0]!;
    while (j < old.length && old[j]!.data[0]! < first) j++;
    if (j < old.length && old[j] === c && (old[j + 1]?.block ?? 0) === next) continue;
    out.push({ block: c.block, data: encodeExtentBlock(c, next, into?.(out.length)), chunk: c });
  }
  return out;
}

export interface DecodedInode {
  inode: Inode;
  /** Extents still to be read from the chain starting at this block. */
  firstExtentBlock: number;
  extentCount: number;
}

/**
 * Whether a slot has the shape the writer gives a file unlinked while open:
 * flags exactly in-use and orphan, and no name (length 0, every name byte
 * zero — encodeInode writes none). Only such a slot may be taken for an
 * orphan, whose blocks mount and repair free: an orphan bit on a slot that
 * still holds a name, or among flags that are garbage, is damage to a named
 * file, not a sign that the file was unlinked.
 */
export function isOrphanSlot(b: Buffer): boolean {
  if (b.readUInt32LE(0) !== (FLAG_USED | FLAG_ORPHAN) || b.readUInt32LE(4) !== 0) return false;
  for (let k = 64; k < 64 + NAME_MAX; k++) if (b[k] !== 0) return false;
  return true;
}

const ZERO_SIZE_WORD = Buffer.alloc(8);

/** Decodes an inode slot; null for a free slot; EUCLEAN for a damaged one. */
export function decodeInode(b: Buffer, ino: number): DecodedInode | null {
  const flags = b.readUInt32LE(0);
  if (flags === 0) {
    if (b.some((x) => x !== 0)) throw daxfsError('EUCLEAN', `inode ${ino}: free but not zeroed`);
    return null;
  }
  const bad = (why: string) => daxfsError('EUCLEAN', `inode ${ino}: ${why}`);
  // the CRC with the size word taken as zero, in three runs: no copy of the slot
  let crc = crc32(b.subarray(0, SIZE_WORD));
  crc = crc32(ZERO_SIZE_WORD, crc);
  crc = crc32(b.subarray(SIZE_WORD + 8, INODE_SIZE - 4), crc);
  if (b.readUInt32LE(INODE_SIZE - 4) !== crc) throw bad('checksum mismatch');
  if ((flags & FLAG_USED) === 0 || (flags & ~(FLAG_USED | FLAG_ORPHAN)) !== 0) throw bad(`bad flags ${flags}`);
  const nameLen = b.readUInt32LE(4);
  if (flags & FLAG_ORPHAN) {
    if (!isOrphanSlot(b)) throw bad('flagged unlinked but holds a name');
  } else if (nameLen < 1 || nameLen > NAME_MAX) throw bad(`bad name length ${nameLen}`);
  const size = decodeSizeWord(b.readUInt32LE(SIZE_WORD), b.readUInt32LE(SIZE_WORD + 4), ino);
  if (size < 0) throw bad('the size word fails its check (damaged)');
  if (size > MAX_FILE_SIZE) throw bad(`absurd size ${size} (the largest file is ${MAX_FILE_SIZE} bytes)`);
  const extentCount = b.readUInt32LE(32);
  const rawName = b.subarray(64, 64 + nameLen);
  const name = rawName.toString('utf8');
  if (nameLen > 0) {
    if (!Buffer.from(name, 'utf8').equals(rawName)) throw bad('name is not valid UTF-8');
    if (name.includes('/') || name.includes('\0')) throw bad(`name ${JSON.stringify(name)} holds '/' or NUL`);
  }
  const inline: Extent[] = [];
  for (let k = 0; k < Math.min(INLINE_EXTENTS, extentCount); k++) inline.push(readExtent(b, 320 + k * 16));
  const inode = makeInode(ino, flags, name, size, Math.max(0, readU64(b, 16)), Math.max(0, readU64(b, 24)), inline, []);
  return { inode, firstExtentBlock: b.readUInt32LE(36), extentCount };
}

/** Decodes one extent block of inode `ino`; returns its extents and the next block. */
export function decodeExtentBlock(b: Buffer, ino: number, block: number): { extents: Extent[]; next: number } {
  const bad = (why: string) => daxfsError('EUCLEAN', `inode ${ino}: extent block ${block}: ${why}`);
  if (b.readUInt32LE(0) !== EXTENT_BLOCK_MAGIC) throw bad('bad magic');
  const stored = b.readUInt32LE(12);
  const copy = Buffer.from(b);
  copy.writeUInt32LE(0, 12);
  if (crc32(copy) !== stored) throw bad('checksum mismatch');
  const count = b.readUInt32LE(4);
  if (count < 1 || count > EXTENTS_PER_BLOCK) throw bad(`bad count ${count}`);
  const extents: Extent[] = [];
  for (let j = 0; j < count; j++) extents.push(readExtent(b, 16 + j * 16));
  return { extents, next: b.readUInt32LE(8) };
}

/** Blocks the file owns inside EOF (preallocation past it is not the file's yet). */
export function blocksInsideEof(inode: Inode): number {
  const eofBlock = Math.ceil(inode.size / BLOCK);
  let n = 0;
  for (const e of inode.extents) n += Math.max(0, Math.min(e.length, eofBlock - e.fileBlock));
  return n;
}
