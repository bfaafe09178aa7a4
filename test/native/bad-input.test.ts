// Every numeric argument of every region and mapping primitive, given every
// kind of bad value: a typed error, never a crash, and no byte changed.
import { describe, expect, it } from 'vitest';

import { Region } from '../../lib/index.js';
import { BAD_NUMBERS, expectCode, pattern, tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
const SIZE = 1 << 20;


type Call = (r: Region, args: unknown[]) => unknown;
interface Entry {
  name: string;
  call: Call;
  good: unknown[];
  numeric: number[]; // indexes of numeric arguments
  optional?: number[]; // indexes where undefined means "the default"
}

const buf = () => Buffer.alloc(64);
const any = (r: Region) => r as unknown as Record<string, (...a: unknown[]) => unknown>;

const ENTRIES: Entry[] = [
  { name: 'read', call: (r, a) => any(r).read!(a[0], buf(), a[1], a[2]), good: [0, 0, 16], numeric: [0, 1, 2], optional: [1, 2] },
  { name: 'write', call: (r, a) => any(r).write!(a[0], buf(), a[1], a[2]), good: [0, 0, 16], numeric: [0, 1, 2], optional: [1, 2] },
  { name: 'zero', call: (r, a) => any(r).zero!(a[0], a[1]), good: [0, 16], numeric: [0, 1] },
  { name: 'persist', call: (r, a) => any(r).persist!(a[0], a[1]), good: [0, 16], numeric: [0, 1] },
  { name: 'flush', call: (r, a) => any(r).flush!(a[0], a[1]), good: [0, 16], numeric: [0, 1] },
  { name: 'view', call: (r, a) => any(r).view!(a[0], a[1]), good: [0, 16], numeric: [0, 1] },
  { name: 'load64', call: (r, a) => any(r).load64!(a[0]), good: [8], numeric: [0] },
  { name: 'store64', call: (r, a) => any(r).store64!(a[0], 1n), good: [8], numeric: [0] },
  { name: 'cas64', call: (r, a) => any(r).cas64!(a[0], 0n, 1n), good: [8], numeric: [0] },
  {
    name: 'bitmap.find',
    call: (r, a) => r.bitmap(a[0] as number, a[1] as number).find(a[2] as number, a[3] as number, a[4] as number),
    good: [4096, 128, 0, 4, 2],
    numeric: [0, 1, 2, 3, 4],
    optional: [4],
  },
  {
    name: 'bitmap.set',
    call: (r, a) => r.bitmap(a[0] as number, a[1] as number).set(a[2] as number, a[3] as number),
    good: [4096, 128, 0, 4],
    numeric: [0, 1, 2, 3],
  },
  {
    name: 'bitmap.clear',
    call: (r, a) => r.bitmap(a[0] as number, a[1] as number).clear(a[2] as number, a[3] as number),
    good: [4096, 128, 0, 4],
    numeric: [0, 1, 2, 3],
  },
  {
    name: 'mapping.mapBlocks',
    call: (r, a) => r.createMapping(8192).mapBlocks(a[0] as number, a[1] as number, a[2] as number, true),
    good: [0, 4096, 4096],
    numeric: [0, 1, 2],
  },
  {
    name: 'mapping.mapPrivate',
    call: (r, a) => r.createMapping(8192).mapPrivate(a[0] as number, a[1] as number, a[2] as number),
    good: [0, 4096, 4096],
    numeric: [0, 1, 2],
    optional: [2],
  },
  { name: 'mapping.mapZero', call: (r, a) => r.createMapping(8192).mapZero(a[0] as number, a[1] as number), good: [0, 4096], numeric: [0, 1] },
  { name: 'mapping.unmap', call: (r, a) => r.createMapping(8192).unmap(a[0] as number, a[1] as number), good: [0, 4096], numeric: [0, 1] },
  {
    name: 'writeScatter',
    call: (r, a) => any(r).writeScatter!(buf(), new Float64Array([0, 0, 8]), a[0]),
    good: [1],
    numeric: [0],
  },
  {
    name: 'journalCommit',
    call: (r, a) => any(r).journalCommit!(buf(), new Float64Array([65536, 0, 8]), a[0], a[1], a[2], a[3], a[4]),
    good: [1, 8192, 12288, 1, 0],
    numeric: [0, 1, 2, 3, 4],
    optional: [4],
  },
  {
    name: 'copyProbe',
    call: (r, a) => any(r).copyProbe!(new Float64Array([a[0] as number]), a[1], buf(), true),
    good: [0, 16],
    numeric: [1],
  },
  { name: 'createMapping', call: (r, a) => r.createMapping(a[0] as number), good: [8192], numeric: [0] },
];

describe('bad input to every primitive', () => {
  const path = uniquePath(shm);
  const region = Region.create(path, SIZE);
  const image = pattern(SIZE, 99);
  region.write(0, image);
  // The bitmap the bitmap entries use: keep its bits clear so the good calls succeed.
  region.zero(4096, 16);
  image.fill(0, 4096, 4096 + 16);
  let tried = 0;

  for (const entry of ENTRIES) {
    it(`${entry.name}: the good call works`, () => {
      const args = [...entry.good];
      expect(() => entry.call(region, args)).not.toThrow();
      // undo what a good call wrote so the image stays known
      region.write(0, image);
    });
    for (const index of entry.numeric) {
      it(`${entry.name}: argument ${index} rejects every bad value with EINVAL`, () => {
        for (const [, value] of BAD_NUMBERS) {
          if (value === undefined && entry.optional?.includes(index)) continue;
          const args = [...entry.good];
          args[index] = value;
          expectCode(() => entry.call(region, args), 'EINVAL');
          tried++;
        }
        expect(region.view(0, SIZE).equals(image)).toBe(true);
      });
    }
  }

  it('offset + length overflow and past-the-end ranges are ERANGE', () => {
    const max = 2 ** 53 - 1;
    for (const [offset, length] of [[max, 1], [SIZE, 1], [SIZE - 1, 2], [1, max], [0, SIZE + 1]]) {
      expectCode(() => region.persist(offset!, length!), 'ERANGE');
      expectCode(() => region.zero(offset!, length!), 'ERANGE');
      expectCode(() => region.view(offset!, length!), 'ERANGE');
      tried += 4;
    }
    expectCode(() => region.write(0, Buffer.alloc(8), 4, 8), 'ERANGE', /source buffer/);
    expectCode(() => region.read(0, Buffer.alloc(8), 9, 0), 'ERANGE', /target buffer/);
    expect(region.view(0, SIZE).equals(image)).toBe(true);
  });

  it('non-buffer sources and targets are EINVAL naming the argument', () => {
    for (const value of [null, undefined, 'abc', 42, {}, [1, 2, 3]]) {
      expectCode(() => region.write(0, value as unknown as Buffer, 0, 1), 'EINVAL', /source/);
      expectCode(() => region.read(0, value as unknown as Buffer, 0, 1), 'EINVAL', /target/);
      tried += 2;
    }
    expect(region.view(0, SIZE).equals(image)).toBe(true);
  });

  it('bad option values are EINVAL naming the option', () => {
    for (const [options, name] of [
      [{ readOnly: 'yes' }, 'readOnly'],
      [{ align: -4096 }, 'align'],
      [{ align: 1.5 }, 'align'],
      [{ ntThreshold: NaN }, 'ntThreshold'],
      [{ flush: 3 }, 'flush'],
      [{ sysfsRoot: {} }, 'sysfsRoot'],
    ] as const) {
      expectCode(() => Region.open(path, options as never), 'EINVAL', new RegExp(name));
      tried++;
    }
    expectCode(() => Region.open(42 as unknown as string), 'EINVAL', /path/);
    expectCode(() => Region.open('a\0b'), 'EINVAL', /NUL/);
    expectCode(() => Region.open(''), 'EINVAL', /path/);
    expectCode(() => Region.create(uniquePath(shm), 2 ** 53), 'EINVAL', /size/);
  });

  it('was tried with many bad inputs', () => {
    expect(tried).toBeGreaterThan(300);
  });
});
