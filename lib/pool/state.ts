// PoolState: the in-memory state of a mounted pool, shared by the modules
// that make up the Pool (mount, commit, the data path, …) and by nothing
// else — Pool holds it privately and callers never see it.
//
// Invariants: `sb`, `inodes`, `names`, `freeInodes`, `owned` and the bitmap
// on media change together, only when a journal transaction commits (commit
// installs them), so that what memory says is what a mount would rebuild;
// `closed` and `stopped` only ever go from unset to set; every operation
// checks them first (ensureOpen).
import type { Bitmap } from '../bitmap.js';
import { daxfsError } from '../errors.js';
import type { AddressSpace } from '../map/address-space.js';
import type { FileMapping } from '../map/mapping.js';
import type { Region } from '../region.js';
import type { Allocator } from './allocator.js';
import type { BlockSet } from './block-set.js';
import type { DamagedInode } from './damage.js';
import type { FaultService } from './fault-adoption.js';
import type { FreeSlots } from './free-slots.js';
import type { Run } from './extents.js';
import type { Inode } from './inode.js';
import type { InodeTable } from './inode-table.js';
import type { InodeStore } from './inode-store.js';
import type { NameIndex } from './name-index.js';
import type { OpenCounts } from './open-counts.js';
import type { Journal, RecoveryReport } from './journal.js';
import type { Superblock } from './layout.js';
import { changeSpan, refuseIfPinned, type PinRegistry } from './pins.js';

export interface PoolState {
  readonly region: Region;
  readonly readOnly: boolean;
  /** Each mapped file's address space: its mappings by file-block range. */
  readonly spaces: Map<number, AddressSpace<FileMapping>>;
  sb: Superblock;
  /** Where each inode lives: the fixed area, then the chunks the superblock's map lists (changed with sb, by the commit that grows it). */
  table: InodeTable;
  readonly journal: Journal;
  readonly bitmap: Bitmap;
  /** The on-media bitmap, read through a live view (changed only by journal records). */
  readonly bitmapWords: Uint32Array;
  readonly allocator: Allocator;
  /** Inodes by number, below the high-water mark, decoded on first use (inode-store.ts). */
  readonly inodes: InodeStore;
  /** Names of undamaged, linked files (name-index.ts). */
  readonly names: NameIndex;
  /** Free inode numbers below the high-water mark, lowest taken first. */
  readonly freeInodes: FreeSlots;
  /** Open handles per inode (open-counts.ts). */
  readonly openCount: OpenCounts;
  /** Asynchronous transfers in flight: the file ranges they hold and the blocks their writes allocated (pins.ts). */
  readonly pins: PinRegistry;
  /** File blocks appends preallocated past EOF, by inode (in memory only). */
  readonly preallocated: Map<number, { from: number; to: number }>;
  recovery: RecoveryReport;
  /** The backing has unreserved ranges: allocations reserve theirs first. */
  readonly sparse: boolean;
  /** Blocks owned by files and the metadata area, kept in step with every commit (the allocator checks against it). */
  readonly owned: BlockSet;
  /** Blocks damaged files may own: nobody else gets them until a repair decides. */
  readonly held: BlockSet;
  /** Damaged inodes by number, ascending (removed when a repair sets them aside). */
  damaged: Map<number, DamagedInode>;
  /** Names damaged files are listed under. */
  damagedNames: Map<string, number>;
  readonly salvage: string[] | undefined;
  /** Reads metadata at mount (through a committed transaction's records, in salvage mounts). */
  readonly readMeta: (offset: number, target: Buffer) => void;
  orphansFreed: number;
  remarked: number;
  temporariesRemoved: number;
  superblockRestored: boolean;
  /** The fault service of this pool's mappings (fault-adoption.ts): started by the first shared writable mapping. */
  faults: FaultService | undefined;
  closed: boolean;
  /** Why the pool stopped: the backing failed after a commit point (the in-memory state is behind the journal). */
  stopped: string | undefined;
}

export function ensureOpen(s: PoolState): void {
  if (s.closed) throw daxfsError('EBADF', 'the pool is closed');
  if (s.stopped)
    throw daxfsError('EIO', `pool '${s.region.path}' stopped: a committed transaction could not be applied (${s.stopped}); close it and open it again (the open applies it)`);
}

export function ensureWritable(s: PoolState): void {
  ensureOpen(s);
  if (s.readOnly) throw daxfsError('EROFS', 'the pool is open read-only');
}

/** A synchronous change to file blocks [from, to) of `inode`: EBUSY while an asynchronous write holds any of them (see pins.ts). */
export function ensureUnpinned(s: PoolState, inode: Inode, from: number, to: number): void {
  // a cheap test first: this runs on every 4 KiB write
  if (s.pins.has(inode.ino)) refuseIfPinned(s.pins, inode.ino, inode.name, from, to);
}

/**
 * ensureUnpinned for a change to bytes [position, end) of the file: the
 * blocks it touches (changeSpan: through END when it moves EOF), worked out
 * only when the file has a pin — this runs on every write.
 */
export function ensureRangeUnpinned(s: PoolState, inode: Inode, position: number, end: number): void {
  if (!s.pins.has(inode.ino)) return;
  const [from, to] = changeSpan(inode.size, position, end);
  refuseIfPinned(s.pins, inode.ino, inode.name, from, to);
}
