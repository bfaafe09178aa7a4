// A file's address space (the kernel's i_mmap): every mapping of one file,
// indexed by the range of file blocks it covers, so that invalidation after
// a hole fill, truncate or punch visits only the mappings that overlap the
// changed range, whatever the number of mappings of other files or of other
// parts of this one.

export interface SpaceMember {
  /** File block shown by the mapping's first page. */
  readonly firstBlock: number;
  /** Pages (blocks) the mapping covers. */
  readonly blockCount: number;
}

export class AddressSpace<M extends SpaceMember> {
  /** Sorted by firstBlock. */
  #members: M[] = [];
  /** #maxEnd[i]: the largest end among members 0..i (monotone, so it can be searched). */
  #maxEnd: number[] = [];

  get size(): number {
    return this.#members.length;
  }

  all(): readonly M[] {
    return this.#members;
  }

  add(member: M): void {
    let i = this.#members.length;
    while (i > 0 && this.#members[i - 1]!.firstBlock > member.firstBlock) i--;
    this.#members.splice(i, 0, member);
    this.#rebuild();
  }

  remove(member: M): void {
    const i = this.#members.indexOf(member);
    if (i < 0) return;
    this.#members.splice(i, 1);
    this.#rebuild();
  }

  /** Members overlapping file blocks [from, to). */
  overlapping(from: number, to: number): M[] {
    const out: M[] = [];
    const members = this.#members;
    // The first member whose running maximum end passes `from`: nothing
    // before it can overlap.
    let lo = 0;
    let hi = members.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#maxEnd[mid]! <= from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < members.length; i++) {
      const m = members[i]!;
      if (m.firstBlock >= to) break;
      if (m.firstBlock + m.blockCount > from) out.push(m);
    }
    return out;
  }

  #rebuild(): void {
    let max = 0;
    this.#maxEnd = this.#members.map((m) => (max = Math.max(max, m.firstBlock + m.blockCount)));
  }
}
