// The journal's commit as one native call (Region.journalCommit): the
// barriers it makes, what it refuses, the bytes it leaves on media (the
// format the journal always had), and where a fault of the backing stops it.
import { truncateSync } from 'node:fs';
import { crc32 } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { DaxfsError, Region } from '../../lib/index.js';
import { Journal, type JournalRecord } from '../../lib/pool/journal.js';
import { BLOCK } from '../../lib/pool/layout.js';
import { expectCode, pattern, tmpfsDir, uniquePath } from '../helpers.js';
import { parseTrace, type TraceEvent } from '../reliability/crash-sim.js';

const dir = tmpfsDir();
const MiB = 1 << 20;
const START = 2; // the journal's first block (its header)
const HEADER = START * BLOCK;
const BODY = (START + 1) * BLOCK;
const BLOCKS = 8;
const META = 16 * BLOCK;
const inMeta = (offset: number, length: number) => offset < 2 * BLOCK || (offset >= META && offset + length <= MiB);

// records of every padding (lengths 1, 7, 8, 100, a block, 0), at unaligned targets
function records(): JournalRecord[] {
  return [
    { offset: META + 3, data: pattern(1, 1) },
    { offset: META + 64, data: pattern(7, 2) },
    { offset: META + BLOCK, data: pattern(8, 3) },
    { offset: META + 2 * BLOCK + 12, data: pattern(100, 4) },
    { offset: META + 4 * BLOCK, data: pattern(BLOCK, 5) },
    { offset: META + 9 * BLOCK, data: Buffer.alloc(0) },
  ];
}

/** Both superblock copies among the records, as the pool journals them. */
function withSuperblocks(): JournalRecord[] {
  const sb = pattern(128, 6);
  return [{ offset: 0, data: sb }, ...records().slice(0, 3), { offset: BLOCK, data: sb }];
}

/** What the journal wrote before the commit moved to native code: its body and header, built in JS. */
function oldFormat(recs: JournalRecord[], seq: number): { body: Buffer; header: Buffer } {
  let bytes = 0;
  for (const r of recs) bytes += 16 + Math.ceil(r.data.length / 8) * 8;
  const body = Buffer.alloc(bytes);
  let at = 0;
  for (const r of recs) {
    body.writeBigUInt64LE(BigInt(r.offset), at);
    body.writeUInt32LE(r.data.length, at + 8);
    r.data.copy(body, at + 16);
    at += 16 + Math.ceil(r.data.length / 8) * 8;
  }
  const header = Buffer.alloc(32);
  header.writeBigUInt64LE(0x4c4e4a5346584144n, 0);
  header.writeBigUInt64LE(BigInt(seq), 8);
  header.writeUInt32LE(recs.length, 16);
  header.writeUInt32LE(bytes, 20);
  header.writeUInt32LE(crc32(body), 24);
  header.writeUInt32LE(crc32(header.subarray(0, 28)), 28);
  return { body, header };
}

function traced(r: Region, fn: () => void): TraceEvent[] {
  r.traceStart();
  fn();
  return parseTrace(r.traceTake(true));
}

/** The trace cut at its fences: the stores of each fence epoch (offset:length). */
function epochs(events: TraceEvent[]): string[][] {
  const out: string[][] = [[]];
  for (const e of events) {
    if (e.kind === 'fence') out.push([]);
    else if (e.kind === 'store') out[out.length - 1]!.push(`${e.offset}:${e.data.length}`);
  }
  return out;
}

function caught(fn: () => unknown): DaxfsError & { committed?: boolean } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DaxfsError);
    return e as DaxfsError & { committed?: boolean };
  }
  throw new Error('expected an error');
}

