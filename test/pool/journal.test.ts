import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { Region } from '../../lib/index.js';
import { Journal, type JournalRecord } from '../../lib/pool/journal.js';
import { BLOCK } from '../../lib/pool/layout.js';
import { expectCode, pattern, tmpfsDir, uniquePath } from '../helpers.js';

const dir = tmpfsDir();
const JOURNAL_START = 2;
const JOURNAL_BLOCKS = 4;
const META = 16 * BLOCK; // the area the records change

class Crash extends Error {}

// Mutating calls of a commit: the staged body and header (one scattered
// write, persisted), the commit word store; the call after it writes the
// records in place.
const AFTER_COMMIT = 2;

/** The region, failing (as a crash would) at its `at`-th mutating call. */
function crashingAfter(region: Region, at: number): Region {
  let calls = 0;
  return new Proxy(region, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const mutating = ['write', 'writeScatter', 'store64', 'flush', 'drain', 'zero', 'persist'].includes(String(prop));
      return (...args: unknown[]) => {
        if (mutating && calls++ === at) throw new Crash(`crash at call ${at}`);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
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
    let outcomes = { old: 0, replayed: 0, complete: 0 };
    for (let at = 0; ; at++) {
      const r = Region.open(path);
      r.write(META, old);
      r.store64(JOURNAL_START * BLOCK + 64, 0n);
      r.zero(JOURNAL_START * BLOCK, BLOCK);
      let crashed = false;
      try {
        new Journal(crashingAfter(r, at), JOURNAL_START, JOURNAL_BLOCKS).commit(records());
      } catch (e) {
        if (!(e instanceof Crash)) throw e;
        crashed = true;
      }
      const report = new Journal(r, JOURNAL_START, JOURNAL_BLOCKS).recover('backing', inMeta);
      const now = state(r);
      if (report.replayed) {
        expect(now.equals(next)).toBe(true);
        outcomes.replayed++;
      } else if (crashed) {
        // torn or uncommitted: discarded, or the commit had completed its in-place part
        expect(now.equals(old) || now.equals(next)).toBe(true);
        if (now.equals(old)) outcomes.old++;
        else outcomes.complete++;
      }
      r.close();
      if (!crashed) break;
    }
    expect(outcomes.old).toBeGreaterThan(0);
    expect(outcomes.replayed).toBeGreaterThan(0);
  });

  it('a committed transaction whose body is damaged is EUCLEAN, not silently half-applied', () => {
    const r = Region.create(uniquePath(dir), MiB());
    const j = new Journal(crashingAfter(r, AFTER_COMMIT), JOURNAL_START, JOURNAL_BLOCKS); 
    expect(() => j.commit(records())).toThrow(Crash);
    expect(r.load64(JOURNAL_START * BLOCK + 64)).not.toBe(0n);
    r.write((JOURNAL_START + 1) * BLOCK + 40, Buffer.from([0xde, 0xad]));
    expectCode(() => new Journal(r, JOURNAL_START, JOURNAL_BLOCKS).recover('backing', inMeta), 'EUCLEAN', /body checksum/);
    r.close();
  });

  it('records outside the metadata areas are refused at replay', () => {
    const r = Region.create(uniquePath(dir), MiB());
    const j = new Journal(crashingAfter(r, AFTER_COMMIT), JOURNAL_START, JOURNAL_BLOCKS);
    expect(() => j.commit([{ offset: 0, data: Buffer.alloc(8, 1) }])).toThrow(Crash);
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
    expect(() => new Journal(crashingAfter(r, AFTER_COMMIT), JOURNAL_START, JOURNAL_BLOCKS).commit(records())).toThrow(Crash);
    r.close();
    const ro = Region.open(path, { readOnly: true });
    expectCode(() => new Journal(ro, JOURNAL_START, JOURNAL_BLOCKS).recover('refuse', inMeta), 'EROFS', /journal recovery/);
    ro.close();
  });

  it('a read-only opener replays into its private copy: it sees the records, the backing keeps the transaction', () => {
    const path = uniquePath(dir);
    const r = Region.create(path, MiB());
    expect(() => new Journal(crashingAfter(r, AFTER_COMMIT), JOURNAL_START, JOURNAL_BLOCKS).commit(records())).toThrow(Crash);
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
