import { describe as group, expect, it } from 'vitest';

import { AddressSpace } from '../../lib/map/address-space.js';
import { layoutChanges } from '../../lib/map/layout-diff.js';
import { ExtentMap } from '../../lib/pool/extent-map.js';
import type { Extent } from '../../lib/pool/extents.js';

interface Member {
  firstBlock: number;
  blockCount: number;
  id: number;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

group('AddressSpace', () => {
  it('finds exactly the mappings that overlap a range, against a brute-force scan', () => {
    const rand = lcg(7);
    const space = new AddressSpace<Member>();
    const members: Member[] = [];
    for (let round = 0; round < 2000; round++) {
      if (members.length > 0 && rand() < 0.3) {
        const m = members.splice(Math.floor(rand() * members.length), 1)[0]!;
        space.remove(m);
      } else {
        const m = { firstBlock: Math.floor(rand() * 1000), blockCount: 1 + Math.floor(rand() * 200), id: round };
        members.push(m);
        space.add(m);
      }
      const from = Math.floor(rand() * 1200);
      const to = from + 1 + Math.floor(rand() * 100);
      const expected = members.filter((m) => m.firstBlock < to && m.firstBlock + m.blockCount > from).map((m) => m.id).sort((a, b) => a - b);
      const got = space.overlapping(from, to).map((m) => m.id).sort((a, b) => a - b);
      expect(got).toEqual(expected);
      expect(space.size).toBe(members.length);
    }
  });

  it('visits no mapping of a disjoint range even when many exist', () => {
    const space = new AddressSpace<Member>();
    for (let i = 0; i < 100; i++) space.add({ firstBlock: i * 10, blockCount: 10, id: i });
    expect(space.overlapping(2000, 3000)).toEqual([]);
    expect(space.overlapping(55, 56).map((m) => m.id)).toEqual([5]);
    expect(space.overlapping(9, 11).map((m) => m.id)).toEqual([0, 1]);
  });
});

group('layoutChanges', () => {
  const changes = (before: Extent[], after: Extent[], from: number, to: number) => layoutChanges(ExtentMap.from(before), ExtentMap.from(after), from, to);
  const ext = (fileBlock: number, poolBlock: number, length: number, unwritten = false): Extent => ({ fileBlock, poolBlock, length, unwritten });

  it('reports a hole fill as gained and nothing lost', () => {
    expect(changes([], [ext(5, 100, 3)], 0, 2 ** 32)).toEqual({ lost: [], gained: [{ from: 5, to: 8 }] });
  });

  it('reports a punch as lost', () => {
    expect(changes([ext(0, 100, 10)], [ext(0, 100, 4), ext(6, 106, 4)], 0, 2 ** 32)).toEqual({ lost: [{ from: 4, to: 6 }], gained: [] });
  });

  it('treats written → unwritten as lost and unwritten → written as gained', () => {
    expect(changes([ext(0, 100, 4)], [ext(0, 100, 2), ext(2, 102, 2, true)], 0, 2 ** 32).lost).toEqual([{ from: 2, to: 4 }]);
    expect(changes([ext(0, 100, 4, true)], [ext(0, 100, 1, true), ext(1, 101, 3)], 0, 2 ** 32).gained).toEqual([{ from: 1, to: 4 }]);
  });

  it('ignores hole → unwritten and changes outside the window', () => {
    expect(changes([], [ext(0, 100, 4, true)], 0, 2 ** 32)).toEqual({ lost: [], gained: [] });
    expect(changes([ext(0, 100, 10)], [], 20, 30)).toEqual({ lost: [], gained: [] });
    expect(changes([ext(0, 100, 10)], [], 5, 30)).toEqual({ lost: [{ from: 5, to: 10 }], gained: [] });
  });

  it('reports a block replaced by another as both lost and gained', () => {
    expect(changes([ext(0, 100, 2)], [ext(0, 200, 2)], 0, 2 ** 32)).toEqual({ lost: [{ from: 0, to: 2 }], gained: [{ from: 0, to: 2 }] });
  });
});