describe('journal commit: barriers', () => {
  it('a commit makes four fences, one per step the protocol must order; five with the backup superblock', () => {
    const r = Region.create(uniquePath(dir), MiB);
    const j = new Journal(r, START, BLOCKS);
    const recs = records();
    const body = oldFormat(recs, 1).body.length;
    const before = r.stats().fences;
    const plain = traced(r, () => j.commit(recs));
    expect(r.stats().fences - before).toBe(4);
    const stored = recs.filter((x) => x.data.length > 0).map((x) => `${x.offset}:${x.data.length}`);
    expect(epochs(plain)).toEqual([
      [`${BODY}:${body}`, `${HEADER}:32`], // body and header
      [`${HEADER + 64}:8`], // the commit point
      stored, // the records in place
      [`${HEADER + 64}:8`], // the commit word cleared
      [],
    ]);

    const sb = withSuperblocks();
    const body2 = oldFormat(sb, 2).body.length;
    const before2 = r.stats().fences;
    const full = traced(r, () => j.commit(sb));
    expect(r.stats().fences - before2).toBe(5);
    expect(epochs(full)).toEqual([
      [`${BODY}:${body2}`, `${HEADER}:32`],
      [`${HEADER + 64}:8`],
      ['0:128', ...sb.slice(1, 4).map((x) => `${x.offset}:${x.data.length}`)], // the primary with the others
      [`${BLOCK}:128`], // the backup alone
      [`${HEADER + 64}:8`],
      [],
    ]);
    // a transaction of the backup superblock alone: no empty barrier for the others
    expect(epochs(traced(r, () => j.commit([{ offset: BLOCK, data: pattern(64, 7) }])))).toEqual([
      [`${BODY}:80`, `${HEADER}:32`],
      [`${HEADER + 64}:8`],
      [`${BLOCK}:64`],
      [`${HEADER + 64}:8`],
      [],
    ]);
    r.close();
  });

  it.runIf(process.arch === 'x64')('on x86-64 the body, header, commit word and whole-word records are streamed: no line to flush; other records are flushed', () => {
    const r = Region.create(uniquePath(dir), MiB);
    expect(r.capabilities.persistence).toBe('volatile');
    const j = new Journal(r, START, BLOCKS);
    const before = r.stats();
    j.commit([{ offset: META, data: pattern(512, 17) }]);
    const after = r.stats();
    // body 16 + 512, header 32, the commit word set and cleared, the record 512
    expect([after.ntBytes - before.ntBytes, after.flushedLines - before.flushedLines, after.fences - before.fences]).toEqual([16 + 512 + 32 + 8 + 8 + 512, 0, 4]);
    j.commit([{ offset: META + 8, data: pattern(3, 18) }]); // 3 bytes: copied and flushed, one line
    const last = r.stats();
    expect([last.ntBytes - after.ntBytes, last.flushedLines - after.flushedLines]).toEqual([24 + 32 + 16, 1]);
    expect(r.view(META, 8).equals(pattern(512, 17).subarray(0, 8))).toBe(true);
    expect(r.view(META + 8, 3).equals(pattern(3, 18))).toBe(true);
    r.close();
  });

  it('in msync mode every range is written back with its own msync, in the same order', () => {
    const r = Region.create(uniquePath(dir), MiB, { forceMsync: true });
    expect(r.capabilities.persistence).toBe('msync');
    const j = new Journal(r, START, BLOCKS);
    const recs = withSuperblocks(); // 5 records: body, header, word, 4 in place, the backup, word
    const before = r.stats();
    j.commit(recs);
    const after = r.stats();
    expect(after.msyncCalls - before.msyncCalls).toBe(2 + 1 + 4 + 1 + 1);
    expect(after.fences - before.fences).toBe(0);
    for (const x of recs) expect(r.view(x.offset, x.data.length).equals(x.data)).toBe(true);
    r.close();
  });
});

