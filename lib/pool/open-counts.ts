// Open handles per inode: how many PoolFile handles (and mappings, host.ts)
// each file has. A count per inode slot in a typed array, grown with the
// inode numbers seen: every open and close changes one, and a Map entry
// set on open and deleted on close churned the Map's table (~0.1 us a
// create) where an array slot costs nothing.
export class OpenCounts {
  private counts = new Uint32Array(1024);

  /** Handles open on `ino`; undefined when none. */
  get(ino: number): number | undefined {
    const n = ino < this.counts.length ? this.counts[ino]! : 0;
    return n === 0 ? undefined : n;
  }

  set(ino: number, count: number): this {
    if (ino >= this.counts.length) {
      const next = new Uint32Array(Math.max(ino + 1, 2 * this.counts.length));
      next.set(this.counts);
      this.counts = next;
    }
    this.counts[ino] = count;
    return this;
  }

  delete(ino: number): void {
    if (ino < this.counts.length) this.counts[ino] = 0;
  }
}
