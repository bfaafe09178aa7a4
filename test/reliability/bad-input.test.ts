// Bad input everywhere: every public method of pools, files and mappings,
// each numeric argument given every kind of bad number, plus bad names,
// buffers and options, overflowing ranges, and every method on a closed
// pool, a closed file, an unmapped mapping and a read-only pool. Each call
// must throw (or reject with) a typed error, never crash, and change no data.
import { describe as group, expect, it } from 'vitest';

import { isDaxfsError, Pool, type FileMapping, type PoolFile } from '../../lib/index.js';
import { readState, type State } from '../pool/crash-model.js';
import { BAD_NUMBERS, tmpfsDir, uniquePath } from '../helpers.js';

const dir = tmpfsDir();
const PAGE = 4096;

const BAD_NAMES: unknown[] = [42, null, undefined, '', 'a/b', 'a\0b', 'x'.repeat(256), {}, ['a']];
const BAD_BUFFERS: unknown[] = [null, undefined, 'abc', 42, {}, [1, 2, 3], new ArrayBuffer(8)];

interface Ctx {
  pool: Pool;
  file: PoolFile;
  mapping: FileMapping;
  path: string;
}

function context(): Ctx {
  const path = uniquePath(dir, 'bad');
  const pool = Pool.format(path, { size: 8 << 20 });
  const file = pool.open('f', { create: true });
  file.write(Buffer.alloc(8 * PAGE, 0x42), 0);
  pool.open('g', { create: true }).close();
  const mapping = file.map({ length: 8 * PAGE, write: true });
  return { pool, file, mapping, path };
}

/** Calls `fn`; returns the error code it threw or rejected with ('none' when it succeeded). */
async function codeOf(fn: () => unknown): Promise<string> {
  try {
    const r = fn();
    if (r instanceof Promise) await r;
    return 'none';
  } catch (e) {
    if (!isDaxfsError(e)) throw new Error(`untyped error: ${String(e)}`);
    if (!/\S/.test(e.message)) throw new Error(`error ${e.code} without a message`);
    return e.code;
  }
}

interface Entry {
  name: string;
  call: (c: Ctx, a: unknown[]) => unknown;
  good: unknown[];
  numeric: number[];
  optional?: number[];
  /** Values that are valid for an argument although the table lists them as bad. */
  allow?: Record<number, unknown[]>;
}

const any = (x: unknown) => x as Record<string, (...a: unknown[]) => unknown>;
const b64 = () => Buffer.alloc(64);

const ENTRIES: Entry[] = [
  { name: 'file.read', call: (c, a) => any(c.file).read!(b64(), a[0], a[1], a[2]), good: [0, 0, 16], numeric: [0, 1, 2], optional: [1, 2] },
  { name: 'file.write', call: (c, a) => any(c.file).write!(b64(), a[0], a[1], a[2]), good: [0, 0, 16], numeric: [0, 1, 2], optional: [1, 2] },
  { name: 'file.readAsync', call: (c, a) => any(c.file).readAsync!(b64(), a[0], a[1], a[2]), good: [0, 0, 16], numeric: [0, 1, 2], optional: [1, 2] },
  { name: 'file.writeAsync', call: (c, a) => any(c.file).writeAsync!(b64(), a[0], a[1], a[2]), good: [0, 0, 16], numeric: [0, 1, 2], optional: [1, 2] },
  { name: 'file.truncate', call: (c, a) => any(c.file).truncate!(a[0]), good: [8 * PAGE], numeric: [0] },
  { name: 'file.allocate', call: (c, a) => any(c.file).allocate!(a[0], a[1]), good: [0, PAGE], numeric: [0, 1] },
  { name: 'file.punchHole', call: (c, a) => any(c.file).punchHole!(a[0], a[1]), good: [8 * PAGE, PAGE], numeric: [0, 1] },
  { name: 'file.zeroRange', call: (c, a) => any(c.file).zeroRange!(a[0], a[1]), good: [8 * PAGE, 1], numeric: [0, 1] },
  { name: 'file.getBlock', call: (c, a) => any(c.file).getBlock!(a[0], { maxBlocks: a[1] }), good: [0, 1], numeric: [0, 1], optional: [1] },
  { name: 'file.map', call: (c, a) => any(c.file).map!({ offset: a[0], length: a[1], faultAround: a[2] }), good: [0, PAGE, 4], numeric: [0, 1, 2], optional: [0, 2], allow: { 2: [Infinity] } },
  { name: 'mapping.fault', call: (c, a) => any(c.mapping).fault!(a[0]), good: [0], numeric: [0] },
  { name: 'mapping.populate', call: (c, a) => any(c.mapping).populate!(a[0], a[1]), good: [0, PAGE], numeric: [0, 1], optional: [0, 1] },
  { name: 'mapping.view', call: (c, a) => any(c.mapping).view!(a[0], a[1]), good: [0, 16], numeric: [0, 1] },
  { name: 'mapping.read', call: (c, a) => any(c.mapping).read!(a[0], b64(), a[1], a[2]), good: [0, 0, 16], numeric: [0, 1, 2], optional: [1, 2] },
  { name: 'mapping.write', call: (c, a) => any(c.mapping).write!(a[0], Buffer.alloc(64, 0x42), a[1], a[2]), good: [0, 0, 16], numeric: [0, 1, 2], optional: [1, 2] },
  { name: 'mapping.persist', call: (c, a) => any(c.mapping).persist!(a[0], a[1]), good: [0, 16], numeric: [0, 1] },
  { name: 'mapping.discard', call: (c, a) => any(c.mapping).discard!(a[0], a[1]), good: [0, PAGE], numeric: [0, 1] },
  { name: 'mapping.pageStates', call: (c, a) => any(c.mapping).pageStates!(a[0], a[1]), good: [0, PAGE], numeric: [0, 1], optional: [0, 1] },
];