describe('journal commit: the on-media format', () => {
  it('leaves the body and header bytes the JS commit wrote (same CRC-32s), and the commit word clear', () => {
    const r = Region.create(uniquePath(dir), MiB);
    const j = new Journal(r, START, BLOCKS);
    let seq = 0;
    for (const recs of [records(), withSuperblocks(), [{ offset: META, data: pattern(3 * BLOCK + 5, 8) }], records().slice(0, 1)]) {
      seq++;
      j.commit(recs);
      const want = oldFormat(recs, seq);
      expect(Buffer.from(r.view(HEADER, 32)).equals(want.header)).toBe(true);
      expect(Buffer.from(r.view(BODY, want.body.length)).equals(want.body)).toBe(true);
      expect(r.load64(HEADER + 64)).toBe(0n);
      for (const x of recs) expect(r.view(x.offset, x.data.length).equals(x.data)).toBe(true);
    }
    r.close();
  });

  it('a large sequence number and a long body: the header and CRC match node:zlib', () => {
    const r = Region.create(uniquePath(dir), MiB);
    const recs = [{ offset: META, data: pattern(6 * BLOCK + 3, 9) }, { offset: META + 7 * BLOCK, data: pattern(13, 10) }];
    const seq = 2 ** 40 + 3;
    const list = new Float64Array([META, 0, 6 * BLOCK + 3, META + 7 * BLOCK, 6 * BLOCK + 3, 13]);
    const staging = Buffer.concat(recs.map((x) => x.data));
    const want = oldFormat(recs, seq);
    expect(r.journalCommit(staging, list, 2, HEADER, BODY, seq)).toBe(want.body.length);
    expect(Buffer.from(r.view(HEADER, 32)).equals(want.header)).toBe(true);
    expect(Buffer.from(r.view(BODY, want.body.length)).equals(want.body)).toBe(true);
    r.close();
  });

  it('a transaction the JS commit left committed (old pools) replays', () => {
    const r = Region.create(uniquePath(dir), MiB);
    const recs = records();
    const { body, header } = oldFormat(recs, 5);
    r.write(BODY, body);
    r.write(HEADER, header);
    r.store64(HEADER + 64, 5n);
    expect(new Journal(r, START, BLOCKS).recover('backing', inMeta)).toEqual({ replayed: true, records: recs.length });
    for (const x of recs) expect(r.view(x.offset, x.data.length).equals(x.data)).toBe(true);
    r.close();
  });
});

describe('journal commit: sealed records', () => {
  /** zlib's CRC-32 of `b` but its last 4 bytes, the 8 at `hole` taken as zeros. */
  function sealOf(b: Buffer, hole: number): number {
    const copy = Buffer.from(b.subarray(0, b.length - 4));
    copy.fill(0, hole, hole + 8);
    return crc32(copy);
  }

  it('a sealed record reaches media (in place and in the body) ending in its CRC-32, the hole counted as zeros; the others and the staging buffer as they were', () => {
    const r = Region.create(uniquePath(dir), MiB);
    const j = new Journal(r, START, BLOCKS);
    const inode = pattern(512, 14);
    const plain = pattern(20, 15);
    const short = pattern(12, 16); // the smallest sealable record: the hole right before the checksum
    const recs: JournalRecord[] = [
      { offset: META, data: inode, seal: 8 },
      { offset: META + BLOCK, data: plain },
      { offset: META + 2 * BLOCK, data: short, seal: 0 },
    ];
    const staged = recs.map((x) => Buffer.from(x.data));
    j.commit(recs);
    const inodeOnMedia = Buffer.from(r.view(META, 512));
    expect(inodeOnMedia.subarray(0, 508).equals(inode.subarray(0, 508))).toBe(true);
    expect(inodeOnMedia.readUInt32LE(508)).toBe(sealOf(inode, 8));
    expect(r.view(META + BLOCK, 20).equals(plain)).toBe(true);
    expect(Buffer.from(r.view(META + 2 * BLOCK, 12)).readUInt32LE(8)).toBe(sealOf(short, 0));
    recs.forEach((x, i) => expect(x.data.equals(staged[i]!)).toBe(true));
    // the body holds the sealed bytes, and its checksum covers them
    const body = Buffer.from(r.view(BODY, 16 + 512));
    expect(body.subarray(16).equals(inodeOnMedia)).toBe(true);
    r.close();
  });

  it('a bad seal is a typed error before anything is stored', () => {
    const r = Region.create(uniquePath(dir), MiB);
    const image = Buffer.from(r.view(0, MiB));
    const staging = Buffer.alloc(64, 1);
    const list = new Float64Array([META, 0, 16, META + BLOCK, 16, 11]);
    const bad: [() => unknown, string, RegExp][] = [
      [() => r.journalCommit(staging, list, 2, HEADER, BODY, 1, undefined, new Float64Array([5, -1])), 'ERANGE', /seal hole 5 \+ 8 bytes must lie before the last 4 of record 0 \(16 bytes\)/],
      [() => r.journalCommit(staging, list, 2, HEADER, BODY, 1, undefined, new Float64Array([-1, 0])), 'ERANGE', /record 1 \(11 bytes\)/],
      [() => r.journalCommit(staging, list, 2, HEADER, BODY, 1, undefined, new Float64Array([0.5, -1])), 'EINVAL', /seal/],
      [() => r.journalCommit(staging, list, 2, HEADER, BODY, 1, undefined, new Float64Array([-2, -1])), 'EINVAL', /seal/],
      [() => r.journalCommit(staging, list, 2, HEADER, BODY, 1, undefined, new Float64Array([0])), 'ERANGE', /seals holds 1 entries, count is 2/],
      [() => r.journalCommit(staging, list, 2, HEADER, BODY, 1, undefined, [0, 0] as unknown as Float64Array), 'EINVAL', /seals must be a Float64Array/],
    ];
    for (const [call, code, message] of bad) {
      expectCode(call, code, message);
      expect(caught(call).committed).toBe(false);
    }
    expect(r.view(0, MiB).equals(image)).toBe(true);
    r.close();
  });
});

