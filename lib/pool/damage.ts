// Files whose metadata fails its checks. Damage to one file's inode, extent
// blocks or name makes that file unavailable, not the pool: mount keeps what
// can still be read of it — its name, size and extents where they decode —
// treats every block it may own as taken (so nothing is handed out twice),
// and a repair sets its recoverable blocks aside in a file under a reserved
// name. The rules here are pure; the pool applies them.
import { BlockSet } from './block-set.js';
import { readU64 } from './bytes.js';
import { insert, makeExtent, type Extent, type Run } from './extents.js';
import { decodeSizeWord, EXTENTS_PER_BLOCK, FLAG_ORPHAN, INLINE_EXTENTS, isOrphanSlot, NAME_MAX, SIZE_WORD, type Inode } from './inode.js';
import { BLOCK, MAX_FILE_SIZE } from './layout.js';

/**
 * Names starting with this are reserved for files a repair sets aside
 * (`lost+found.<inode>`, then `lost+found.<inode>.<n>` if that is taken):
 * no file can be created or renamed to one, so a repair never meets a
 * user's file there.
 */
export const QUARANTINE_PREFIX = 'lost+found.';

const EXTENT_BLOCK_MAGIC = 0x4b4c4258;

export interface DamagedInode {
  ino: number;
  /** What the file is listed and opened under: its name on media when readable and not taken, else a reserved name. */
  name: string;
  /** The name on media, when it could be read. */
  storedName: string | undefined;
  /** What is wrong, e.g. "checksum mismatch". */
  reason: string;
  /** Unlinked while open (no name): a repair frees it instead of setting it aside. */
  orphan: boolean;
  /** The size, when the size word passes its own check. */
  size: number | undefined;
  mtimeMs: number;
  /** The extents that decode (a length, inside the largest file), in the order found. */
  extents: Extent[];
  /** The extent blocks of its chain that were followed. */
  chain: number[];
}

export interface DataArea {
  dataStart: number;
  nblocks: number;
}

export function isReservedName(name: string): boolean {
  return name.startsWith(QUARANTINE_PREFIX);
}

/** `lost+found.<ino>`, or `lost+found.<ino>.<n>` (n = 2, 3, …) when `taken` says it is in use. */
export function quarantineName(ino: number, taken: (name: string) => boolean): string {
  const base = `${QUARANTINE_PREFIX}${ino}`;
  if (!taken(base)) return base;
  for (let n = 2; ; n++) if (!taken(`${base}.${n}`)) return `${base}.${n}`;
}

/** How errors and check name a damaged file. */
export function describeDamaged(d: DamagedInode): string {
  if (d.orphan) return `unlinked inode ${d.ino} is damaged: ${d.reason}`;
  const stored = d.storedName !== undefined && d.storedName !== d.name ? `, named '${d.storedName}' on media` : '';
  return `file '${d.name}' (inode ${d.ino}${stored}) is damaged: ${d.reason}`;
}

/** A name as decoded from media, when it is one a file could have. */
function readableName(raw: Buffer): string | undefined {
  if (raw.length < 1 || raw.length > NAME_MAX) return undefined;
  const name = raw.toString('utf8');
  if (!Buffer.from(name, 'utf8').equals(raw) || name.includes('/') || name.includes('\0')) return undefined;
  return name;
}

function readExtent(b: Buffer, at: number): Extent | undefined {
  const fileBlock = b.readUInt32LE(at);
  const length = b.readUInt32LE(at + 8);
  if (length < 1 || fileBlock + length > 2 ** 32) return undefined;
  return makeExtent(fileBlock, b.readUInt32LE(at + 4), length, (b.readUInt32LE(at + 12) & 1) === 1);
}

/**
 * What can still be read of a damaged inode slot: every field is decoded on
 * its own, so one bad field costs only itself. The extent-block chain is
 * followed while its blocks lie in the data area, do not repeat and carry
 * the extent-block magic (their checksum may fail: what they hold is still
 * the best knowledge of where the file's blocks are).
 */
