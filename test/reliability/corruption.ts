// Corrupted and hostile pool images: a base pool with every kind of
// metadata in use, and mutations of each metadata area — random bit flips,
// random bytes, zeroed ranges, and the same re-sealed with a correct
// checksum (damage the checksums cannot see), plus structured hostile
// cases (newer format, extents past the end or overlapping, extent-block
// cycles, absurd sizes, truncated backings).
import { crc32 } from 'node:zlib';

import { MAX_FILE_SIZE, Pool } from '../../lib/index.js';
import { SIZE_WORD, sizeWord } from '../../lib/pool/inode.js';
import { bytesFor, rng } from '../pool/crash-model.js';

export const BLOCK = 4096;
const INODE = 512;
const SB_BYTES = 256;

export interface Area {
  name: string;
  start: number;
  length: number;
  /** Recomputes the checksum covering byte `at` (after a mutation), if the area has one. */
  reseal?: (image: Buffer, at: number) => void;
  /** An extent block: the inode whose chain it is in. */
  ino?: number;
  /** Inode slots (the fixed table area, or a chunk of the table): the inode of the area's first slot. */
  firstIno?: number;
}

export interface BaseImage {
  image: Buffer;
  areas: Area[];
  files: Map<string, Buffer>;
  /** Inode numbers of the files. */
  inos: Map<string, number>;
  sb: { nblocks: number; dataStart: number; inodeStart: number; journalStart: number; bitmapStart: number; bitmapBlocks: number };
}

/**
 * Builds a pool with small, sparse, fragmented (extent-block chain) and
 * unlinked-while-open files. `grown`: empty files fill most of the fixed
 * inode table first, so that the files above take its last slots and a
 * file 'chunked' (and the orphan) lives in a chunk of the grown table,
 * listed by the table's map.
 */
export function buildBase(path: string, size = 2 << 20, grown = false): BaseImage {
  const pool = Pool.format(path, { size });
  const files = new Map<string, Buffer>();
  if (grown)
    for (let i = 0; i < pool.superblock().inodeCount - 3; i++) {
      pool.open(`pad${i}`, { create: true }).close();
      files.set(`pad${i}`, Buffer.alloc(0));
    }
  const small = pool.open('small', { create: true });
  small.write(Buffer.from('a small file'), 0);
  files.set('small', Buffer.from('a small file'));
  const sparse = pool.open('sparse', { create: true });
  sparse.write(bytesFor(5000, 1), 100_000);
  const sparseBytes = Buffer.alloc(105_000);
  bytesFor(5000, 1).copy(sparseBytes, 100_000);
  files.set('sparse', sparseBytes);
  // Fragmented: a block every other block, so that the file needs more than
  // the 11 inline extents (an extent-block chain).
  const frag = pool.open('fragmented', { create: true });
  const fragBytes = Buffer.alloc(79 * BLOCK);
  for (let i = 0; i < 40; i++) {
    const b = bytesFor(BLOCK, 100 + i);
    frag.write(b, 2 * i * BLOCK);
    b.copy(fragBytes, 2 * i * BLOCK);
  }
  files.set('fragmented', fragBytes);
  const chunked = grown ? pool.open('chunked', { create: true }) : undefined;
  if (chunked) {
    chunked.write(bytesFor(2 * BLOCK + 7, 5), 0);
    files.set('chunked', bytesFor(2 * BLOCK + 7, 5));
  }
  const orphan = pool.open('orphan', { create: true });
  orphan.write(bytesFor(3 * BLOCK, 9), 0);
  pool.unlink('orphan'); // still open: an orphan in the image
  const named = chunked ? [small, sparse, frag, chunked] : [small, sparse, frag];
  const inos = new Map(named.map((f) => [f.stat().name, f.ino]));
  for (const f of named) f.close();
  const sb = pool.superblock();
  const image = Buffer.from(readBacking(pool));
  pool.close(); // frees the orphan in the file; the copy keeps it
  const geometry = { nblocks: sb.nblocks, dataStart: sb.dataStart, inodeStart: sb.inodeStart, journalStart: sb.journalStart, bitmapStart: sb.bitmapStart, bitmapBlocks: sb.bitmapBlocks };
  const table = { fixed: sb.inodeCount, chunks: chunksOf(image, sb.tableMapBlock, sb.tableChunks), map: sb.tableMapBlock };
  return { image, areas: areasOf(image, geometry, sb.inodeHighWater, table), files, inos, sb: geometry };
}

