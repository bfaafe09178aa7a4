// A metadata transaction being built: new versions of inodes, blocks
// allocated and freed, superblock counters. Nothing reaches media or the
// pool's in-memory state until commit() turns it into journal records; an
// operation that fails before that leaves no trace.
//
// The one change to a committed inode made outside a transaction is the
// append fast path (data-path.ts): an append into blocks the file already
// owns publishes the new size with one atomic store of the size word, which
// carries its own check, and updates the in-memory size and mtime to match;
// no block map or bitmap changes, so there is nothing to journal.
import type { Run } from './extents.js';
import type { Inode } from './inode.js';
import type { InodeTable } from './inode-table.js';
import type { JournalRecord } from './journal.js';
import type { SuperblockBase } from './layout.js';

export class Txn {
  /** Inodes to write, by number (their new version). */
  readonly inodes = new Map<number, Inode>();
  /** Runs allocated in this transaction (zeroed or written, not yet marked in the bitmap). */
  readonly allocated: Run[] = [];
  /** Runs to free when this transaction commits. */
  readonly freed: Run[] = [];
  /** Inode high-water mark after the transaction, when it grows. */
  highWater: number | undefined;
  /** Generation counter after the transaction, when it advances. */
  nextGeneration: number | undefined;
  /** Repair only: the free-block count to record, recomputed from the bitmap. */
  freeBlocks: number | undefined;
  /** The superblock's fields other than its counters, when they change (inode table growth, a format upgrade). */
  superblock: SuperblockBase | undefined;
  /** The inode table after the transaction, when it grows (installed with the superblock). */
  table: InodeTable | undefined;
  /** Metadata records of other structures (the inode table's map blocks). */
  readonly records: JournalRecord[] = [];
  /**
   * File blocks whose layout this transaction may change, by inode (absent:
   * anywhere): bounds the comparison that invalidates mappings.
   */
  readonly touched = new Map<number, [number, number]>();

  touch(ino: number, from: number, to: number): void {
    const t = this.touched.get(ino);
    this.touched.set(ino, t ? [Math.min(t[0], from), Math.max(t[1], to)] : [from, to]);
  }

  /** The version of inode `ino` this transaction would leave (its own, if it has one). */
  inode(ino: number, current: Inode | undefined): Inode | undefined {
    return this.inodes.get(ino) ?? current;
  }

  put(inode: Inode): void {
    this.inodes.set(inode.ino, inode);
  }

  get empty(): boolean {
    return this.inodes.size === 0 && this.allocated.length === 0 && this.freed.length === 0 && this.highWater === undefined && this.superblock === undefined;
  }
}
