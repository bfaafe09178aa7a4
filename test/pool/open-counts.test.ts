// The open-handle counts: per inode, undefined when none, growing past the
// first table for high inode numbers.
import { describe, expect, it } from 'vitest';

import { OpenCounts } from '../../lib/pool/open-counts.js';

describe('open counts', () => {
  it('counts per inode, none as undefined, across growth, and delete clears one', () => {
    const c = new OpenCounts();
    expect(c.get(0)).toBeUndefined();
    expect(c.get(5_000_000)).toBeUndefined(); // past the table: none, nothing grown
    c.set(3, 2).set(1023, 1);
    c.set(70_000, 7); // grows the table, keeping what it held
    expect([c.get(3), c.get(1023), c.get(70_000), c.get(4), c.get(69_999)]).toEqual([2, 1, 7, undefined, undefined]);
    c.delete(3);
    c.delete(9_000_000); // past the table: nothing to clear
    expect([c.get(3), c.get(1023), c.get(70_000)]).toEqual([undefined, 1, 7]);
    c.set(1023, 0);
    expect(c.get(1023)).toBeUndefined();
  });
});