export function salvageInode(slot: Buffer, ino: number, reason: string, area: DataArea, readBlock: (block: number, target: Buffer) => void): DamagedInode {
  const nameLen = slot.readUInt32LE(4);
  const storedName = nameLen >= 1 && nameLen <= NAME_MAX ? readableName(slot.subarray(64, 64 + nameLen)) : undefined;
  const rawSize = decodeSizeWord(slot.readUInt32LE(SIZE_WORD), slot.readUInt32LE(SIZE_WORD + 4), ino);
  const extents: Extent[] = [];
  // every inline slot: past the count they are zero on media, so a damaged count loses nothing
  for (let k = 0; k < INLINE_EXTENTS; k++) {
    const e = readExtent(slot, 320 + k * 16);
    if (e) extents.push(e);
  }
  const chain: number[] = [];
  const block = Buffer.alloc(BLOCK);
  for (let next = slot.readUInt32LE(36); next !== 0 && next >= area.dataStart && next < area.nblocks && !chain.includes(next); ) {
    chain.push(next);
    readBlock(next, block);
    if (block.readUInt32LE(0) !== EXTENT_BLOCK_MAGIC) break;
    const count = Math.min(block.readUInt32LE(4), EXTENTS_PER_BLOCK);
    for (let j = 0; j < count; j++) {
      const e = readExtent(block, 16 + j * 16);
      if (e) extents.push(e);
    }
    next = block.readUInt32LE(8);
  }
  const mtime = readU64(slot, 16);
  return {
    ino,
    name: storedName ?? '',
    storedName,
    reason,
    // an orphan only when the slot has an orphan's whole shape: damage that
    // sets the orphan bit and clears the name length of a named file (a
    // random word over both) leaves its name bytes, and must not get the
    // file freed
    orphan: isOrphanSlot(slot),
    size: rawSize >= 0 && rawSize <= MAX_FILE_SIZE ? rawSize : undefined,
    mtimeMs: Math.max(0, mtime),
    extents,
    chain,
  };
}

/** A decoded inode found damaged by what it shares with others (a name, blocks). */
export function damagedFrom(inode: Inode, reason: string): DamagedInode {
  const orphan = (inode.flags & FLAG_ORPHAN) !== 0;
  return {
    ino: inode.ino,
    name: orphan ? '' : inode.name,
    storedName: orphan ? undefined : inode.name,
    reason,
    orphan,
    size: inode.size,
    mtimeMs: inode.mtimeMs,
    extents: inode.extents.toArray(),
    chain: inode.extentBlocks,
  };
}

/** Whether an extent lies wholly in the data area: one that does not is garbage, not a file's. */
function inDataArea(e: Extent, area: DataArea): boolean {
  return e.poolBlock >= area.dataStart && e.poolBlock + e.length <= area.nblocks;
}

/**
 * Every block the damaged inode may own: its extents that lie in the data
 * area, and its extent blocks. Until a repair decides, nobody else gets them.
 */
export function claims(d: DamagedInode, area: DataArea): Run[] {
  const out: Run[] = [];
  for (const e of d.extents) if (inDataArea(e, area)) out.push({ start: e.poolBlock, length: e.length });
  for (const b of d.chain) out.push({ start: b, length: 1 });
  return out;
}

/**
 * The recoverable extents: the decoded extents that lie wholly in the data
 * area and meet no `taken` block (owned by an undamaged file, or set aside
 * for an earlier damaged one) — a genuine extent of a file never does, so
 * one that does is damage. Of those, the parts inside the size (when the
 * size is known), in file blocks and pool blocks no earlier extent of the
 * file has, and not the file's own extent blocks. Sorted, merged, ready to
 * be a file's map.
 */
export function recoverExtents(d: DamagedInode, area: DataArea, taken: BlockSet): Extent[] {
  const limit = d.size !== undefined ? Math.ceil(d.size / BLOCK) : 2 ** 32;
  const own = new BlockSet();
  for (const b of d.chain) own.add(b, 1);
  const out: Extent[] = [];
  let covered = 0;
  for (const e of [...d.extents].sort((a, b) => a.fileBlock - b.fileBlock)) {
    if (!inDataArea(e, area) || taken.firstOverlap(e.poolBlock, e.length)) continue;
    const fileFrom = Math.max(e.fileBlock, covered);
    const fileTo = Math.min(e.fileBlock + e.length, limit);
    covered = Math.max(covered, e.fileBlock + e.length);
    if (fileTo <= fileFrom) continue;
    const poolFrom = e.poolBlock + (fileFrom - e.fileBlock);
    for (const piece of own.gaps(poolFrom, fileTo - fileFrom)) {
      insert(out, makeExtent(e.fileBlock + (piece.start - e.poolBlock), piece.start, piece.length, e.unwritten));
      own.add(piece.start, piece.length);
    }
  }
  return out;
}

/** The size a recovered file gets: its own when readable, else the end of its last recovered block. */
export function recoveredSize(d: DamagedInode, extents: readonly Extent[]): number {
  if (d.size !== undefined) return d.size;
  const last = extents[extents.length - 1];
  return last ? Math.min((last.fileBlock + last.length) * BLOCK, MAX_FILE_SIZE) : 0;
}
