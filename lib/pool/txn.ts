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
   * anywhere): bounds the comparison that invalidates mappings. The first
   * inode's range is kept in fields, others in a map made when needed: most
   * transactions touch one file.
   */
  private touchedIno = -1;
  private touchedFrom = 0;
  private touchedTo = 0;
  private touchedMore: Map<number, [number, number]> | undefined;

  touch(ino: number, from: number, to: number): void {
    if (this.touchedIno === -1 || this.touchedIno === ino) {
      const first = this.touchedIno === -1;
      this.touchedIno = ino;
      this.touchedFrom = first ? from : Math.min(this.touchedFrom, from);
      this.touchedTo = first ? to : Math.max(this.touchedTo, to);
      return;
    }
    this.touchedMore ??= new Map();
    const t = this.touchedMore.get(ino);
    this.touchedMore.set(ino, t ? [Math.min(t[0], from), Math.max(t[1], to)] : [from, to]);
  }

  /** The file blocks of inode `ino` this transaction may change; undefined: anywhere. */
  touched(ino: number): [number, number] | undefined {
    if (ino === this.touchedIno) return [this.touchedFrom, this.touchedTo];
    return this.touchedMore?.get(ino);
  }

  /** The version of inode `ino` this transaction would leave (its own, if it has one). */
  inode(ino: number, current: Inode | undefined): Inode | undefined {
    return this.inodes.get(ino) ?? current;
  }

  put(inode: Inode): void {
    this.inodes.set(inode.ino, inode);
  }

  /**
   * Runs the allocator must not hand out while this transaction is built:
   * its own allocations and the blocks `held` by asynchronous writes (no
   * copy when either is empty: the common case).
   */
  pending(held: readonly Run[]): readonly Run[] {
    if (held.length === 0) return this.allocated;
    if (this.allocated.length === 0) return held;
    return [...this.allocated, ...held];
  }

  get empty(): boolean {
    return this.inodes.size === 0 && this.allocated.length === 0 && this.freed.length === 0 && this.highWater === undefined && this.superblock === undefined;
  }
}
