import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { Region } from '../../lib/index.js';
import { Journal, type JournalRecord } from '../../lib/pool/journal.js';
import { BLOCK } from '../../lib/pool/layout.js';
import { expectCode, pattern, tmpfsDir, uniquePath } from '../helpers.js';
import { parseTrace, type TraceEvent } from '../reliability/crash-sim.js';

const dir = tmpfsDir();
const JOURNAL_START = 2;
const JOURNAL_BLOCKS = 4;
const META = 16 * BLOCK; // the area the records change

/** The trace of `commit` on `r` (its persist trace: stores, flushes, fences). */
function traced(r: Region, commit: () => void): TraceEvent[] {
  r.traceStart();
  commit();
  return parseTrace(r.traceTake(true));
}

/**
 * Leaves `r` as a crash at the `fences`-th fence of a traced commit would,
 * with every store before that fence on media and none after it (the crash
 * simulator, test/reliability, tries the subsets): `before` is the region's
 * image before the commit.
 */
function crashAt(r: Region, before: Buffer, events: TraceEvent[], fences: number): void {
  r.write(0, before);
  let seen = 0;
  for (const e of events) {
    if (e.kind === 'fence' && ++seen === fences) break;
    if (e.kind === 'store') r.write(e.offset, e.data);
  }
}

const fenceCount = (events: TraceEvent[]) => events.filter((e) => e.kind === 'fence').length;

// The fences of a commit up to its commit point: body and header, then the commit word.
const AFTER_COMMIT = 2;

/** Commits `recs` on `r`, then leaves `r` as a crash just after the commit point would. */
function committedNotApplied(r: Region, recs: JournalRecord[]): void {
  const before = Buffer.from(r.view(0, r.size));
  const events = traced(r, () => new Journal(r, JOURNAL_START, JOURNAL_BLOCKS).commit(recs));
  crashAt(r, before, events, AFTER_COMMIT + 1);
}

const inMeta = (offset: number, length: number) => offset >= META && offset + length <= META + 8 * BLOCK;

function records(): JournalRecord[] {
  return [
    { offset: META, data: pattern(100, 1) },
    { offset: META + 3 * BLOCK + 8, data: pattern(BLOCK, 2) },
    { offset: META + 7 * BLOCK, data: pattern(8, 3) },
  ];
}

function state(region: Region): Buffer {
  return Buffer.from(region.view(META, 8 * BLOCK));
}

