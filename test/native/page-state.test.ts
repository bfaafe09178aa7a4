// The page states are declared twice, in native/page_state.h (the enum the
// MMU records) and in lib/mmu.ts (PageState, which the fault handler and the
// pool's checks compare against): this holds the two tables equal, names
// and values, so neither can gain, lose or renumber a state alone.
import { describe, expect, it } from 'vitest';

import { PAGE_STATE_NAMES } from '../../lib/mmu.js';
import { addon } from '../../lib/native.js';
import { PageState } from '../../lib/index.js';

describe('page states: one vocabulary in native code and TypeScript', () => {
  it('native exports exactly the states of the TypeScript table, by the same names and values', () => {
    const fromTs = Object.fromEntries(PAGE_STATE_NAMES.map((name, value) => [name, value]));
    expect(addon.pageStates).toEqual(fromTs);
  });

  it('every TypeScript state has a name, numbered 0.. without a gap', () => {
    const values = Object.values(PageState).sort((a, b) => a - b);
    expect(values).toEqual(values.map((_, i) => i));
    expect(PAGE_STATE_NAMES).toHaveLength(values.length);
    expect(PAGE_STATE_NAMES[PageState.privateWrite]).toBe('private-write');
  });
});