describe('journal commit: bad input', () => {
  it('offsets past the region, ranges past the staging buffer and a short list are typed errors, nothing stored', () => {
    const r = Region.create(uniquePath(dir), MiB);
    r.write(0, pattern(MiB, 11));
    const image = Buffer.from(r.view(0, MiB));
    const staging = Buffer.alloc(64, 1);
    const list = (...triples: number[]) => new Float64Array([META, 0, 8, ...triples]);
    const bad: [() => unknown, string, RegExp][] = [
      [() => r.journalCommit(staging, list(MiB - 4, 0, 8), 2, HEADER, BODY, 1), 'ERANGE', /targetOffset .* region/],
      [() => r.journalCommit(staging, list(2 ** 53 - 1, 0, 8), 2, HEADER, BODY, 1), 'ERANGE', /region/],
      [() => r.journalCommit(staging, list(META, 60, 8), 2, HEADER, BODY, 1), 'ERANGE', /staging buffer/],
      [() => r.journalCommit(staging, list(META, 0, 65), 2, HEADER, BODY, 1), 'ERANGE', /staging buffer/],
      [() => r.journalCommit(staging, list(), 2, HEADER, BODY, 1), 'ERANGE', /count 2 needs 6 list entries, the list holds 3/],
      [() => r.journalCommit(staging, list(), 0, HEADER, BODY, 1), 'EINVAL', /count must be at least 1/],
      [() => r.journalCommit(staging, list(), 1, HEADER, BODY, 0), 'EINVAL', /seq must be at least 1/],
      [() => r.journalCommit(staging, list(), 1, HEADER, BODY, 1, 1), 'ERANGE', /backupIndex 1 must be below count 1/],
      [() => r.journalCommit(staging, list(), 1, HEADER + 4, BODY, 1), 'EINVAL', /headerOffset .* multiple of 8/],
      [() => r.journalCommit(staging, list(), 1, MiB - 64, BODY, 1), 'ERANGE', /headerOffset .* region/],
      [() => r.journalCommit(staging, list(), 1, HEADER, MiB - 16, 1), 'ERANGE', /bodyOffset .* region/],
      [() => r.journalCommit(staging, list(), 1, HEADER, HEADER + 40, 1), 'EINVAL', /body .* overlaps the header/],
      [() => r.journalCommit(staging, [META, 0, 8] as unknown as Float64Array, 1, HEADER, BODY, 1), 'EINVAL', /list must be a Float64Array/],
      [() => r.journalCommit('x' as unknown as Buffer, list(), 1, HEADER, BODY, 1), 'EINVAL', /staging/],
      [() => r.journalCommit(staging, list(META, 0, 1.5), 2, HEADER, BODY, 1), 'EINVAL', /length/],
    ];
    for (const [call, code, message] of bad) {
      expectCode(call, code, message);
      expect(caught(call).committed).toBe(false);
    }
    expect(r.view(0, MiB).equals(image)).toBe(true);
    r.close();
    expect(caught(() => r.journalCommit(staging, list(), 1, HEADER, BODY, 1))).toMatchObject({ code: 'EBADF', committed: false });
  });

  it('a read-only region is EROFS', () => {
    const path = uniquePath(dir);
    Region.create(path, MiB).close();
    const ro = Region.open(path, { readOnly: true });
    expect(caught(() => ro.journalCommit(Buffer.alloc(8), new Float64Array([META, 0, 8]), 1, HEADER, BODY, 1))).toMatchObject({ code: 'EROFS', committed: false });
    ro.close();
  });
});

