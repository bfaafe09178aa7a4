// A search index over ascending u32 keys (extents' or chunks' first file
// blocks): the key range cut into about as many equal buckets as there are
// keys, each bucket recording how many keys lie before it. A lookup goes
// straight to its bucket and searches only the keys in it — one or two for
// evenly spread keys — instead of halving log2(n) times over all of them,
// each halving waiting on the last one's load. Built once for keys that
// never change (O(n)); skewed keys only make buckets fuller (a binary
// search inside the bucket bounds the cost).
//
// The keys may be every `stride`-th u32 of an array: a chunk's extents are
// searched in place, so the cache line holding the key found also holds the
// rest of its extent (a separate array of keys would be one more miss).
// For at most 255 keys (one chunk's) the counts are bytes (ChunkIndex): the
// counts of all a large file's chunks then take a quarter of the cache.
// Two classes, not one over either array type: each lookup site then sees
// one kind of array and stays monomorphic.

interface Counts {
  base: number;
  shift: number;
}

/** Fills the bucket counts (made by `make`, buckets + 1 long) of keys[0], keys[stride], ...: see above. */
function buildCounts<A extends Uint8Array | Uint32Array>(keys: Uint32Array, n: number, stride: number, make: (length: number) => A): Counts & { counts: A } {
  const base = n === 0 ? 0 : keys[0]!;
  const span = n === 0 ? 1 : keys[(n - 1) * stride]! - base + 1;
  let shift = 0;
  while (span / 2 ** shift > Math.max(1, n)) shift++;
  const width = 2 ** shift;
  const buckets = Math.floor((span - 1) / width) + 1;
  const counts = make(buckets + 1);
  let i = 0;
  for (let b = 0; b <= buckets; b++) {
    const limit = base + b * width;
    while (i < n && keys[i * stride]! < limit) i++;
    counts[b] = b === buckets ? n : i;
  }
  return { base, shift, counts };
}

export class StartIndex {
  readonly #keys: Uint32Array;
  readonly #n: number;
  readonly #stride: number;
  readonly #base: number;
  /** bucket = (key - base) >>> shift. */
  readonly #shift: number;
  /** counts[b]: keys below bucket b's start; counts[buckets] = n. */
  readonly #counts: Uint32Array;

  constructor(keys: Uint32Array, n: number, stride = 1) {
    const built = buildCounts(keys, n, stride, (length) => new Uint32Array(length));
    this.#keys = keys;
    this.#n = n;
    this.#stride = stride;
    this.#base = built.base;
    this.#shift = built.shift;
    this.#counts = built.counts;
  }

  /** Index of the last key ≤ x; 0 when none is (the caller checks keys[0]). */
  lastAtOrBefore(x: number): number {
    if (x < this.#base || this.#n === 0) return 0;
    // x - base < 2^32: the unsigned shift is exact
    const b = (x - this.#base) >>> this.#shift;
    const counts = this.#counts;
    if (b >= counts.length - 1) return this.#n - 1;
    // the last key ≤ x is the last before this bucket or one in it
    let at = Math.max(0, counts[b]! - 1);
    const keys = this.#keys;
    const stride = this.#stride;
    // without a branch on the data: each step adds half or nothing
    for (let len = counts[b + 1]! - at; len > 1; ) {
      const half = len >>> 1;
      at += half & -+(keys[(at + half) * stride]! <= x);
      len -= half;
    }
    return at;
  }
}

/** StartIndex for at most 255 keys, searched in place every 4th u32 (a chunk's extents): byte counts. */
export class ChunkIndex {
  readonly #keys: Uint32Array;
  readonly #n: number;
  readonly #base: number;
  readonly #shift: number;
  readonly #counts: Uint8Array;

  constructor(extents: Uint32Array, n: number) {
    if (n > 255) throw new RangeError(`a chunk index takes at most 255 keys, got ${n}`);
    const built = buildCounts(extents, n, 4, (length) => new Uint8Array(length));
    this.#keys = extents;
    this.#n = n;
    this.#base = built.base;
    this.#shift = built.shift;
    this.#counts = built.counts;
  }

  /** Index of the last key ≤ x; 0 when none is (the caller checks keys[0]). */
  lastAtOrBefore(x: number): number {
    if (x < this.#base || this.#n === 0) return 0;
    const b = (x - this.#base) >>> this.#shift;
    const counts = this.#counts;
    if (b >= counts.length - 1) return this.#n - 1;
    let at = Math.max(0, counts[b]! - 1);
    const keys = this.#keys;
    for (let len = counts[b + 1]! - at; len > 1; ) {
      const half = len >>> 1;
      at += half & -+(keys[(at + half) * 4]! <= x);
      len -= half;
    }
    return at;
  }
}
