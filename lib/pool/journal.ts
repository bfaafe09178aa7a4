// The redo journal. A transaction is a list of (region offset, bytes)
// records of metadata. Commit: write the records to the journal body and a
// checksummed header, persist; store the 8-byte commit word (the commit
// point), persist; apply the records in place, persist; clear the commit
// word. One native call does all of it (Region.journalCommit,
// native/journal_commit.h); which records, the capacity and what a failure
// leaves are decided here. Mount replays a committed transaction (the records are physical, so
// replay is idempotent) and ignores an uncommitted one.
//
// header block: 0 magic u64 | 8 seq u64 | 16 records u32 | 20 bodyBytes u32 |
//               24 bodyCrc u32 | 28 headerCrc u32 | 64 commit word u64
// body: per record: offset u64 | length u32 | 4 bytes pad | data, padded to 8
import { crc32 } from 'node:zlib';

import { daxfsError } from '../errors.js';
import type { Region } from '../region.js';
import { readU64 } from './bytes.js';
import { BLOCK } from './layout.js';

const JOURNAL_MAGIC = 0x4c4e4a5346584144n; // "DAXFSJNL"
const COMMIT_WORD = 64;
/** Where the backup superblock lives (block 1): applied in a fence epoch of its own. */
const BACKUP_SUPERBLOCK = BLOCK;

export interface JournalRecord {
  offset: number;
  data: Buffer;
  /**
   * Sealed by the commit: the record's last 4 bytes go to media as the
   * CRC-32 of its other bytes, the 8 at this offset counted as zeros (an
   * inode's checksum, its size word left out). Undefined: as it is.
   */
  seal?: number;
}

/** A record staged in the journal body: its bytes are at `at` in the body. */
interface PlacedRecord {
  offset: number;
  at: number;
  length: number;
}

export interface RecoveryReport {
  /** A committed transaction was found and applied again. */
  replayed: boolean;
  records: number;
  /** Applied to this opener's private copy only (a read-only open): the backing still needs the replay. */
  inMemory?: boolean;
}

/**
 * How recovery may apply a committed transaction: to the backing, to this
 * opener's private copy of a read-only region, or not at all (EROFS).
 */
export type RecoveryMode = 'backing' | 'private' | 'refuse';

export class Journal {
  private seq = 1; // a safe integer: 2^53 commits outlive any pool
  /** Why the last commit failed after its commit point; the journal takes no commit after that. */
  unapplied: Error | undefined;
  // reused for every commit: fresh buffers cost more than the commit itself
  private scratch = Buffer.allocUnsafe(4096);
  private ranges = new Float64Array(48);
  private seals = new Float64Array(16);
  /** Transactions committed by this mount, for statistics. */
  commits = 0;
  /** Bytes of records (with their headers) those transactions wrote to the journal, for statistics. */
  bytesCommitted = 0;

  constructor(
    private readonly region: Region,
    private readonly start: number,
    private readonly blocks: number,
  ) {}

  get headerOffset(): number {
    return this.start * BLOCK;
  }

  get bodyOffset(): number {
    return (this.start + 1) * BLOCK;
  }

  /** Bytes of records one transaction may hold. */
  get capacity(): number {
    return (this.blocks - 1) * BLOCK;
  }

  /**
   * Whether `records` can commit: throws what commit() would throw before
   * touching anything (ENOSPC when they do not fit); returns their bytes.
   * A caller checks first when it must change other things in step with the
   * commit only once the commit can happen.
   */
  checkRoom(records: readonly JournalRecord[]): number {
    if (this.unapplied) throw daxfsError('EIO', `the journal holds a transaction that could not be applied (${this.unapplied.message}): open the pool again to replay it`);
    let bytes = 0;
    for (const r of records) bytes += 16 + Math.ceil(r.data.length / 8) * 8;
    if (bytes > this.capacity)
      throw daxfsError('ENOSPC', `metadata transaction of ${bytes} bytes does not fit the journal (${this.capacity} bytes)`);
    return bytes;
  }