describe('journal commit: a fault of the backing', () => {
  const END = 64 * 1024; // where the truncated file ends
  const P = 40 * BLOCK; // a page past it

  it('after the commit point (a record past the end): committed, the journal takes no commit; the transaction replays once the file is whole', () => {
    const path = uniquePath(dir);
    const r = Region.create(path, MiB);
    const j = new Journal(r, START, BLOCKS);
    truncateSync(path, END);
    const recs = [{ offset: META, data: pattern(16, 12) }, { offset: P + 8, data: pattern(16, 13) }];
    const e = caught(() => j.commit(recs));
    expect(e.code).toBe('EIO');
    expect(e.committed).toBe(true);
    expect(j.unapplied).toBe(e);
    expectCode(() => j.commit(records()), 'EIO', /the journal holds a transaction that could not be applied/);
    expect(r.load64(HEADER + 64)).toBe(1n);
    truncateSync(path, MiB);
    expect(new Journal(r, START, BLOCKS).recover('backing', () => true)).toEqual({ replayed: true, records: 2 });
    for (const x of recs) expect(r.view(x.offset, x.data.length).equals(x.data)).toBe(true);
    r.close();
  });

  it('before the commit point (the journal past the end): not committed, nothing changed, the next commit works', () => {
    const path = uniquePath(dir);
    const r = Region.create(path, MiB);
    const start = 40; // the journal past the records, its header at 160 KiB
    const j = new Journal(r, start, BLOCKS);
    truncateSync(path, END);
    const e = caught(() => j.commit(records()));
    expect(e.code).toBe('EIO');
    expect(e.committed).toBe(false);
    expect(j.unapplied).toBeUndefined();
    truncateSync(path, MiB);
    expect(r.load64(start * BLOCK + 64)).toBe(0n);
    for (const x of records()) if (x.data.length > 0) expect(r.view(x.offset, x.data.length).equals(x.data)).toBe(false);
    j.commit(records());
    for (const x of records()) expect(r.view(x.offset, x.data.length).equals(x.data)).toBe(true);
    r.close();
  });

  it('a staging buffer in another region past its end: not committed, the error names that region', () => {
    const r = Region.create(uniquePath(dir), MiB);
    const otherPath = uniquePath(dir);
    const other = Region.create(otherPath, MiB);
    const staging = other.view(P, 64);
    truncateSync(otherPath, END);
    const e = caught(() => r.journalCommit(staging, new Float64Array([META, 0, 64]), 1, HEADER, BODY, 1));
    expect(e).toMatchObject({ code: 'EIO', path: otherPath, committed: false });
    expect(r.load64(HEADER + 64)).toBe(0n);
    other.close();
    r.close();
  });
});