/** Every method, for the closed/unmapped/read-only tables: [name, call]. */
const METHODS: [string, (c: Ctx) => unknown][] = [
  ['pool.list', (c) => c.pool.list()],
  ['pool.stat', (c) => c.pool.stat('f')],
  ['pool.open', (c) => c.pool.open('f')],
  ['pool.open create', (c) => c.pool.open('new', { create: true })],
  ['pool.unlink', (c) => c.pool.unlink('g')],
  ['pool.rename', (c) => c.pool.rename('g', 'h')],
  ['pool.check repair', (c) => c.pool.check({ repair: true })],
  ['pool.info', (c) => c.pool.info()],
  ...ENTRIES.map((e): [string, (c: Ctx) => unknown] => [e.name, (c) => e.call(c, [...e.good])]),
];

function same(a: State, b: State): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k)?.equals(v));
}

group('bad input everywhere', () => {
  let tried = 0;

  for (const entry of ENTRIES) {
    it(`${entry.name}: every bad number in every numeric argument is a typed error; nothing changes`, async () => {
      const c = context();
      try {
        expect(await codeOf(() => entry.call(c, [...entry.good])), 'the good call').toBe('none');
        const before = readState(c.pool);
        for (const index of entry.numeric) {
          for (const [label, value] of BAD_NUMBERS) {
            if (value === undefined && entry.optional?.includes(index)) continue;
            if (entry.allow?.[index]?.includes(value)) continue;
            const args = [...entry.good];
            args[index] = value;
            const code = await codeOf(() => entry.call(c, args));
            expect(['EINVAL', 'EFBIG'], `${entry.name} argument ${index} = ${label}`).toContain(code);
            tried++;
          }
        }
        expect(same(readState(c.pool), before)).toBe(true);
      } finally {
        c.pool.close();
      }
    });
  }

  it('overflowing and past-the-end ranges are ERANGE or EFBIG; nothing changes', async () => {
    const c = context();
    try {
      const before = readState(c.pool);
      const max = 2 ** 53 - 1;
      const calls: [string, () => unknown, string[]][] = [
        ['file.write at 2^53-1', () => c.file.write(b64(), max), ['EFBIG']],
        ['file.write past the largest file', () => c.file.write(b64(), 2 ** 44 - 10), ['EFBIG']],
        ['file.truncate to 2^50', () => c.file.truncate(2 ** 50), ['EFBIG']],
        ['file.allocate overflowing', () => c.file.allocate(max, max), ['EFBIG']],
        ['file.zeroRange overflowing', () => c.file.zeroRange(2 ** 44, 2 ** 44), ['EFBIG']],
        ['file.read past the target', () => c.file.read(b64(), 0, 60, 16), ['ERANGE']],
        ['file.write past the source', () => c.file.write(b64(), 0, 0, 65), ['ERANGE']],
        ['file.getBlock past 2^32', () => c.file.getBlock(2 ** 32), ['EINVAL']],
        ['file.map past the largest file', () => c.file.map({ offset: 2 ** 44, length: PAGE }), ['EFBIG']],
        ['mapping.read past the mapping', () => c.mapping.read(8 * PAGE - 8, b64()), ['ERANGE']],
        ['mapping.write at 2^53-1', () => c.mapping.write(max, b64()), ['ERANGE']],
        ['mapping.view overflowing', () => c.mapping.view(1, max), ['ERANGE']],
        ['mapping.persist overflowing', () => c.mapping.persist(max, max), ['ERANGE']],
        ['mapping.discard unaligned', () => c.mapping.discard(100, PAGE), ['EINVAL']],
        ['mapping.fault at the end', () => c.mapping.fault(8 * PAGE), ['ERANGE']],
      ];
      for (const [what, call, codes] of calls) {
        expect(codes, what).toContain(await codeOf(call));
        tried++;
      }
      expect(same(readState(c.pool), before)).toBe(true);
    } finally {
      c.pool.close();
    }
  });

  it('bad names, buffers and options are EINVAL naming the argument', async () => {
    const c = context();
    try {
      const before = readState(c.pool);
      for (const name of BAD_NAMES) {
        for (const call of [
          () => c.pool.open(name as string),
          () => c.pool.open(name as string, { create: true }),
          () => c.pool.stat(name as string),
          () => c.pool.unlink(name as string),
          () => c.pool.rename('f', name as string),
          () => c.pool.rename(name as string, 'f'),
        ]) {
          expect(['EINVAL', 'ENOENT']).toContain(await codeOf(call));
          tried++;
        }
      }
      for (const b of BAD_BUFFERS) {
        for (const call of [
          () => c.file.read(b as Buffer, 0),
          () => c.file.write(b as Buffer, 0),
          () => c.file.readAsync(b as Buffer, 0),
          () => c.file.writeAsync(b as Buffer, 0),
          () => c.mapping.read(0, b as Buffer),
          () => c.mapping.write(0, b as Buffer),
        ]) {
          expect(await codeOf(call)).toBe('EINVAL');
          tried++;
        }
      }
      for (const options of [{ shared: 1 }, { write: 'yes' }, { huge: null }, null, 'map', { length: PAGE, faultAround: -1 }]) {
        expect(await codeOf(() => c.file.map(options as never))).toBe('EINVAL');
        tried++;
      }
      for (const size of [-1, 1.5, NaN, 1000, 2 ** 53, 'big']) {
        expect(await codeOf(() => Pool.format(uniquePath(dir, 'fmt'), { size: size as number }))).toBe('EINVAL');
        tried++;
      }
      for (const path of [42, '', 'a\0b', null]) {
        expect(await codeOf(() => Pool.open(path as string))).toBe('EINVAL');
        tried++;
      }
      expect(same(readState(c.pool), before)).toBe(true);
    } finally {
      c.pool.close();
    }
  });

  it('closed pools, closed files and unmapped mappings refuse every method with EBADF', async () => {
    const c = context();
    c.file.close();
    c.mapping.unmap();
    for (const [what, call] of METHODS) {
      if (what.startsWith('pool.')) continue;
      expect(await codeOf(() => call(c)), what).toBe('EBADF');
      tried++;
    }
    const d = context();
    d.pool.close();
    for (const [what, call] of METHODS) {
      expect(await codeOf(() => call(d)), what).toBe('EBADF');
      tried++;
    }
    c.pool.close();
  });

  it('a read-only pool refuses every change with EROFS and reads fine', async () => {
    const c = context();
    c.pool.close();
    const pool = Pool.open(c.path, { readOnly: true });
    try {
      const file = pool.open('f');
      const mapping = file.map({ length: 8 * PAGE });
      const ro: Ctx = { pool, file, mapping, path: c.path };
      const before = readState(pool);
      const changes = new Set(['pool.open create', 'pool.unlink', 'pool.rename', 'pool.check repair', 'file.write', 'file.writeAsync', 'file.truncate', 'file.allocate', 'file.punchHole', 'file.zeroRange']);
      for (const [what, call] of METHODS) {
        const code = await codeOf(() => call(ro));
        if (changes.has(what)) expect(code, what).toBe('EROFS');
        else if (what === 'mapping.write') expect(code, what).toBe('EACCES');
        else if (what === 'file.getBlock') expect(code, what).toBe('none');
        else expect(['none'], what).toContain(code);
        tried++;
      }
      expect(await codeOf(() => file.getBlock(0, { create: true }))).toBe('none'); // mapped: nothing to create
      expect(await codeOf(() => file.getBlock(100, { create: true }))).toBe('EROFS');
      expect(same(readState(pool), before)).toBe(true);
    } finally {
      pool.close();
    }
  });

  it('was tried with many bad inputs', () => {
    console.log(`bad input: ${tried} bad calls, each a typed error`);
    expect(tried).toBeGreaterThan(500);
  });
});