function readBacking(pool: Pool): Buffer {
  const b = Buffer.alloc(pool.region.size);
  pool.region.read(0, b);
  return b;
}

function sealSuperblock(image: Buffer, base: number): void {
  image.writeUInt32LE(crc32(image.subarray(base, base + SB_BYTES - 4)), base + SB_BYTES - 4);
}

/** Recomputes the CRC of the inode holding byte `at` (which leaves out the size word). */
export function sealInode(image: Buffer, at: number, inodeStart: number): void {
  const base = inodeStart * BLOCK + Math.floor((at - inodeStart * BLOCK) / INODE) * INODE;
  const covered = Buffer.from(image.subarray(base, base + INODE - 4));
  covered.fill(0, SIZE_WORD, SIZE_WORD + 8);
  image.writeUInt32LE(crc32(covered), base + INODE - 4);
}

function sealExtentBlock(image: Buffer, block: number): void {
  const b = image.subarray(block * BLOCK, (block + 1) * BLOCK);
  b.writeUInt32LE(0, 12);
  b.writeUInt32LE(crc32(b), 12);
}

/** The extent-block chain of the inode at `ino` (in the fixed table area). */
export function extentChain(image: Buffer, inodeStart: number, ino: number): number[] {
  return extentChainAt(image, inodeStart * BLOCK + ino * INODE);
}

/** The extent-block chain of the inode whose slot is at byte `slot`. */
function extentChainAt(image: Buffer, slot: number): number[] {
  const chain: number[] = [];
  let block = image.readUInt32LE(slot + 36);
  while (block !== 0 && chain.length < 16 && !chain.includes(block)) {
    chain.push(block);
    block = image.readUInt32LE(block * BLOCK + 8);
  }
  return chain;
}

/** The chunks of the inode table the map at `block` lists (the first map block's entries: the base images need no more). */
function chunksOf(image: Buffer, block: number, count: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < count; j++) out.push(image.readUInt32LE(block * BLOCK + 16 + 4 * j));
  return out;
}

function sealMapBlock(image: Buffer, block: number): void {
  const b = image.subarray(block * BLOCK, (block + 1) * BLOCK);
  b.writeUInt32LE(0, 12);
  b.writeUInt32LE(crc32(b), 12);
}

const CHUNK_INODES = 128;

function areasOf(image: Buffer, sb: BaseImage['sb'], highWater: number, table: { fixed: number; chunks: number[]; map: number }): Area[] {
  const areas: Area[] = [
    { name: 'superblock', start: 0, length: SB_BYTES, reseal: (img) => sealSuperblock(img, 0) },
    { name: 'backup superblock', start: BLOCK, length: SB_BYTES, reseal: (img) => sealSuperblock(img, BLOCK) },
    { name: 'journal header', start: sb.journalStart * BLOCK, length: 128 },
    { name: 'journal body', start: (sb.journalStart + 1) * BLOCK, length: 2 * BLOCK },
    { name: 'bitmap', start: sb.bitmapStart * BLOCK, length: Math.ceil(sb.nblocks / 8) },
    { name: 'inode table', start: sb.inodeStart * BLOCK, length: Math.min(highWater, table.fixed) * INODE, reseal: (img, at) => sealInode(img, at, sb.inodeStart), firstIno: 0 },
  ];
  const slotAt = (ino: number) => (ino < table.fixed ? sb.inodeStart * BLOCK + ino * INODE : table.chunks[Math.floor((ino - table.fixed) / CHUNK_INODES)]! * BLOCK + ((ino - table.fixed) % CHUNK_INODES) * INODE);
  table.chunks.forEach((chunk, k) => {
    const first = table.fixed + k * CHUNK_INODES;
    const slots = Math.min(CHUNK_INODES, highWater - first);
    if (slots > 0) areas.push({ name: 'inode table chunk', start: chunk * BLOCK, length: slots * INODE, reseal: (img, at) => sealInode(img, at, chunk), firstIno: first });
  });
  if (table.chunks.length > 0)
    areas.push({ name: 'inode table map', start: table.map * BLOCK, length: 16 + 4 * table.chunks.length, reseal: (img) => sealMapBlock(img, table.map) });
  for (let ino = 0; ino < highWater; ino++) {
    for (const block of extentChainAt(image, slotAt(ino)))
      areas.push({ name: `extent block ${block}`, start: block * BLOCK, length: BLOCK, reseal: (img) => sealExtentBlock(img, block), ino });
  }
  return areas;
}