  /**
   * Commits `records` atomically. Throws ENOSPC, changing nothing, when they
   * do not fit. `checked`: what checkRoom(records) returned just before
   * (the caller checked first), so it is not worked out twice.
   */
  commit(records: JournalRecord[], checked?: number): void {
    if (records.length === 0) return;
    const bytes = checked ?? this.checkRoom(records);
    // The records' bytes one after another in the staging buffer; the
    // native call lays out the body and header (the format above), checksums
    // them and runs the whole protocol with its barriers.
    if (this.scratch.length < bytes) this.scratch = Buffer.allocUnsafe(Math.max(bytes, 2 * this.scratch.length));
    const list = this.list(records.length);
    if (this.seals.length < records.length) this.seals = new Float64Array(Math.max(records.length, 2 * this.seals.length));
    const seals = this.seals;
    let at = 0;
    let backup: number | undefined;
    let sealed = false;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      this.scratch.set(r.data, at);
      list[3 * i] = r.offset;
      list[3 * i + 1] = at;
      list[3 * i + 2] = r.data.length;
      if (r.offset === BACKUP_SUPERBLOCK) backup = i;
      if (r.seal === undefined) seals[i] = -1;
      else {
        seals[i] = r.seal;
        sealed = true;
      }
      at += r.data.length;
    }
    const seq = this.seq++;
    try {
      this.region.journalCommit(this.scratch, list, records.length, this.headerOffset, this.bodyOffset, seq, backup, sealed ? seals : undefined);
    } catch (e) {
      // A failure at or after the commit point (a fault caught by the
      // engine: no space, a truncated file, a media error): the transaction
      // may be durable and is not applied: nothing may commit over it; a
      // mount replays it. Before it, nothing is committed.
      if ((e as { committed?: unknown }).committed === true) this.unapplied = e as Error;
      throw e;
    }
    this.commits++;
    this.bytesCommitted += bytes;
  }

  /** The reusable (regionOffset, sourceOffset, length) list, for `count` ranges. */
  private list(count: number): Float64Array {
    if (this.ranges.length < 3 * count) this.ranges = new Float64Array(Math.max(3 * count, 2 * this.ranges.length));
    return this.ranges;
  }

  /**
   * Recovery: writes the records in place from `body`, where each one's
   * bytes sit at `at` (as the commit does in its native call): all with one barrier, but the backup superblock last, after a
   * fence of its own, so that a crash tearing one copy of the superblock
   * always leaves the other whole and mount can find the journal.
   */
  private apply(body: Buffer, records: PlacedRecord[], privateCopy = false): void {
    let backup: PlacedRecord | undefined;
    let n = 0;
    const list = this.list(records.length);
    for (const r of records) {
      if (r.offset === BACKUP_SUPERBLOCK) {
        backup = r;
        continue;
      }
      list[3 * n] = r.offset;
      list[3 * n + 1] = r.at;
      list[3 * n + 2] = r.length;
      n++;
    }
    if (privateCopy) {
      if (backup) {
        list[3 * n] = backup.offset;
        list[3 * n + 1] = backup.at;
        list[3 * n + 2] = backup.length;
        n++;
      }
      this.region.writeScatterPrivate(body, list, n);
      return;
    }
    this.region.writeScatter(body, list, n);
    if (backup) this.region.write(backup.offset, body, backup.at, backup.length, true);
  }

  /**
   * Mount-time recovery: replays a committed transaction. A committed
   * transaction that fails its checks means damaged media: EUCLEAN.
   * `mode` says where the replay goes (RecoveryMode); 'refuse' reports a
   * needed replay as an error instead.
   */
  recover(mode: RecoveryMode, inMetadata: (offset: number, length: number) => boolean): RecoveryReport {
    const found = this.committed(inMetadata);
    if (!found) return { replayed: false, records: 0 };
    if (mode === 'refuse')
      throw daxfsError('EROFS', 'the pool needs journal recovery, which this read-only open cannot do in memory (a read-only device-dax region): open it read-write once');
    if (mode === 'private') {
      // The records go to this opener's copy-on-write pages: it sees the
      // recovered pool; the backing keeps the committed transaction for the
      // next read-write open to replay.
      this.apply(found.body, found.records, true);
      this.region.writeScatterPrivate(new Uint8Array(8), new Float64Array([this.headerOffset + COMMIT_WORD, 0, 8]), 1);
      return { replayed: true, records: found.records.length, inMemory: true };
    }
    this.apply(found.body, found.records);
    this.region.store64(this.headerOffset + COMMIT_WORD, 0);
    this.seq = Number(found.commit) + 1;
    return { replayed: true, records: found.records.length };
  }

  /**
   * The records of a committed transaction, copied out, without applying
   * them (a salvage mount reads through them); null when none is committed;
   * EUCLEAN when the committed one fails its checks.
   */
  committedRecords(inMetadata: (offset: number, length: number) => boolean): JournalRecord[] | null {
    const found = this.committed(inMetadata);
    if (!found) return null;
    return found.records.map((r) => ({ offset: r.offset, data: Buffer.from(found.body.subarray(r.at, r.at + r.length)) }));
  }

  /** The committed transaction, checked; null when the commit word is clear. */
  private committed(inMetadata: (offset: number, length: number) => boolean): { commit: bigint; body: Buffer; records: PlacedRecord[] } | null {
    const commit = this.region.load64(this.headerOffset + COMMIT_WORD);
    const header = Buffer.alloc(32);
    this.region.read(this.headerOffset, header);
    const magicOk = header.readBigUInt64LE(0) === JOURNAL_MAGIC;
    if (magicOk) this.seq = Math.max(1, readU64(header, 8) + 1);
    // No commit word: nothing, or a transaction that never committed (ignored).
    if (commit === 0n) return null;
    const bad = (why: string) => daxfsError('EUCLEAN', `journal: committed transaction ${commit}: ${why}`);
    if (!magicOk) throw bad('header has a bad magic');
    if (header.readUInt32LE(28) !== crc32(header.subarray(0, 28))) throw bad('header checksum mismatch');
    if (BigInt(readU64(header, 8)) !== commit) throw bad(`header is for transaction ${readU64(header, 8)}`);
    const bytes = header.readUInt32LE(20);
    if (bytes > this.capacity) throw bad(`body of ${bytes} bytes exceeds the journal`);
    const body = Buffer.alloc(bytes);
    this.region.read(this.bodyOffset, body);
    if (crc32(body) !== header.readUInt32LE(24)) throw bad('body checksum mismatch');
    const records: PlacedRecord[] = [];
    let at = 0;
    for (let k = 0; k < header.readUInt32LE(16); k++) {
      if (at + 16 > bytes) throw bad('record runs past the body');
      const offset = Number(body.readBigUInt64LE(at));
      const length = body.readUInt32LE(at + 8);
      if (at + 16 + length > bytes) throw bad('record runs past the body');
      if (!inMetadata(offset, length)) throw bad(`record targets bytes ${offset}..${offset + length} outside the metadata areas`);
      records.push({ offset, at: at + 16, length });
      at += 16 + Math.ceil(length / 8) * 8;
    }
    return { commit, body, records };
  }
}
