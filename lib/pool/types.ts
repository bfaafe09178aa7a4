// The pool's public option and result shapes: what callers pass to format,
// open and a file's open, and what info, stat, list and getBlock return.
// Types only: no module depends on this one at run time.
import type { OpenOptions } from '../region.js';
import type { RecoveryReport } from './journal.js';

export interface PoolOpenOptions {
  readOnly?: boolean;
  /**
   * Read-only, and reads all it still can: damaged files read what can be
   * recovered of them, both superblocks damaged fall back to the geometry of
   * the backing's size, a committed journal transaction is read through in
   * memory (or ignored when it fails its checks). Writes nothing.
   */
  salvage?: boolean;
  /** Options for the underlying region (flush instruction, requireMapSync, …). */
  region?: Omit<OpenOptions, 'readOnly'>;
}

export interface FormatOptions {
  /**
   * Create the backing file with this size (bytes) — or size an existing
   * empty file; omit to format an existing file or device at its size.
   */
  size?: number;
  /**
   * Refuse (EEXIST, naming what is there) a path that exists and is not
   * empty: a pool, a file holding data, a device. Default false: format
   * what is given, as a caller that prepared the file expects.
   */
  exclusive?: boolean;
  /**
   * Permission bits of a backing file format creates (default 0o600, private
   * to its owner), applied exactly whatever the umask; given for an existing
   * file, its mode is set to it once the format is done.
   */
  mode?: number;
  /** Zero the whole region, not only the metadata (O(pool size)). */
  zeroAll?: boolean;
  /**
   * Leave the backing file sparse: only the metadata area is reserved, and
   * each block's range of the backing is reserved when the block is
   * allocated (ENOSPC from that operation when the file system is full).
   * Default false: the whole backing is reserved at format (ENOSPC, saying
   * how much is free, when it cannot be).
   */
  sparse?: boolean;
  /** Called with (done, total) bytes while reserving the backing and while zeroing. */
  onProgress?: (done: number, total: number, phase: 'reserving' | 'zeroing') => void;
  region?: Omit<OpenOptions, 'readOnly'>;
}

export interface FileStat {
  name: string;
  ino: number;
  size: number;
  /** Bytes of pool blocks the file holds (allocated, written or not). */
  allocated: number;
  mtimeMs: number;
  extents: number;
  /** Present when the file's metadata is damaged: what is wrong (open/stat refuse it with EUCLEAN, except in salvage mounts). */
  damaged?: string;
}

export interface PoolInfo {
  path: string;
  uuid: string;
  size: number;
  blockSize: number;
  blocks: number;
  freeBlocks: number;
  dataBlocks: number;
  files: number;
  inodes: { used: number; capacity: number };
  journalBytes: number;
  persistence: string;
  readOnly: boolean;
  recovery: RecoveryReport;
  orphansFreedAtMount: number;
  /** Blocks that belonged to files but were marked free in the bitmap, marked in use at mount. */
  blocksRemarkedAtMount: number;
  /** Temporary files of processes that are gone (an interrupted replace), removed at mount. */
  temporariesRemovedAtMount: number;
  /** The primary superblock was damaged and rewritten at mount (from the backup or the journal). */
  superblockRestoredAtMount: boolean;
  /** Metadata transactions committed since mount. */
  transactions: number;
  /** Journal bytes those transactions wrote (records and their headers): what a transaction costs in metadata writes. */
  journalBytesCommitted: number;
  /** Files whose metadata is damaged (listed, not readable until a repair sets them aside; readable in salvage mounts). */
  damagedFiles: number;
  /** Salvage mounts: the pool-wide damage worked around. */
  salvage?: string[];
  /**
   * The backing has ranges its file system has not allocated (a pool
   * formatted sparse): each block's range is reserved when the block is
   * allocated, and a full file system fails that operation with ENOSPC.
   */
  sparse: boolean;
  /** Bytes of the backing its file system has allocated (the size, for a reserved pool or device-dax). */
  backedBytes: number;
  /**
   * Plain stores into holes through shared writable mappings: blocks granted
   * to the fault service and not used yet (free on media, not handed to
   * anything else while granted), fills and conversions not adopted into a
   * file yet (the next call on the pool, or the next turn of the event
   * loop, adopts them; info() itself adopts first, so this reads 0 unless
   * an adoption failed).
   */
  faults: { granted: number; pendingAdoptions: number };
}

/** What getBlock reports: the get_block of the kernel's DAX path. */
export interface BlockMapping {
  mapped: boolean;
  /** Pool block number (-1 for a hole). */
  poolBlock: number;
  /** Blocks from here that are contiguous in the file and in the pool (for a hole: hole length, capped). */
  count: number;
  /** Just allocated by this call (and zeroed). */
  new: boolean;
  /** Allocated but reads as zeros. */
  unwritten: boolean;
}

export interface OpenFileOptions {
  create?: boolean;
  exclusive?: boolean;
}