describe('journal', () => {
  it('commit applies every record and leaves the journal empty', () => {
    const r = Region.create(uniquePath(dir), MiB());
    const j = new Journal(r, JOURNAL_START, JOURNAL_BLOCKS);
    j.commit(records());
    for (const rec of records()) expect(r.view(rec.offset, rec.data.length).equals(rec.data)).toBe(true);
    expect(r.load64(JOURNAL_START * BLOCK + 64)).toBe(0n);
    expect(new Journal(r, JOURNAL_START, JOURNAL_BLOCKS).recover('backing', inMeta)).toEqual({ replayed: false, records: 0 });
    r.close();
  });

  it('a crash at every step leaves either the old state (uncommitted: discarded) or the new one (replayed)', () => {
    const path = uniquePath(dir);
    const setup = Region.create(path, MiB());
    setup.write(META, pattern(8 * BLOCK, 9));
    const old = state(setup);
    new Journal(setup, JOURNAL_START, JOURNAL_BLOCKS).commit(records());
    const next = state(setup);
    setup.close();
    const r = Region.open(path);
    r.write(META, old);
    r.store64(JOURNAL_START * BLOCK + 64, 0n);
    r.zero(JOURNAL_START * BLOCK, BLOCK);
    const before = Buffer.from(r.view(0, r.size));
    const events = traced(r, () => new Journal(r, JOURNAL_START, JOURNAL_BLOCKS).commit(records()));
    expect(fenceCount(events)).toBe(4);
    const outcomes = { old: 0, replayed: 0, complete: 0 };
    for (let fences = 1; fences <= fenceCount(events) + 1; fences++) {
      crashAt(r, before, events, fences);
      const report = new Journal(r, JOURNAL_START, JOURNAL_BLOCKS).recover('backing', inMeta);
      const now = state(r);
      if (report.replayed) {
        expect(now.equals(next)).toBe(true);
        outcomes.replayed++;
      } else if (now.equals(old)) {
        outcomes.old++;
      } else {
        expect(now.equals(next)).toBe(true);
        outcomes.complete++;
      }
    }
    r.close();
    // at the body's fence: discarded; at the commit word's and the apply's:
    // replayed; at the clear's and after it: complete
    expect(outcomes).toEqual({ old: 1, replayed: 2, complete: 2 });
  });

  it('a committed transaction whose body is damaged is EUCLEAN, not silently half-applied', () => {
    const r = Region.create(uniquePath(dir), MiB());
    committedNotApplied(r, records());
    expect(r.load64(JOURNAL_START * BLOCK + 64)).not.toBe(0n);
    r.write((JOURNAL_START + 1) * BLOCK + 40, Buffer.from([0xde, 0xad]));
    expectCode(() => new Journal(r, JOURNAL_START, JOURNAL_BLOCKS).recover('backing', inMeta), 'EUCLEAN', /body checksum/);
    r.close();
  });

  it('records outside the metadata areas are refused at replay', () => {
    const r = Region.create(uniquePath(dir), MiB());
    committedNotApplied(r, [{ offset: 0, data: Buffer.alloc(8, 1) }]);
    expectCode(() => new Journal(r, JOURNAL_START, JOURNAL_BLOCKS).recover('backing', inMeta), 'EUCLEAN', /outside the metadata/);
    r.close();
  });

  it('a transaction larger than the journal is ENOSPC and changes nothing', () => {
    const r = Region.create(uniquePath(dir), MiB());
    const before = state(r);
    const j = new Journal(r, JOURNAL_START, JOURNAL_BLOCKS);
    expectCode(() => j.commit([{ offset: META, data: Buffer.alloc(JOURNAL_BLOCKS * BLOCK, 1) }]), 'ENOSPC', /does not fit the journal/);
    expect(state(r).equals(before)).toBe(true);
    r.close();
  });

  it('checkRoom says beforehand what commit would: ENOSPC for a transaction that cannot fit, its size in bytes for one that can', () => {
    const r = Region.create(uniquePath(dir), MiB());
    const before = state(r);
    const j = new Journal(r, JOURNAL_START, JOURNAL_BLOCKS);
    const capacity = (JOURNAL_BLOCKS - 1) * BLOCK;
    // each record takes a 16-byte header and its data padded to 8 bytes
    expect(j.checkRoom([{ offset: META, data: Buffer.alloc(capacity - 16, 1) }])).toBe(capacity);
    expect(j.checkRoom([{ offset: META, data: Buffer.alloc(5) }, { offset: META + 8, data: Buffer.alloc(8) }])).toBe(16 + 8 + 16 + 8);
    expectCode(() => j.checkRoom([{ offset: META, data: Buffer.alloc(capacity - 15, 1) }]), 'ENOSPC', /does not fit the journal/);
    expect(state(r).equals(before)).toBe(true);
    r.close();
  });

  it('a read-only mount that needs replay says so (EROFS)', () => {
    const path = uniquePath(dir);
    const r = Region.create(path, MiB());
    committedNotApplied(r, records());
    r.close();
    const ro = Region.open(path, { readOnly: true });
    expectCode(() => new Journal(ro, JOURNAL_START, JOURNAL_BLOCKS).recover('refuse', inMeta), 'EROFS', /journal recovery/);
    ro.close();
  });

  it('a read-only opener replays into its private copy: it sees the records, the backing keeps the transaction', () => {
    const path = uniquePath(dir);
    const r = Region.create(path, MiB());
    committedNotApplied(r, records());
    r.close();
    const onDisk = readFileSync(path);
    const ro = Region.open(path, { readOnly: true });
    expect(ro.capabilities.privateCopy).toBe(true);
    expect(new Journal(ro, JOURNAL_START, JOURNAL_BLOCKS).recover('private', inMeta)).toEqual({ replayed: true, records: 3, inMemory: true });
    for (const rec of records()) {
      const got = Buffer.alloc(rec.data.length);
      ro.read(rec.offset, got);
      expect(got.equals(rec.data)).toBe(true);
    }
    ro.close();
    expect(readFileSync(path).equals(onDisk)).toBe(true);
    // the next read-write open replays it for real
    const rw = Region.open(path);
    expect(new Journal(rw, JOURNAL_START, JOURNAL_BLOCKS).recover('backing', inMeta)).toEqual({ replayed: true, records: 3 });
    for (const rec of records()) expect(rw.view(rec.offset, rec.data.length).equals(rec.data)).toBe(true);
    rw.close();
  });

  it('stores to a private copy need a read-only region mapped privately', () => {
    const r = Region.create(uniquePath(dir), MiB());
    expectCode(() => r.writeScatterPrivate(Buffer.alloc(8), new Float64Array([META, 0, 8]), 1), 'EINVAL', /privateCopy needs a region opened read-only/);
    expect(r.capabilities.privateCopy).toBe(false);
    r.close();
  });
});

function MiB(): number {
  return 1 << 20;
}