export interface Mutation {
  area: string;
  kind: string;
  resealed: boolean;
  /** Changes the image; returns the inodes whose own metadata (slot or extent blocks) it touched. */
  apply(image: Buffer): Set<number>;
}

/** A random mutation of a random metadata area. */
export function randomMutation(base: BaseImage, rand: (n: number) => number): Mutation {
  const area = base.areas[rand(base.areas.length)]!;
  const reseal = area.reseal !== undefined && rand(2) === 0;
  const kinds = ['bit flips', 'random bytes', 'zeroed range', 'random 8-byte word'];
  const kind = kinds[rand(kinds.length)]!;
  const seed = rand(2 ** 30);
  return {
    area: area.name,
    kind,
    resealed: reseal,
    apply(image: Buffer): Set<number> {
      const r = rng(seed);
      const touched: number[] = [];
      let zeroedTo = -1;
      const at = () => {
        const p = area.start + r(area.length);
        touched.push(p);
        return p;
      };
      if (kind === 'bit flips') for (let i = 0, n = 1 + r(3); i < n; i++) image[at()]! ^= 1 << r(8);
      else if (kind === 'random bytes') for (let i = 0, n = 1 + r(16); i < n; i++) image[at()] = r(256);
      else if (kind === 'zeroed range') {
        const p = at();
        zeroedTo = Math.min(area.start + area.length, p + 1 + r(64));
        image.fill(0, p, zeroedTo);
      } else {
        const p = area.start + Math.floor(r(area.length) / 8) * 8;
        touched.push(p);
        image.writeUInt32LE(r(2 ** 32), p);
        image.writeUInt32LE([0, 1, r(2 ** 32), 0xffffffff][r(4)]!, p + 4);
      }
      if (reseal) for (const p of touched) area.reseal!(image, p);
      // whose metadata changed: the inode slots the bytes fall in, or the extent block's owner
      const inos = new Set<number>();
      if (area.ino !== undefined) inos.add(area.ino);
      if (area.firstIno !== undefined) {
        const slot = (p: number) => area.firstIno! + Math.floor((p - area.start) / INODE);
        for (const p of touched) inos.add(slot(p));
        if (zeroedTo >= 0) for (let k = slot(touched[0]!); k <= slot(zeroedTo - 1); k++) inos.add(k);
      }
      return inos;
    },
  };
}

