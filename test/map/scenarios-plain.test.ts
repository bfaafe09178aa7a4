// The scenarios of scenarios.test.ts again, with nothing but plain loads and
// stores on the mappings' buffers — no view, populate, read or write on a
// mapping — each followed by pool.verifyMappings(): the fault service
// serves every first access (native/fault_service.h). The cases that end
// the process (past EOF, a store into a read-only mapping) run in child
// processes in bad-access-lines.test.ts; the SIGKILL durability case in
// plain-store-crash.test.ts.
import { randomFillSync } from 'node:crypto';
import { setImmediate as turn } from 'node:timers/promises';
import { describe as group, expect, it } from 'vitest';

import { expectMappingsSound, fileBytes, fillPool, KiB, MiB, PAGE, poolPerTest } from './helpers.js';

const pools = poolPerTest({ check: true });
const fresh = (size?: number) => pools.fresh(size);


/** Stores `s` at `at` of `u8` byte by byte (plain stores). */
function store(u8: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) u8[at + i] = s.charCodeAt(i);
}

/** Loads `n` bytes at `at` of `u8` as text (plain loads). */
function load(u8: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(u8[at + i]!);
  return s;
}


group('1. a hole filled by anyone shows in every mapping that read it (plain accesses)', () => {
  it('4 KiB: A loads zeros, B stores into the hole, A shows B’s bytes', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(64 * KiB);
    const a = new Uint8Array(f.map({ length: 64 * KiB }).buffer);
    const B = f.map({ length: 64 * KiB, write: true });
    const b = new Uint8Array(B.buffer);
    expect(load(a, 3 * PAGE, 8)).toBe('\0'.repeat(8));
    store(b, 3 * PAGE + 100, 'from B');
    expect(load(a, 3 * PAGE + 100, 6)).toBe('from B');
    expectMappingsSound(p);
  });

  it('4 KiB: A loads zeros, write() and a conversion fill the holes, A shows them', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(64 * KiB);
    const a = new Uint8Array(f.map({ length: 64 * KiB }).buffer);
    expect(a[5 * PAGE + 7]).toBe(0);
    f.write(Buffer.from('plain write'), 5 * PAGE + 7);
    expect(load(a, 5 * PAGE + 7, 11)).toBe('plain write');
    f.allocate(8 * PAGE, 2 * PAGE);
    expect(a[9 * PAGE]).toBe(0);
    f.write(Buffer.from('into unwritten'), 9 * PAGE);
    expect(load(a, 9 * PAGE, 14)).toBe('into unwritten');
    expectMappingsSound(p);
  });

  it('2 MiB: A loads a 2 MiB hole; stores through B and write() into it show in A', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    f.truncate(4 * MiB);
    const A = f.map({ length: 4 * MiB });
    const a = new Uint8Array(A.buffer);
    const b = new Uint8Array(f.map({ length: 4 * MiB, write: true, faultAround: 1 }).buffer);
    let sum = 0;
    for (let i = 2 * MiB; i < 4 * MiB; i += PAGE) sum += a[i]!;
    expect(sum).toBe(0);
    store(b, 2 * MiB + 300 * PAGE + 5, 'B store');
    f.write(Buffer.from('plain'), 2 * MiB + 17 * PAGE);
    expect(load(a, 2 * MiB + 300 * PAGE + 5, 7)).toBe('B store');
    expect(load(a, 2 * MiB + 17 * PAGE, 5)).toBe('plain');
    expectMappingsSound(p);
  });
});

