import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync, symlinkSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { addonPath, Region } from '../../lib/index.js';
import { diskDir, expectCode, pattern, tmpfsDir, uniquePath } from '../helpers.js';

const MiB = 1 << 20;

/** The kinds of a persist trace's events, in order: 1 store, 2 flush, 3 fence, 4 marker. */
function traceKinds(log: Buffer): number[] {
  const kinds: number[] = [];
  for (let at = 0; at < log.length; ) {
    const kind = log[at]!;
    kinds.push(kind);
    if (kind === 1) at += 17 + Number(log.readBigUInt64LE(at + 9));
    else if (kind === 2) at += 17;
    else at += kind === 4 ? 9 : 1;
  }
  return kinds;
}
const shm = tmpfsDir();
const disk = diskDir();

describe('Region.open / Region.create', () => {
  it('creates a file of the given size on tmpfs in volatile mode, and reports it', () => {
    const p = uniquePath(shm);
    const r = Region.create(p, 4 * MiB);
    expect(statSync(p).size).toBe(4 * MiB);
    const c = r.capabilities;
    expect(c.kind).toBe('file');
    expect(c.size).toBe(4 * MiB);
    expect(c.persistence).toBe('volatile');
    expect(c.survivesPowerLoss).toBe(false);
    expect(c.granularity).toBe('cache-line');
    expect(r.size).toBe(4 * MiB);
    r.close();
  });

  it('opens an existing file with its own size', () => {
    const p = uniquePath(shm);
    writeFileSync(p, Buffer.alloc(8192, 3));
    const r = Region.open(p);
    expect(r.size).toBe(8192);
    expect(r.view(0, 4)).toEqual(Buffer.from([3, 3, 3, 3]));
    r.close();
  });

  it('a file on a page-cache file system is in msync mode', () => {
    const r = Region.create(uniquePath(disk), MiB);
    expect(r.capabilities.persistence).toBe('msync');
    expect(r.capabilities.granularity).toBe('page');
    expect(r.capabilities.survivesPowerLoss).toBe(true);
    r.close();
  });

  it('refuses to create over an existing file (EEXIST) and leaves it alone', () => {
    const p = uniquePath(shm);
    writeFileSync(p, Buffer.alloc(4096, 9));
    expectCode(() => Region.create(p, MiB), 'EEXIST');
    expect(readFileSync(p)).toEqual(Buffer.alloc(4096, 9));
  });

  it('rejects sizes that are zero or not a multiple of the page size', () => {
    expectCode(() => Region.create(uniquePath(shm), 0), 'EINVAL', /size/);
    expectCode(() => Region.create(uniquePath(shm), 5000), 'EINVAL', /size/);
    expectCode(() => Region.create(uniquePath(shm), -4096), 'EINVAL', /size/);
  });

  it('rejects a zero-length file, a size that is not a block multiple, a missing file', () => {
    const empty = uniquePath(shm);
    writeFileSync(empty, '');
    expectCode(() => Region.open(empty), 'EINVAL', /empty/);
    const odd = uniquePath(shm);
    writeFileSync(odd, Buffer.alloc(4097));
    expectCode(() => Region.open(odd), 'EINVAL', /multiple/);
    expectCode(() => Region.open(uniquePath(shm)), 'ENOENT');
  });

  it('rejects a directory, a FIFO (without hanging), a non-dax character device', () => {
    expectCode(() => Region.open(shm), 'EISDIR');
    expectCode(() => Region.open(shm, { readOnly: true }), 'EISDIR');
    const fifo = uniquePath(shm, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expectCode(() => Region.open(fifo, { readOnly: true }), 'EINVAL', /not a regular file/);
    expectCode(() => Region.open('/dev/null'), 'ENODEV', /not a device-dax/);
  });

  it('rejects a block device by its type, without opening it', () => {
    const node = uniquePath(shm, 'blk');
    execFileSync('mknod', [node, 'b', '7', '200']); // a loop device number that need not exist
    expectCode(() => Region.open(node), 'EINVAL', /block device/);
    expectCode(() => Region.open(node, { readOnly: true }), 'EINVAL', /block device/);
  });

  it('tries MAP_SYNC, falls back on tmpfs and on disk, and says so', () => {
    for (const dir of [shm, disk]) {
      const r = Region.create(uniquePath(dir), MiB);
      expect(r.capabilities.mapSync).toBe(false);
      expect(r.capabilities.mapSyncError).toBe('ENOTSUP');
      expect(r.capabilities.mapSyncMeaning).toMatch(/refused/);
      r.close();
    }
  });

  it('requireMapSync fails cleanly where MAP_SYNC is refused, creating nothing', () => {
    const p = uniquePath(shm);
    expectCode(() => Region.create(p, MiB, { requireMapSync: true }), 'ENOTSUP', /MAP_SYNC/);
    expect(() => statSync(p)).toThrow();
    const existing = uniquePath(shm);
    writeFileSync(existing, Buffer.alloc(4096, 1));
    expectCode(() => Region.open(existing, { requireMapSync: true }), 'ENOTSUP', /requireMapSync/);
    expect(readFileSync(existing)).toEqual(Buffer.alloc(4096, 1));
  });

  it('chooses the best flush instruction by CPUID, and honours a weaker override', () => {
    const p = uniquePath(shm);
    const r = Region.create(p, MiB);
    const cpu = r.capabilities.cpu;
    const best = cpu.clwb ? 'clwb' : cpu.clflushopt ? 'clflushopt' : cpu.clflush ? 'clflush' : cpu.dcCvac ? 'dc-cvac' : 'none';
    expect(r.capabilities.flush).toBe(best);
    r.close();
    if (cpu.clflush) {
      const weak = Region.open(p, { flush: 'clflush' });
      expect(weak.capabilities.flush).toBe('clflush');
      weak.write(0, pattern(100));
      expect(weak.view(0, 100)).toEqual(pattern(100));
      weak.close();
    }
    const bogus = Region.open(p, { flush: 'warp-drive' });
    expect(bogus.capabilities.flush).toBe(best);
    expect(bogus.capabilities.flushNote).toMatch(/unknown flush instruction/);
    bogus.close();
  });

  it('the DAXFS_FLUSH environment variable forces the flush instruction', () => {
    const p = uniquePath(shm);
    Region.create(p, MiB).close();
    process.env['DAXFS_FLUSH'] = 'clflushopt';
    try {
      const r = Region.open(p);
      expect(r.capabilities.flush).toBe(r.capabilities.cpu.clflushopt ? 'clflushopt' : r.capabilities.flush);
      r.close();
    } finally {
      delete process.env['DAXFS_FLUSH'];
    }
  });
});

describe('copy in, copy out, views, zero', () => {
  it('data written by write is read back by read and by a view, at every size and alignment', () => {
    const r = Region.create(uniquePath(shm), 4 * MiB);
    for (const [offset, length] of [[0, 1], [3, 63], [64, 64], [1, 255], [100, 256], [4095, 4097], [7, MiB + 13]] as const) {
      const data = pattern(length, offset + 1);
      expect(r.write(offset, data)).toBe(length);
      const back = Buffer.alloc(length);
      expect(r.read(offset, back)).toBe(length);
      expect(back.equals(data)).toBe(true);
      expect(r.view(offset, length).equals(data)).toBe(true);
    }
    r.close();
  });

  it('non-temporal stores are used above the threshold and not below', () => {
    const r = Region.create(uniquePath(shm), MiB);
    r.write(0, pattern(255));
    expect(r.stats().ntBytes).toBe(0);
    r.write(0, pattern(4096));
    expect(r.stats().ntBytes).toBe(4096);
    r.write(1, pattern(4096));
    // head of 63 bytes and tail of 1 byte go through the cache
    expect(r.stats().ntBytes).toBe(4096 + 4032);
    r.close();
  });

  it('sub-ranges of the source and target buffers are honoured', () => {
    const r = Region.create(uniquePath(shm), MiB);
    const src = pattern(1000);
    r.write(4096, src, 100, 500);
    const dst = Buffer.alloc(1000, 0xee);
    r.read(4096, dst, 200, 500);
    expect(dst.subarray(200, 700).equals(src.subarray(100, 600))).toBe(true);
    expect(dst[199]).toBe(0xee);
    expect(dst[700]).toBe(0xee);
    r.close();
  });

  it('accepts typed arrays, DataViews and ArrayBuffers, by byte length', () => {
    const r = Region.create(uniquePath(shm), MiB);
    r.write(0, new Uint32Array([0x04030201, 0x08070605]));
    expect([...r.view(0, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const dv = new DataView(new ArrayBuffer(4));
    r.read(2, dv);
    expect(dv.getUint32(0, true)).toBe(0x06050403);
    r.close();
  });

  it('a write from a view of the same region (overlapping) is a correct memmove', () => {
    const r = Region.create(uniquePath(shm), MiB);
    r.write(0, pattern(8192));
    r.write(100, r.view(0, 8192));
    expect(r.view(100, 8192).equals(pattern(8192))).toBe(true);
    r.close();
  });

  it('stores through a view land in the region and in the file', () => {
    const p = uniquePath(shm);
    const r = Region.create(p, MiB);
    const v = r.view(8192, 16);
    v.fill(0x5a);
    r.persist(8192, 16);
    const back = Buffer.alloc(16);
    r.read(8192, back);
    expect(back).toEqual(Buffer.alloc(16, 0x5a));
    r.close();
    expect(readFileSync(p).subarray(8192, 8208)).toEqual(Buffer.alloc(16, 0x5a));
  });

  it('zero really zeroes exactly the range, small and large, aligned or not', () => {
    const r = Region.create(uniquePath(shm), 4 * MiB);
    for (const [offset, length] of [[5, 10], [64, 4096], [33, 3 * MiB + 7]] as const) {
      r.write(0, Buffer.alloc(4 * MiB, 0xff));
      r.zero(offset, length);
      const all = r.view(0, 4 * MiB);
      expect(all[offset - 1]).toBe(0xff);
      expect(all.subarray(offset, offset + length).every((b) => b === 0)).toBe(true);
      expect(all[offset + length]).toBe(0xff);
    }
    r.close();
  });

  it('zero-length operations are allowed at the end of the region', () => {
    const r = Region.create(uniquePath(shm), MiB);
    expect(r.write(MiB, Buffer.alloc(0))).toBe(0);
    expect(r.read(MiB, Buffer.alloc(0))).toBe(0);
    r.zero(MiB, 0);
    r.persist(MiB, 0);
    expect(r.view(MiB, 0).length).toBe(0);
    r.close();
  });

  it('data persists across close and reopen', () => {
    const p = uniquePath(disk);
    const r = Region.create(p, MiB);
    r.write(12345, pattern(777, 5));
    r.close();
    const again = Region.open(p);
    expect(again.view(12345, 777).equals(pattern(777, 5))).toBe(true);
    again.close();
  });
});

describe('persistence by mode', () => {
  it('volatile (tmpfs): persist flushes each line and fences, no msync', () => {
    const r = Region.create(uniquePath(shm), MiB);
    const before = r.stats();
    r.persist(10, 200); // lines 0..3
    const after = r.stats();
    expect(after.flushedLines - before.flushedLines).toBe(4);
    expect(after.fences - before.fences).toBe(1);
    expect(after.msyncCalls).toBe(0);
    r.flush(0, 64);
    expect(r.stats().flushedLines - after.flushedLines).toBe(1);
    expect(r.stats().fences).toBe(after.fences);
    r.drain();
    expect(r.stats().fences).toBe(after.fences + 1);
    r.close();
  });

  it('a persisted small write flushes its lines; a large one streams and fences', () => {
    const r = Region.create(uniquePath(shm), MiB);
    r.write(0, pattern(100));
    let s = r.stats();
    expect(s.flushedLines).toBe(2);
    expect(s.fences).toBe(1);
    r.write(4096, pattern(8192));
    s = r.stats();
    expect(s.flushedLines).toBe(2); // aligned: no cached edge to flush
    expect(s.fences).toBe(2);
    r.write(0, pattern(100), 0, 100, false);
    expect(r.stats().fences).toBe(2);
    r.close();
  });

  it("a write with persist 'flush' writes its lines back (or streams them) and makes no fence: the caller's next barrier makes it durable", () => {
    const r = Region.create(uniquePath(shm), MiB);
    r.write(0, pattern(100), 0, 100, 'flush');
    let s = r.stats();
    expect([s.flushedLines, s.fences]).toEqual([2, 0]);
    r.write(4096 + 8, pattern(8192, 2), 0, 8192, 'flush'); // streamed, with a cached head and tail
    s = r.stats();
    expect([s.flushedLines, s.fences]).toEqual([4, 0]);
    r.drain();
    expect(r.stats().fences).toBe(1);
    expect(r.view(0, 100).equals(pattern(100))).toBe(true);
    expect(r.view(4096 + 8, 8192).equals(pattern(8192, 2))).toBe(true);
    expectCode(() => r.write(0, pattern(8), 0, 8, 'fence' as unknown as boolean), 'EINVAL', /persist/);
    r.close();
  });

  it('msync mode (page-cache file): persist calls msync and no flush instruction', () => {
    const r = Region.create(uniquePath(disk), MiB);
    r.write(5000, pattern(10));
    const s = r.stats();
    expect(s.msyncCalls).toBe(1);
    expect(s.flushedLines).toBe(0);
    expect(s.fences).toBe(0);
    r.persist(0, 1);
    r.flush(0, 1);
    r.drain();
    expect(r.stats().msyncCalls).toBe(3);
    r.close();
  });

  it('forceMsync makes a tmpfs region use msync', () => {
    const r = Region.create(uniquePath(shm), MiB, { forceMsync: true });
    expect(r.capabilities.persistence).toBe('msync');
    r.write(0, pattern(10));
    expect(r.stats().msyncCalls).toBe(1);
    r.close();
  });
});

describe('8-byte atomics', () => {
  it('load, store-and-persist, compare-and-swap', () => {
    const r = Region.create(uniquePath(shm), MiB);
    expect(r.load64(64)).toBe(0n);
    r.store64(64, 0xdeadbeefcafebaben);
    expect(r.load64(64)).toBe(0xdeadbeefcafebaben);
    expect(r.view(64, 8).readBigUInt64LE(0)).toBe(0xdeadbeefcafebaben);
    expect(r.cas64(64, 1n, 2n)).toBe(0xdeadbeefcafebaben); // failed: unchanged
    expect(r.load64(64)).toBe(0xdeadbeefcafebaben);
    expect(r.cas64(64, 0xdeadbeefcafebaben, 7)).toBe(0xdeadbeefcafebaben);
    expect(r.load64(64)).toBe(7n);
    r.store64(72, 2n ** 64n - 1n);
    expect(r.load64(72)).toBe(2n ** 64n - 1n);
    const s = r.stats();
    expect(s.fences).toBeGreaterThanOrEqual(3);
    r.close();
  });

  it('rejects misaligned offsets, out-of-range values and the last partial word', () => {
    const r = Region.create(uniquePath(shm), MiB);
    expectCode(() => r.load64(4), 'EINVAL', /multiple of 8/);
    expectCode(() => r.store64(12, 1n), 'EINVAL', /multiple of 8/);
    expectCode(() => r.store64(8, 2n ** 64n), 'EINVAL', /64 bits/);
    expectCode(() => r.store64(8, -1n), 'EINVAL', /negative/);
    expectCode(() => r.cas64(8, 0n, 1.5), 'EINVAL', /desired/);
    expectCode(() => r.load64(MiB), 'ERANGE');
    expect(r.load64(MiB - 8)).toBe(0n);
    r.close();
  });
});

describe('publishing stores', () => {
  it('store64Parts stores (high << 32) | low; writePublish persists the bytes, then the word, in order', () => {
    const r = Region.create(uniquePath(shm), MiB);
    r.store64Parts(64, 0xcafebabe, 0xdeadbeef);
    expect(r.load64(64)).toBe(0xdeadbeefcafebaben);
    const before = r.stats();
    expect(r.writePublish(4096, pattern(5000, 3), 0, 5000, 72, 5000, 0x00100000)).toBe(5000);
    expect(r.view(4096, 5000).equals(pattern(5000, 3))).toBe(true);
    expect(r.load64(72)).toBe((0x00100000n << 32n) | 5000n);
    expect(r.stats().fences - before.fences).toBeGreaterThanOrEqual(2); // one for the bytes, one for the word
    r.traceStart();
    r.writePublish(0, Buffer.alloc(64, 1), 0, 64, 80, 1, 0);
    const log = r.traceTake(true);
    // store, flush, fence (the bytes), then store, flush, fence (the word)
    const kinds = traceKinds(log);
    expect(kinds).toEqual([1, 2, 3, 1, 2, 3]);
    r.close();
  });

  it('a bad word offset or half is refused before any byte is written', () => {
    const r = Region.create(uniquePath(shm), MiB);
    expectCode(() => r.writePublish(0, Buffer.alloc(16, 9), 0, 16, 12, 0, 0), 'EINVAL', /wordOffset/);
    expectCode(() => r.writePublish(0, Buffer.alloc(16, 9), 0, 16, MiB, 0, 0), 'ERANGE', /wordOffset/);
    expectCode(() => r.writePublish(0, Buffer.alloc(16, 9), 0, 16, 8, 2 ** 32, 0), 'EINVAL', /low/);
    expectCode(() => r.store64Parts(8, 0, -1), 'EINVAL', /high/);
    expect(r.view(0, 16).every((x) => x === 0)).toBe(true);
    r.close();
  });
});

describe('scattered writes', () => {
  it('copy every listed range of the source, then persist them with one fence', () => {
    const r = Region.create(uniquePath(shm), MiB);
    const src = pattern(1000, 4);
    const list = new Float64Array([8192, 0, 100, 64, 100, 8, 65536 + 3, 500, 500, 0, 0, 0]);
    const before = r.stats();
    r.writeScatter(src, list, 3);
    expect(r.view(8192, 100).equals(src.subarray(0, 100))).toBe(true);
    expect(r.view(64, 8).equals(src.subarray(100, 108))).toBe(true);
    expect(r.view(65536 + 3, 500).equals(src.subarray(500, 1000))).toBe(true);
    expect(r.view(8192 + 100, 8).every((x) => x === 0)).toBe(true);
    expect(r.stats().fences - before.fences).toBe(1);
    // the trace shows the stores, their flushes, then one fence
    r.traceStart();
    r.writeScatter(src, list, 2);
    const log = r.traceTake(true);
    const kinds = traceKinds(log);
    expect(kinds).toEqual([1, 1, 2, 2, 3]);
    r.close();
  });

  it('check every range before the first byte is written', () => {
    const p = uniquePath(shm);
    const r = Region.create(p, MiB);
    const src = Buffer.alloc(64, 5);
    const good = [0, 0, 8];
    for (const bad of [-1, NaN, Infinity, 1.5, 2 ** 53]) {
      for (const k of [0, 1, 2]) {
        const triple = [0, 0, 8];
        triple[k] = bad;
        expectCode(() => r.writeScatter(src, new Float64Array([...good, ...triple]), 2), 'EINVAL', /regionOffset|sourceOffset|length/);
      }
    }
    expectCode(() => r.writeScatter(src, new Float64Array([...good, MiB - 4, 0, 8]), 2), 'ERANGE', /region/);
    expectCode(() => r.writeScatter(src, new Float64Array([...good, 0, 60, 8]), 2), 'ERANGE', /source buffer/);
    expectCode(() => r.writeScatter(src, new Float64Array(good), 2), 'ERANGE', /count 2/);
    expectCode(() => r.writeScatter(src, [0, 0, 8] as unknown as Float64Array, 1), 'EINVAL', /list/);
    expectCode(() => r.writeScatter('x' as unknown as Buffer, new Float64Array(good), 1), 'EINVAL', /source/);
    expect(r.view(0, 64).every((x) => x === 0)).toBe(true); // nothing written by any of them
    r.close();
    const ro = Region.open(p, { readOnly: true });
    expectCode(() => ro.writeScatter(src, new Float64Array(good), 1), 'EROFS');
    ro.close();
  });
});

describe('copy probe (the benchmarks\' floor)', () => {
  it('makes the same copies as write (durably) and read, at every listed offset', () => {
    const r = Region.create(uniquePath(shm), MiB);
    const offsets = new Float64Array([4096, 65536, 8192 + 100]);
    const before = r.stats();
    const w = r.copyProbe(offsets, 300, pattern(300, 7), true);
    expect(w.copies).toBe(3);
    expect(w.ns).toBeGreaterThanOrEqual(0);
    for (const at of offsets) expect(r.view(at, 300).equals(pattern(300, 7))).toBe(true);
    expect(r.view(4096 + 300, 16).every((x) => x === 0)).toBe(true);
    // the probe's copies stay out of the region's statistics
    expect(r.stats().bytesWritten).toBe(before.bytesWritten);
    r.write(65536, pattern(300, 9));
    const target = Buffer.alloc(300);
    const rd = r.copyProbe(new Float64Array([4096, 65536]), 300, target, false);
    expect(rd.copies).toBe(2);
    expect(target.equals(pattern(300, 9))).toBe(true); // the last copy wins
    r.close();
  });

  it('checks every offset, the length and the buffer before the first copy', () => {
    const p = uniquePath(shm);
    const r = Region.create(p, MiB);
    const src = Buffer.alloc(64, 5);
    for (const bad of [-1, NaN, Infinity, 1.5, 2 ** 53])
      expectCode(() => r.copyProbe(new Float64Array([0, bad]), 64, src, true), 'EINVAL', /offsets/);
    expectCode(() => r.copyProbe(new Float64Array([0, MiB - 32]), 64, src, true), 'ERANGE', /region/);
    expectCode(() => r.copyProbe(new Float64Array([0]), 65, src, true), 'ERANGE', /buffer/);
    expectCode(() => r.copyProbe([0] as unknown as Float64Array, 64, src, true), 'EINVAL', /offsets/);
    expectCode(() => r.copyProbe(new Uint32Array([0]) as unknown as Float64Array, 64, src, true), 'EINVAL', /offsets/);
    expectCode(() => r.copyProbe(new Float64Array([0]), 64, 'abc' as unknown as Buffer, true), 'EINVAL', /buffer/);
    expect(r.view(0, 64).every((x) => x === 0)).toBe(true); // nothing copied
    r.close();
    const ro = Region.open(p, { readOnly: true });
    expectCode(() => ro.copyProbe(new Float64Array([0]), 64, src, true), 'EROFS');
    expect(ro.copyProbe(new Float64Array([0]), 64, Buffer.alloc(64), false).copies).toBe(1);
    ro.close();
  });
});

describe('read-only regions', () => {
  it('refuse every write with EROFS and leave the file unchanged; views are private', () => {
    const p = uniquePath(shm);
    writeFileSync(p, Buffer.alloc(8192, 4));
    const r = Region.open(p, { readOnly: true });
    expect(r.readOnly).toBe(true);
    expect(r.capabilities.mapSync).toBe(false);
    expectCode(() => r.write(0, Buffer.alloc(1)), 'EROFS');
    expectCode(() => r.zero(0, 1), 'EROFS');
    expectCode(() => r.store64(0, 1n), 'EROFS');
    expectCode(() => r.cas64(0, 0n, 1n), 'EROFS');
    expectCode(() => r.bitmap(0, 64).set(0, 1), 'EROFS');
    expectCode(() => r.createMapping(4096).mapBlocks(0, 4096, 0, true), 'EROFS');
    r.persist(0, 10);
    const v = r.view(0, 4);
    v[0] = 99; // a private copy-on-write page: no fault, never reaches the file
    expect(v[0]).toBe(99);
    r.close();
    expect(readFileSync(p)).toEqual(Buffer.alloc(8192, 4));
  });

  it('can be opened on a file without write permission', () => {
    const p = uniquePath(shm);
    writeFileSync(p, Buffer.alloc(4096, 1), { mode: 0o444 });
    const r = Region.open(p, { readOnly: true });
    expect(r.view(0, 1)[0]).toBe(1);
    r.close();
  });
});

describe('close', () => {
  it('detaches views, so JS cannot touch unmapped memory, and later calls fail with EBADF', () => {
    const r = Region.create(uniquePath(shm), MiB);
    const v = r.view(0, 4096);
    const sub = v.subarray(10, 20);
    v[0] = 1;
    r.close();
    expect(v.length).toBe(0);
    expect(sub.length).toBe(0);
    expect(v[0]).toBeUndefined();
    v[0] = 5; // a store to a detached view is ignored, not a crash
    expect(r.closed).toBe(true);
    for (const call of [
      () => r.view(0, 1),
      () => r.read(0, Buffer.alloc(1)),
      () => r.write(0, Buffer.alloc(1)),
      () => r.zero(0, 1),
      () => r.persist(0, 1),
      () => r.flush(0, 1),
      () => r.drain(),
      () => r.load64(0),
      () => r.stats(),
      () => r.bitmap(0, 64).find(0, 1),
      () => r.createMapping(4096),
    ]) {
      expectCode(call, 'EBADF');
    }
    r.close(); // idempotent
  });

  it('survives many open/close cycles of the same file', () => {
    const p = uniquePath(shm);
    Region.create(p, MiB).close();
    for (let i = 0; i < 200; i++) {
      const r = Region.open(p);
      r.view(0, 8)[0] = i & 0xff;
      r.close();
    }
    const r = Region.open(p);
    expect(r.view(0, 1)[0]).toBe(199);
    r.close();
  });

  it('a region that is never closed is unmapped by the garbage collector only once unreachable', async () => {
    const p = uniquePath(shm);
    Region.create(p, MiB).close();
    const views: Buffer[] = [];
    for (let i = 0; i < 20; i++) views.push(Region.open(p).view(0, 16));
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
    for (const v of views) expect(v.length).toBe(16); // still mapped: the views keep it alive
  });
});

describe('sysfs detection', () => {
  function fakeSysfs(domains: string[], dax?: { major: number; minor: number; size: number; align: number }): string {
    const root = uniquePath(shm, 'sysfs');
    domains.forEach((d, i) => {
      mkdirSync(path.join(root, 'bus/nd/devices', `region${i}`), { recursive: true });
      writeFileSync(path.join(root, 'bus/nd/devices', `region${i}`, 'persistence_domain'), `${d}\n`);
    });
    mkdirSync(path.join(root, 'bus/nd/devices/ndbus0'), { recursive: true });
    if (dax) {
      const dev = path.join(root, 'dev/char', `${dax.major}:${dax.minor}`);
      mkdirSync(dev, { recursive: true });
      mkdirSync(path.join(root, 'bus/dax'), { recursive: true });
      symlinkSync(path.join(root, 'bus/dax'), path.join(dev, 'subsystem'));
      writeFileSync(path.join(dev, 'size'), `${dax.size}\n`);
      writeFileSync(path.join(dev, 'align'), `${dax.align}\n`);
    }
    return root;
  }

  it('reports the persistence domain: cpu_cache only when every region has it', () => {
    const p = uniquePath(shm);
    Region.create(p, MiB).close();
    const eadr = Region.open(p, { sysfsRoot: fakeSysfs(['cpu_cache', 'cpu_cache']) });
    expect(eadr.capabilities.persistenceDomain).toBe('cpu_cache');
    // emulation on tmpfs still flushes: eADR only matters for real pmem
    expect(eadr.capabilities.flushNeeded).toBe(true);
    eadr.close();
    const adr = Region.open(p, { sysfsRoot: fakeSysfs(['cpu_cache', 'memory_controller']) });
    expect(adr.capabilities.persistenceDomain).toBe('memory_controller');
    adr.close();
    const none = Region.open(p, { sysfsRoot: fakeSysfs([]) });
    expect(none.capabilities.persistenceDomain).toBe('');
    none.close();
  });

  it('recognises a device-dax character device by its subsystem, with size and alignment from sysfs', () => {
    // /dev/zero (1:5) stands in for /dev/daxX.Y: a character device that can be mapped shared.
    const st = statSync('/dev/zero');
    const major = Math.floor(st.rdev / 256) & 0xfff;
    const minor = st.rdev & 0xff;
    const root = fakeSysfs(['cpu_cache'], { major, minor, size: 8 * MiB, align: 2 * MiB });
    const r = Region.open('/dev/zero', { sysfsRoot: root });
    const c = r.capabilities;
    expect(c.kind).toBe('devdax');
    expect(c.size).toBe(8 * MiB);
    expect(c.align).toBe(2 * MiB);
    expect(c.persistence).toBe('cache-flush');
    expect(c.persistenceDomain).toBe('cpu_cache');
    expect(c.granularity).toBe('byte');
    expect(c.flushNeeded).toBe(false); // eADR: fence only
    r.write(0, pattern(100));
    expect(r.stats().flushedLines).toBe(0);
    expect(r.stats().fences).toBe(1);
    // mappings work at the device alignment
    const m = r.createMapping(4 * MiB);
    expect(m.unit).toBe(2 * MiB);
    expectCode(() => m.mapZero(4096, 4096), 'EINVAL', /multiple of 2097152/);
    m.mapZero(2 * MiB, 2 * MiB);
    expect(new Uint8Array(m.buffer)[2 * MiB]).toBe(0);
    expectCode(() => r.createMapping(MiB), 'EINVAL', /multiple of 2097152/);
    r.close();
    // ADR (memory_controller): cache-flush mode must flush every line it persists
    const adr = Region.open('/dev/zero', { sysfsRoot: fakeSysfs(['memory_controller'], { major, minor, size: 8 * MiB, align: 2 * MiB }) });
    expect(adr.capabilities).toMatchObject({ persistence: 'cache-flush', granularity: 'cache-line', flushNeeded: true });
    adr.write(0, pattern(100));
    expect(adr.stats()).toMatchObject({ flushedLines: 2, fences: 1, msyncCalls: 0 });
    adr.persist(0, 4096);
    expect(adr.stats()).toMatchObject({ flushedLines: 2 + 64, fences: 2, msyncCalls: 0 });
    adr.close();
    // an explicit flush instruction is honoured even on eADR
    const forced = Region.open('/dev/zero', { sysfsRoot: root, flush: 'clflush' });
    expect(forced.capabilities.flushNeeded).toBe(true);
    forced.close();
    const unaligned = fakeSysfs([], { major, minor, size: 3 * MiB, align: 2 * MiB });
    expectCode(() => Region.open('/dev/zero', { sysfsRoot: unaligned }), 'EINVAL', /alignment/);
  });

  it('the align option raises a file region\'s alignment', () => {
    const p = uniquePath(shm);
    Region.create(p, 4 * MiB).close();
    const r = Region.open(p, { align: 2 * MiB });
    expect(r.capabilities.align).toBe(2 * MiB);
    expect(r.createMapping(2 * MiB).unit).toBe(2 * MiB);
    r.close();
    expectCode(() => Region.open(p, { align: 3000 }), 'EINVAL', /power of two/);
    const small = uniquePath(shm);
    Region.create(small, MiB).close();
    expectCode(() => Region.open(small, { align: 2 * MiB }), 'EINVAL', /alignment/);
  });
});


describe('the addon', () => {
  it('is the one named by DAXFS_ADDON when set, else the package build', () => {
    const forced = process.env['DAXFS_ADDON'];
    if (forced) expect(addonPath).toBe(path.resolve(forced));
    else expect(addonPath).toMatch(/(build\/Release|prebuilds\/[^/]+)\/daxfs\.node$/);
    // printed so that a run against another build can show which one it used
    console.log(`addon in use: ${addonPath}`);
  });
});

describe('asynchronous copies', () => {
  it('writeAsync and readAsync move the bytes off the main thread', async () => {
    const r = Region.create(uniquePath(shm), 8 * MiB);
    const data = pattern(5 * MiB + 3, 11);
    expect(await r.writeAsync(100, data)).toBe(data.length);
    const back = Buffer.alloc(data.length);
    expect(await r.readAsync(100, back)).toBe(data.length);
    expect(back.equals(data)).toBe(true);
    expect(r.stats().bytesWritten).toBe(data.length);
    r.close();
  });

  it('close while a copy is in flight: the copy completes, the region is closed, nothing crashes', async () => {
    const p = uniquePath(shm);
    const r = Region.create(p, 64 * MiB);
    const data = pattern(32 * MiB, 3);
    const pending = r.writeAsync(0, data);
    r.close();
    expectCode(() => r.write(0, Buffer.alloc(1)), 'EBADF');
    await expect(pending).resolves.toBe(32 * MiB);
    const again = Region.open(p);
    expect(again.view(0, 32 * MiB).equals(data)).toBe(true);
    again.close();
  });

  it('checks arguments synchronously with typed errors', () => {
    const r = Region.create(uniquePath(shm), MiB);
    expectCode(() => r.writeAsync(MiB, Buffer.alloc(1)), 'ERANGE');
    expectCode(() => r.readAsync(-1, Buffer.alloc(1)), 'EINVAL', /offset/);
    r.close();
  });
});

describe('advisory lock', () => {
  it('one exclusive holder; shared holders exclude a writer; released on close', () => {
    const p = uniquePath(shm);
    const a = Region.create(p, MiB);
    expect(a.lock(true)).toBe(true);
    const b = Region.open(p);
    expect(b.lock(true)).toBe(false);
    expect(b.lock(false)).toBe(false);
    a.close();
    expect(b.lock(false)).toBe(true);
    const c = Region.open(p, { readOnly: true });
    expect(c.lock(false)).toBe(true);
    const d = Region.open(p);
    expect(d.lock(true)).toBe(false);
    b.close();
    c.close();
    expect(d.lock(true)).toBe(true);
    d.close();
  });
});