/** Structured hostile images, each re-sealed so that only deeper checks can refuse them. */
export function hostileImages(base: BaseImage): { name: string; image: Buffer }[] {
  const { sb } = base;
  const inodeAt = (ino: number) => sb.inodeStart * BLOCK + ino * INODE;
  const out: { name: string; image: Buffer }[] = [];
  const variant = (name: string, change: (img: Buffer) => Buffer | void) => {
    const img = Buffer.from(base.image);
    out.push({ name, image: change(img) ?? img });
  };
  variant('newer format version', (img) => {
    img.writeUInt32LE(4, 8);
    sealSuperblock(img, 0);
    img.writeUInt32LE(4, BLOCK + 8);
    sealSuperblock(img, BLOCK);
  });
  variant('absurd file size (2^60)', (img) => {
    img.writeBigUInt64LE(2n ** 60n, inodeAt(0) + 8);
    sealInode(img, inodeAt(0), sb.inodeStart);
  });
  variant('file size past the largest file', (img) => {
    // a well-formed size word (its check matches) holding a size too large
    const [lo, hi] = sizeWord(MAX_FILE_SIZE + 1, 0);
    img.writeUInt32LE(lo, inodeAt(0) + SIZE_WORD);
    img.writeUInt32LE(hi, inodeAt(0) + SIZE_WORD + 4);
  });
  variant('a size word whose check fails', (img) => {
    img[inodeAt(0) + SIZE_WORD]! ^= 0x10;
  });
  variant('extent past the end of the pool', (img) => {
    img.writeUInt32LE(sb.nblocks - 1, inodeAt(0) + 320 + 4);
    img.writeUInt32LE(10, inodeAt(0) + 320 + 8);
    sealInode(img, inodeAt(0), sb.inodeStart);
  });
  variant('extent in the metadata area', (img) => {
    img.writeUInt32LE(1, inodeAt(0) + 320 + 4);
    sealInode(img, inodeAt(0), sb.inodeStart);
  });
  variant('extents of two files overlapping', (img) => {
    const other = img.readUInt32LE(inodeAt(1) + 320 + 4);
    img.writeUInt32LE(other, inodeAt(0) + 320 + 4);
    sealInode(img, inodeAt(0), sb.inodeStart);
  });
  variant('extents of one file out of order', (img) => {
    const frag = fragmentedIno(base);
    img.writeUInt32LE(0, inodeAt(frag) + 320 + 16);
    sealInode(img, inodeAt(frag), sb.inodeStart);
  });
  variant('extent-block chain cycle', (img) => {
    const frag = fragmentedIno(base);
    const chain = extentChain(img, sb.inodeStart, frag);
    const last = chain[chain.length - 1]!;
    img.writeUInt32LE(chain[0]!, last * BLOCK + 8);
    sealExtentBlock(img, last);
    // the inode claims more extents than it has, so the chain is followed
    img.writeUInt32LE(img.readUInt32LE(inodeAt(frag) + 32) + 300, inodeAt(frag) + 32);
    sealInode(img, inodeAt(frag), sb.inodeStart);
  });
  variant('extent count beyond the chain', (img) => {
    const frag = fragmentedIno(base);
    img.writeUInt32LE(1_000_000, inodeAt(frag) + 32);
    sealInode(img, inodeAt(frag), sb.inodeStart);
  });
  variant('inode high-water past the table', (img) => {
    for (const at of [0, BLOCK]) {
      img.writeBigUInt64LE(2n ** 40n, at + 104);
      sealSuperblock(img, at);
    }
  });
  variant('two files with one name', (img) => {
    const nameLen = img.readUInt32LE(inodeAt(0) + 4);
    img.copy(img, inodeAt(1) + 64, inodeAt(0) + 64, inodeAt(0) + 64 + nameLen);
    img.writeUInt32LE(nameLen, inodeAt(1) + 4);
    sealInode(img, inodeAt(1), sb.inodeStart);
  });
  variant('owned blocks marked free in the bitmap', (img) => {
    img.fill(0, sb.bitmapStart * BLOCK, sb.bitmapStart * BLOCK + sb.bitmapBlocks * BLOCK);
  });
  variant('a committed journal transaction with a bad body', (img) => {
    const h = sb.journalStart * BLOCK;
    img.writeBigUInt64LE(img.readBigUInt64LE(h + 8) || 1n, h + 64); // the last transaction, committed again
    img[(sb.journalStart + 1) * BLOCK + 20]! ^= 0x40; // and its body damaged
  });
  variant('a committed journal transaction replayed again (idempotent)', (img) => {
    const h = sb.journalStart * BLOCK;
    img.writeBigUInt64LE(img.readBigUInt64LE(h + 8) || 1n, h + 64);
  });
  variant('truncated backing (half)', (img) => img.subarray(0, Math.floor(img.length / 2 / BLOCK) * BLOCK));
  variant('truncated backing (not a block multiple)', (img) => img.subarray(0, img.length - 100));
  variant('all zeros', (img) => img.fill(0));
  return out;
}

function fragmentedIno(base: BaseImage): number {
  for (let ino = 0; ino < 8; ino++) if (extentChain(base.image, base.sb.inodeStart, ino).length > 0) return ino;
  throw new Error('no fragmented file in the base image');
}