group('2. truncate tears A down before its blocks can reach another file (plain accesses)', () => {
  it('a kept buffer never shows the thief’s bytes: after the file grows again it loads zeros', () => {
    const p = fresh(8 * MiB);
    const f = p.open('victim', { create: true });
    f.write(Buffer.alloc(1 * MiB, 0x41), 0);
    const a = new Uint8Array(f.map({ length: 1 * MiB }).buffer);
    const b = new Uint8Array(f.map({ length: 1 * MiB, write: true }).buffer);
    expect(a[5 * PAGE]).toBe(0x41);
    b[7 * PAGE] = 0x42;
    const before = new Set<number>();
    for (let k = 0; k < 256; k++) before.add(f.getBlock(k).poolBlock);
    fillPool(p, 'filler', 8);
    f.truncate(0);
    const C = p.open('thief', { create: true });
    C.write(Buffer.alloc(1 * MiB, 0x53), 0);
    let reused = 0;
    for (let k = 0; k < 256; k++) if (before.has(C.getBlock(k).poolBlock)) reused++;
    expect(reused).toBeGreaterThan(200); // the pool was full: C got A's blocks
    f.truncate(1 * MiB);
    let nonzero = 0;
    for (let i = 0; i < 1 * MiB; i += 512) nonzero += a[i]! + b[i]!;
    expect(nonzero).toBe(0);
    expectMappingsSound(p);
  });
});

group('3. private mappings copy on write (plain stores)', () => {
  it('leave the file alone, do not see each other, and discard restores the file — 100 rounds', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    const original = randomFillSync(Buffer.alloc(16 * KiB));
    f.write(original, 0);
    f.truncate(32 * KiB);
    const expected = Buffer.concat([original, Buffer.alloc(16 * KiB)]);
    const free = p.info().freeBlocks;
    for (let round = 0; round < 100; round++) {
      const P = f.map({ length: 32 * KiB, shared: false, write: true });
      const Q = f.map({ length: 32 * KiB, shared: false, write: true });
      const pv = new Uint8Array(P.buffer);
      const qv = new Uint8Array(Q.buffer);
      const at = (round * 997) % (32 * KiB - 8);
      store(pv, at, `P${String(round).padStart(6, '0')}`);
      store(qv, at, `Q${String(round).padStart(6, '0')}`);
      expect(load(pv, at, 7)).toBe(`P${String(round).padStart(6, '0')}`);
      expect(load(qv, at, 7)).toBe(`Q${String(round).padStart(6, '0')}`);
      expect(fileBytes(f, 0, 32 * KiB).equals(expected)).toBe(true);
      P.discard(0, 32 * KiB);
      expect(Buffer.from(pv).equals(expected)).toBe(true);
      expect(load(qv, at, 7)).toBe(`Q${String(round).padStart(6, '0')}`);
      expectMappingsSound(p);
      P.unmap();
      Q.unmap();
    }
    expect(p.info().freeBlocks).toBe(free);
  });
});

group('4. byte by byte (plain stores)', () => {
  it('allocates each byte’s range and stores it through a 256 KiB shared mapping; every byte reads back', async () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    const size = 256 * KiB;
    const M = f.map({ length: size, write: true });
    const u8 = new Uint8Array(M.buffer);
    for (let i = 0; i < size; i++) {
      f.allocate(i, 1);
      u8[i] = (i * 31 + 7) & 0xff;
      if (i % 512 === 511) {
        M.persist(i - 511, 512);
        f.sync();
      }
    }
    await turn();
    const back = fileBytes(f, 0, size);
    for (let i = 0; i < size; i++) if (back[i] !== ((i * 31 + 7) & 0xff) || u8[i] !== back[i]) throw new Error(`byte ${i}: file ${back[i]}, mapping ${u8[i]}`);
    expect(M.servedFaults().converts).toBe(size / PAGE); // each block allocated unwritten, converted by its first store
    expectMappingsSound(p);
  });

  it('stores into holes, no allocate first: each page filled once, the file reads back byte for byte', () => {
    const p = fresh();
    const f = p.open('f', { create: true });
    const size = 256 * KiB;
    f.truncate(size);
    const M = f.map({ length: size, write: true });
    const u8 = new Uint8Array(M.buffer);
    for (let i = 0; i < size; i++) u8[i] = (i * 13 + 1) & 0xff;
    M.persist(0, size);
    const back = fileBytes(f, 0, size);
    for (let i = 0; i < size; i++) if (back[i] !== ((i * 13 + 1) & 0xff)) throw new Error(`byte ${i}: ${back[i]}`);
    expect(M.servedFaults().fills).toBe(size / PAGE);
    expectMappingsSound(p);
  });
});
