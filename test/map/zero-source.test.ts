// Mappings and the zero source: private mappings show holes through it, and
// when its VMAs run short the fault handler maps the faulting page's 2 MiB
// window only, invalidation tears pages down instead, and what cannot be
// shown fails with ENOMEM.
import { describe as group, expect, it } from 'vitest';

import { setZeroSourceLimit, zeroSourceInfo } from '../../lib/index.js';
import { expectCode } from '../helpers.js';
import { MiB, PAGE, poolPerTest, text } from './helpers.js';

const pools = poolPerTest({ check: false });
const WINDOW = 2 * MiB;
const states = (n: number, state: string) => new Array<string>(n).fill(state);

/** Runs `body` with room for `more` zero-source VMAs beyond those the process holds. */
function withRoomFor(more: number, body: () => void): void {
  const before = zeroSourceInfo().vmaLimit;
  setZeroSourceLimit(zeroSourceInfo().vmas + more);
  try {
    body();
  } finally {
    setZeroSourceLimit(before);
  }
}

group('the zero source in mappings', () => {
  it('a private mapping shows a hole through the zero source; the first store makes a private copy', () => {
    const p = pools.fresh();
    const f = p.open('f', { create: true });
    f.truncate(MiB);
    const free = p.info().freeBlocks;
    const pm = f.map({ length: MiB, shared: false, write: true });
    expect(pm.view(0, MiB).every((b) => b === 0)).toBe(true);
    expect(pm.kernelView().map((v) => [v.length, v.perms, v.zeroSource])).toEqual([[MiB, 'r--s', true]]);
    pm.write(PAGE + 1, Buffer.from('mine'));
    expect(pm.pageStates().slice(0, 3)).toEqual(['zero', 'private-write', 'zero']);
    expect(pm.kernelView().map((v) => [v.offset, v.length, v.perms, v.zeroSource])).toEqual([
      [0, PAGE, 'r--s', true],
      [PAGE, PAGE, 'rw-p', false],
      [2 * PAGE, MiB - 2 * PAGE, 'r--s', true],
    ]);
    expect(text(pm.view(PAGE + 1, 4))).toBe('mine');
    const shared = f.map({ length: MiB });
    expect(shared.view(PAGE, PAGE).every((b) => b === 0)).toBe(true);
    expect(p.info().freeBlocks).toBe(free);
  });
});

group('short of zero-source VMAs', () => {
  it('a read fault maps only the 2 MiB window of the faulting page, and fails with ENOMEM when even that is refused', () => {
    const p = pools.fresh();
    const f = p.open('f', { create: true });
    f.truncate(16 * MiB);
    const m = f.map({ length: 16 * MiB });
    withRoomFor(2, () => {
      m.fault(5 * MiB + 100); // the whole hole needs 8 windows: only the third is mapped
      const pages = WINDOW / PAGE;
      expect(m.pageStates()).toEqual([...states(2 * pages, 'none'), ...states(pages, 'zero'), ...states(5 * pages, 'none')]);
      m.fault(9 * MiB);
      expect(m.mmuStats().zeroVmas).toBe(2);
      expectCode(() => m.fault(13 * MiB), 'ENOMEM', /cannot show the hole at mapping offset 13631488 \(file offset 13631488\): no VMA is left for even its 2 MiB window .*zero-source limit/);
      expectCode(() => m.read(7 * MiB, Buffer.alloc(MiB)), 'ENOMEM', /mapping offset 7340032/);
      expect(m.pageStates().filter((s) => s === 'zero')).toHaveLength(2 * pages);
      expect(m.stats()).toMatchObject({ zeroPage: 2, major: 0 });
    });
    // With room again, a fault maps the whole run of unmapped pages around it.
    m.fault(0);
    expect(m.pageStates().slice(0, 3 * WINDOW / PAGE)).toEqual(states(3 * WINDOW / PAGE, 'zero'));
    expect(m.pageStates()[3 * WINDOW / PAGE]).toBe('none');
    m.populate();
    expect(m.pageStates()).toEqual(states(16 * MiB / PAGE, 'zero'));
    expect(m.view(0, 16 * MiB).every((b) => b === 0)).toBe(true);
    expect(m.mmuStats().zeroVmas).toBe(8);
  });

  it('a punch hole tears the mapped pages down instead of showing zeros; they show zeros once there is room', () => {
    const p = pools.fresh();
    const f = p.open('f', { create: true });
    f.write(Buffer.alloc(4 * MiB, 0x61), 0);
    const m = f.map({ length: 4 * MiB });
    m.populate();
    const pages = MiB / PAGE;
    withRoomFor(0, () => {
      f.punchHole(MiB, MiB);
      expect(m.pageStates()).toEqual([...states(pages, 'block-read'), ...states(pages, 'none'), ...states(2 * pages, 'block-read')]);
      expect(p.verifyMappings()).toEqual([]);
      expectCode(() => m.view(MiB, 10), 'ENOMEM', /cannot show the hole/);
    });
    expect(m.view(MiB, MiB).every((b) => b === 0)).toBe(true);
    expect(m.view(0, 1)[0]).toBe(0x61);
    expect(m.pageStates()[pages]).toBe('zero');
  });
});
