// What a salvage mount works around, writing nothing: both superblocks
// damaged (the geometry follows from the backing's size alone, and every
// inode slot is read), and a committed journal transaction that a read-only
// mount cannot replay (read through in memory when it passes its checks,
// ignored when it does not).
import type { Region } from '../region.js';
import { Journal, type JournalRecord } from './journal.js';
import { BLOCK, computeGeometry, decodeSuperblock, FORMAT_VERSION, SUPERBLOCK_BYTES, withCounters, type Superblock } from './layout.js';

/** Reads metadata as a committed transaction leaves it: the region's bytes with its records laid over them. */
export class MetadataOverlay {
  /** Records by the 4 KiB blocks they touch. */
  private readonly byBlock = new Map<number, JournalRecord[]>();

  constructor(private readonly region: Region, records: readonly JournalRecord[]) {
    for (const r of records)
      for (let b = Math.floor(r.offset / BLOCK); b * BLOCK < r.offset + r.data.length; b++) {
        const list = this.byBlock.get(b) ?? [];
        list.push(r);
        this.byBlock.set(b, list);
      }
  }

  read(offset: number, target: Buffer): void {
    this.region.read(offset, target);
    const end = offset + target.length;
    const seen = new Set<JournalRecord>();
    for (let b = Math.floor(offset / BLOCK); b * BLOCK < end; b++)
      for (const r of this.byBlock.get(b) ?? []) {
        if (seen.has(r)) continue;
        seen.add(r);
        const from = Math.max(offset, r.offset);
        const to = Math.min(end, r.offset + r.data.length);
        if (to > from) r.data.copy(target, from - offset, from - r.offset, to - r.offset);
      }
  }
}

export interface SalvageStart {
  sb: Superblock;
  /** Reads metadata (through the journal's committed records when there are any). */
  read: (offset: number, target: Buffer) => void;
  /** What was worked around, for info().salvage. */
  notes: string[];
}

/** The superblock and metadata reader of a salvage mount; throws only when the backing's size is no pool size. */
export function startSalvage(region: Region, inMetadata: (offset: number, length: number, sb: Superblock) => boolean): SalvageStart {
  const notes: string[] = [];
  const superblockAt = (at: number, which: string, read: (offset: number, target: Buffer) => void) => {
    const b = Buffer.alloc(SUPERBLOCK_BYTES);
    read(at, b);
    return decodeSuperblock(b, region.size, which);
  };
  const plain = (offset: number, target: Buffer): void => void region.read(offset, target);
  let sb: Superblock;
  try {
    sb = superblockAt(0, 'primary', plain);
  } catch (primary) {
    try {
      sb = superblockAt(BLOCK, 'backup', plain);
      notes.push(`${(primary as Error).message}: the backup is used`);
    } catch (backup) {
      const g = computeGeometry(region.size);
      sb = withCounters({ ...g, version: FORMAT_VERSION, uuid: '0'.repeat(32) }, 0, g.inodeCount, 1);
      notes.push(`${(primary as Error).message}; ${(backup as Error).message}: the geometry follows from the backing's size and every inode slot is read`);
    }
  }
  let read = plain;
  const journal = new Journal(region, sb.journalStart, sb.journalBlocks);
  try {
    const records = journal.committedRecords((offset, length) => inMetadata(offset, length, sb));
    if (records) {
      const overlay = new MetadataOverlay(region, records);
      read = (offset, target) => overlay.read(offset, target);
      notes.push(`journal: a committed transaction of ${records.length} records is read through in memory (the pool is not written)`);
      try {
        const replayed = superblockAt(0, 'primary', read);
        // a transaction that grew the inode table lists the grown table
        const table = replayed.tableChunks >= sb.tableChunks ? replayed : sb;
        sb = withCounters(
          { ...sb, tableChunks: table.tableChunks, tableMapBlock: table.tableMapBlock },
          sb.freeBlocks,
          Math.max(sb.inodeHighWater, replayed.inodeHighWater),
          Math.max(sb.nextGeneration, replayed.nextGeneration),
        );
      } catch {
        // the transaction did not touch the superblock, or left it as damaged as it was
      }
    }
  } catch (e) {
    notes.push(`${(e as Error).message}: not replayed; what it changed reads as it was before, or as damaged`);
  }
  return { sb, read, notes };
}
