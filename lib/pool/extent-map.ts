// A file's block map in memory: its extents in file order, held in chunks
// that are its storage on media — chunk 0 the inode's inline extents, each
// further chunk one extent block. An edit replaces only the chunks it
// touches (splitting a full one in two, merging a small one into a
// neighbour), so a transaction writes only those extent blocks, and a new
// version of an inode shares every other chunk with the old one: chunks
// are never changed once made, so cloning a map copies the chunk list, not
// the extents. Each chunk holds its extents as u32 quadruples (the on-media
// layout: fileBlock, poolBlock, length, flags), with no object per extent,
// found through a bucketed index of the chunks' first file blocks, then one
// of the chunk's (start-index.ts): a lookup costs about the same at 10k
// extents as at one.
import {
  insert as insertInArray,
  makeExtent,
  removeRange as removeFromArray,
  setUnwritten as setUnwrittenInArray,
  FILE_BLOCKS_END,
  type Extent,
  type IoRun,
  type Run,
} from './extents.js';
import { ChunkIndex, StartIndex } from './start-index.js';

/** Extents the inode holds inline (chunk 0); with more, it is always full. */
export const INLINE_EXTENTS = 11;
/** Extents one extent block holds. */
export const EXTENTS_PER_BLOCK = 255;
/** Chunks of at most this many extents are searched without an index. */
const SMALL = 16;
/** A chunk with fewer extents is merged into a neighbour that has room. */
const MERGE_BELOW = 64;
/**
 * Lookups of a chunk (or of a map's chunk list) before its index is built.
 * An edit makes new chunks, and the next edit of the same place replaces
 * them: indexing each on its first lookup cost an allocation and a pass over
 * its 255 extents per transaction, for a handful of lookups a binary search
 * serves as well. A chunk that is read on (getBlock, reads) gets its index
 * after this many.
 */
const INDEX_AFTER = 16;

/** u32s of the slab new large chunks' extents are carved from: 16 KiB, four full chunks. */
const SLAB_WORDS = 4096;
/** Chunks of at least this many u32s (128 extents) take their extents from the slab; smaller ones get their own array. */
const FROM_SLAB = SLAB_WORDS / 8;
let slab = new Uint32Array(0);
let slabAt = 0;

/**
 * `words` u32s for a new chunk's extents (contents unspecified: the caller
 * writes every one). An array of its own costs a fresh ArrayBuffer — an
 * allocation outside the heap the collector must track, several
 * microseconds for 4 KiB, the largest cost of an edit of a large file — so
 * the large chunks an edit makes are views into a shared slab, which the
 * collector frees when its last chunk goes. A live chunk keeps at most its
 * slab (16 KiB) alive: at most 8 times its own size, as only large chunks
 * share one.
 */
function chunkWords(words: number): Uint32Array {
  if (words < FROM_SLAB || words > SLAB_WORDS) return new Uint32Array(words);
  if (slabAt + words > slab.length) {
    slab = new Uint32Array(SLAB_WORDS);
    slabAt = 0;
  }
  // a view made directly: cheaper than subarray, which looks up the constructor to use
  const out = new Uint32Array(slab.buffer, slabAt * 4, words);
  slabAt += words;
  return out;
}

/** Index of the last of extents [0, n) of `d` (u32 quadruples) starting at or before `x`; 0 when none does. */
function lastStartAtOrBefore(d: Uint32Array, n: number, x: number): number {
  let b = 0;
  for (let len = n; len > 1; ) {
    const half = len >>> 1;
    b += half & -+(d[(b + half) * 4]! <= x); // half or nothing: no branch on the data
    len -= half;
  }
  return b;
}

/** Extents a chunk may hold. */
function capacity(index: number): number {
  return index === 0 ? INLINE_EXTENTS : EXTENTS_PER_BLOCK;
}

/** A run of consecutive extents: the inline ones, or one extent block's. Never changed once made. */
export class Chunk {
  #index: ChunkIndex | null;
  /** Lookups made without the index: it is built only for a chunk looked up often (see INDEX_AFTER). */
  #lookups = 0;

  /**
   * The chunk this one replaced in the same extent block, by an edit that
   * kept that chunk's first `same` extents: its block then differs from
   * `base`'s only from there on (and in the header). Set by the edit that
   * makes the chunk; the commit that writes the chunk lets go of `base`.
   */
  base: Chunk | null = null;
  same = 0;
  /**
   * Whether this process committed the chunk's whole extent block (in full,
   * or as the part that differed from a chunk so marked): its bytes on
   * media are known exactly (see extentBlockRecords in commit.ts). Set by
   * the commit; false for a chunk decoded at mount. A field rather than a
   * WeakSet entry: two entries per transaction of a large file, each work
   * for the collector's ephemeron pass.
   */
  written = false;

  constructor(
    /** `n` extents as [fileBlock, poolBlock, length, flags (1 = unwritten)], u32 each. */
    readonly data: Uint32Array,
    readonly n: number,
    /** The extent block holding it on media; 0 for the inline chunk, or for one not placed yet. */
    readonly block: number,
    index: ChunkIndex | null = null,
  ) {
    this.#index = index;
  }

  /** The search index over the extents' first file blocks (built on the first call). */
  get index(): ChunkIndex {
    return (this.#index ??= new ChunkIndex(this.data, this.n));
  }

  /** The index once this chunk has been looked up INDEX_AFTER times, else null (search it directly). */
  searchIndex(): ChunkIndex | null {
    return this.#index ?? (++this.#lookups < INDEX_AFTER ? null : this.index);
  }

  /** The index if built: shared by a copy placed elsewhere. */
  get builtIndex(): ChunkIndex | null {
    return this.#index;
  }

  /** The file block after its last extent (0 when empty). */
  get end(): number {
    const k = (this.n - 1) * 4;
    return this.n === 0 ? 0 : this.data[k]! + this.data[k + 2]!;
  }

  extent(i: number): Extent {
    const k = i * 4;
    return makeExtent(this.data[k]!, this.data[k + 1]!, this.data[k + 2]!, (this.data[k + 3]! & 1) === 1);
  }
}

function writeExtent(data: Uint32Array, i: number, e: Extent): void {
  const k = i * 4;
  data[k] = e.fileBlock;
  data[k + 1] = e.poolBlock;
  data[k + 2] = e.length;
  data[k + 3] = e.unwritten ? 1 : 0;
}

function makeRun(fileBlock: number, length: number, poolBlock: number, unwritten: boolean): IoRun {
  return { fileBlock, length, poolBlock, unwritten };
}

/** The inline chunk of an empty map: shared by every one (a chunk never changes once made; a new file's map starts here). */
const EMPTY_CHUNK = new Chunk(new Uint32Array(0), 0, 0);

export class ExtentMap implements Iterable<Extent> {
  #chunks: Chunk[];
  /** The search index over each chunk's first file block, built after INDEX_AFTER lookups since the chunks changed. */
  #firsts: StartIndex | null = null;
  /** Lookups since the chunks changed, made without #firsts. */
  #lookups = 0;
  #count: number;
  #mapped: number;
  // where locate() found a file block: chunk and index in it
  #ci = 0;
  #off = 0;

  private constructor(chunks: Chunk[], count: number, mapped: number) {
    this.#chunks = chunks;
    this.#count = count;
    this.#mapped = mapped;
  }

  /** A map of `extents` (sorted, not overlapping), packed densely into unplaced chunks. */
  static from(extents: readonly Extent[] = []): ExtentMap {
    const map = new ExtentMap([EMPTY_CHUNK], 0, 0);
    if (extents.length > 0) map.#splice(0, 0, extents);
    return map;
  }

  /** The same extents, sharing every chunk (O(chunks)): edits of either copy leave the other alone. */
  clone(): ExtentMap {
    const copy = new ExtentMap([...this.#chunks], this.#count, this.#mapped);
    copy.#firsts = this.#firsts;
    return copy;
  }

  get length(): number {
    return this.#count;
  }

  /** Blocks mapped (written and unwritten). */
  mappedBlocks(): number {
    return this.#mapped;
  }

  /** The chunks, in order (chunk 0 inline): for encoding. */
  chunks(): readonly Chunk[] {
    return this.#chunks;
  }

  /** The extent blocks of chunks 1.., in chain order (0 for one not placed yet). */
  chunkBlocks(): number[] {
    const out: number[] = [];
    for (let k = 1; k < this.#chunks.length; k++) out.push(this.#chunks[k]!.block);
    return out;
  }

  /** Places chunk `index` (≥ 1) in extent block `block`: a new chunk object, the data shared. */
  place(index: number, block: number): void {
    const c = this.#chunks[index]!;
    this.#chunks[index] = new Chunk(c.data, c.n, block, c.builtIndex);
  }

  /** Appends extents decoded from extent block `block` as one chunk (the inline chunk must be full). */
  appendBlock(extents: readonly Extent[], block: number): void {
    if (this.#chunks[0]!.n < INLINE_EXTENTS) throw new Error('appendBlock: the inline extents are not full');
    const data = new Uint32Array(extents.length * 4);
    extents.forEach((e, i) => writeExtent(data, i, e));
    for (const e of extents) this.#mapped += e.length;
    this.#chunks.push(new Chunk(data, extents.length, block));
    this.#firsts = null;
    this.#lookups = 0;
    this.#count += extents.length;
  }

  /** Appends extents at the end (packed into unplaced chunks). */
  push(...extents: Extent[]): number {
    this.#splice(this.#count, 0, extents);
    return this.#count;
  }

  *[Symbol.iterator](): Iterator<Extent> {
    for (const c of this.#chunks) for (let i = 0; i < c.n; i++) yield c.extent(i);
  }

  toArray(): Extent[] {
    return [...this];
  }

  /** The extent at index `i` (O(chunks)). */
  at(i: number): Extent | undefined {
    if (i < 0 || i >= this.#count) return undefined;
    for (const c of this.#chunks) {
      if (i < c.n) return c.extent(i);
      i -= c.n;
    }
    return undefined;
  }

  last(): Extent | undefined {
    const c = this.#chunks[this.#chunks.length - 1]!;
    return c.n === 0 ? undefined : c.extent(c.n - 1);
  }

  /**
   * Finds the first extent whose end is after `fileBlock` (the one holding
   * it, or the next): sets #ci/#off (#off = n of the last chunk when none).
   */
  #locate(fileBlock: number): void {
    const chunks = this.#chunks;
    // the last chunk starting at or before fileBlock, then the last extent of it that does
    // (most files have only the inline chunk, of at most 11 extents: no index for those)
    let ci = chunks.length === 1 ? 0 : this.#chunkAt(fileBlock);
    const c = chunks[ci]!;
    const d = c.data;
    const index = c.n > SMALL ? c.searchIndex() : null;
    const b = index ? index.lastAtOrBefore(fileBlock) : lastStartAtOrBefore(d, c.n, fileBlock);
    let off: number;
    if (c.n === 0 || d[b * 4]! > fileBlock) off = 0; // before the first extent
    else off = d[b * 4]! + d[b * 4 + 2]! <= fileBlock ? b + 1 : b;
    if (off === c.n && ci + 1 < chunks.length) {
      ci++;
      off = 0;
    }
    this.#ci = ci;
    this.#off = off;
  }

  /** The last chunk (of several) starting at or before `fileBlock`; 0 when none does. */
  #chunkAt(fileBlock: number): number {
    if (this.#firsts === null && ++this.#lookups >= INDEX_AFTER) this.#buildFirsts();
    if (this.#firsts !== null) return this.#firsts.lastAtOrBefore(fileBlock);
    // chunk 0 is the only one that may be empty, and then it is the only chunk
    const chunks = this.#chunks;
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (chunks[mid]!.data[0]! <= fileBlock) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  #buildFirsts(): StartIndex {
    const firsts = new Uint32Array(this.#chunks.length);
    this.#chunks.forEach((c, k) => (firsts[k] = c.n === 0 ? 0 : c.data[0]!));
    return (this.#firsts = new StartIndex(firsts, firsts.length));
  }

  /** Index of the first extent whose end is after `fileBlock` (the one containing it, or the next). */
  findIndex(fileBlock: number): number {
    this.#locate(fileBlock);
    let i = this.#off;
    for (let k = 0; k < this.#ci; k++) i += this.#chunks[k]!.n;
    return i;
  }

  /** The extent containing `fileBlock`, or undefined for a hole. */
  lookup(fileBlock: number): Extent | undefined {
    this.#locate(fileBlock);
    const c = this.#chunks[this.#ci]!;
    if (this.#off >= c.n || c.data[this.#off * 4]! > fileBlock) return undefined;
    return c.extent(this.#off);
  }

  /** The run (extent or hole) holding `fileBlock`, whole; see runAt in extents.ts. */
  runAt(fileBlock: number): IoRun {
    this.#locate(fileBlock);
    const chunks = this.#chunks;
    const c = chunks[this.#ci]!;
    const off = this.#off;
    const d = c.data;
    if (off < c.n && d[off * 4]! <= fileBlock) return makeRun(d[off * 4]!, d[off * 4 + 2]!, d[off * 4 + 1]!, (d[off * 4 + 3]! & 1) === 1);
    const next = off < c.n ? d[off * 4]! : FILE_BLOCKS_END;
    const prevEnd = off > 0 ? d[(off - 1) * 4]! + d[(off - 1) * 4 + 2]! : this.#ci > 0 ? chunks[this.#ci - 1]!.end : 0;
    return makeRun(prevEnd, next - prevEnd, -1, false);
  }

  /** The runs covering file blocks [from, to), clipped to it, in order. */
  runsIn(from: number, to: number): IoRun[] {
    const out: IoRun[] = [];
    if (from >= to) return out;
    this.#locate(from);
    const chunks = this.#chunks;
    let ci = this.#ci;
    let off = this.#off;
    let fb = from;
    while (fb < to) {
      let c = chunks[ci]!;
      if (off >= c.n && ci + 1 < chunks.length) {
        ci++;
        off = 0;
        c = chunks[ci]!;
      }
      const d = c.data;
      if (off < c.n && d[off * 4]! <= fb) {
        const start = d[off * 4]!;
        const end = Math.min(to, start + d[off * 4 + 2]!);
        out.push(makeRun(fb, end - fb, d[off * 4 + 1]! + (fb - start), (d[off * 4 + 3]! & 1) === 1));
        fb = end;
        off++;
      } else {
        const end = Math.min(to, off < c.n ? d[off * 4]! : FILE_BLOCKS_END);
        out.push(makeRun(fb, end - fb, -1, false));
        fb = end;
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ edits

  /** Inserts an extent over a hole (the caller guarantees no overlap), merging with compatible neighbours. */
  insert(e: Extent): void {
    if (this.#count === 0 && this.#chunks.length === 1) {
      // an empty map (a new file's first write): its one chunk, made directly
      const data = new Uint32Array(4);
      writeExtent(data, 0, e);
      this.#chunks[0] = new Chunk(data, 1, 0);
      this.#firsts = null;
      this.#count = 1;
      this.#mapped = e.length;
      return;
    }
    const i = this.findIndex(e.fileBlock);
    const from = Math.max(0, i - 1);
    const window = this.#window(from, Math.min(this.#count, i + 1));
    insertInArray(window, e);
    this.#splice(from, Math.min(this.#count, i + 1) - from, window);
  }

  /** Removes [start, end) from the map, splitting extents at the edges; returns the pool runs that were mapped there. */
  removeRange(start: number, end: number): Run[] {
    const i = this.findIndex(start); // leaves #ci/#off at start's extent
    let j = i;
    for (let ci = this.#ci, off = this.#off; ci < this.#chunks.length; ci++, off = 0) {
      const c = this.#chunks[ci]!;
      while (off < c.n && c.data[off * 4]! < end) {
        off++;
        j++;
      }
      if (off < c.n) break;
    }
    if (j === i) return [];
    const window = this.#window(i, j);
    const freed = removeFromArray(window, start, end);
    this.#splice(i, j - i, window);
    return freed;
  }

  /** Sets the unwritten flag of every mapped block in [start, end), splitting and merging as needed. */
  setUnwritten(start: number, end: number, unwritten: boolean): void {
    const i = this.findIndex(start); // leaves #ci/#off at start's extent
    let j = i;
    let changes = false; // an extent to convert: else nothing changes (and no chunk is rewritten)
    for (let ci = this.#ci, off = this.#off; ci < this.#chunks.length; ci++, off = 0) {
      const c = this.#chunks[ci]!;
      while (off < c.n && c.data[off * 4]! < end) {
        if ((c.data[off * 4 + 3]! & 1) !== (unwritten ? 1 : 0)) changes = true;
        off++;
        j++;
      }
      if (off < c.n) break;
    }
    if (!changes) return;
    // with a neighbour on each side, for merging
    const from = Math.max(0, i - 1);
    const to = Math.min(this.#count, j + 1);
    const window = this.#window(from, to);
    setUnwrittenInArray(window, start, end, unwritten);
    this.#splice(from, to - from, window);
  }

  /** Extents [from, to) as objects (a small window around an edit). */
  #window(from: number, to: number): Extent[] {
    const out: Extent[] = [];
    let i = 0;
    for (const c of this.#chunks) {
      if (i + c.n > from) for (let k = Math.max(0, from - i); k < c.n && i + k < to; k++) out.push(c.extent(k));
      i += c.n;
      if (i >= to) break;
    }
    return out;
  }

  /** Replaces extents [at, at + remove) with `items`: only the chunks holding them change. */
  #splice(at: number, remove: number, items: readonly Extent[]): void {
    const chunks = this.#chunks;
    // the chunk holding index `at` (at the very end: the last chunk)
    let ci = 0;
    let off = at;
    while (ci < chunks.length - 1 && off >= chunks[ci]!.n) off -= chunks[ci++]!.n;
    let cj = ci;
    let endOff = off + remove;
    while (endOff > chunks[cj]!.n) endOff -= chunks[cj++]!.n;
    const first = chunks[ci]!;
    const last = chunks[cj]!;
    const total = off + items.length + (last.n - endOff);
    const merged = chunkWords(total * 4);
    merged.set(first.data.subarray(0, off * 4), 0);
    for (let k = 0; k < items.length; k++) writeExtent(merged, off + k, items[k]!);
    merged.set(last.data.subarray(endOff * 4, last.n * 4), (off + items.length) * 4);
    // mapped blocks: what goes, what comes
    let removed = 0;
    for (let k = ci, o = off, left = remove; left > 0; k++, o = 0) {
      const c = chunks[k]!;
      for (; o < c.n && left > 0; o++, left--) removed += c.data[o * 4 + 2]!;
    }
    for (const e of items) this.#mapped += e.length;
    this.#mapped -= removed;
    this.#count += items.length - remove;
    const made = this.#replace(ci, cj, merged, total);
    // one extent block's chunk edited in place: what it shares with the one it replaces
    if (ci === cj && ci > 0 && made === 1 && first.block !== 0 && chunks[ci]!.block === first.block) {
      chunks[ci]!.base = first;
      chunks[ci]!.same = off;
    }
    this.#settle(ci, made);
  }

  /**
   * Replaces chunks [ci, cj] by chunks holding `total` extents of `data`:
   * the inline chunk first when ci is 0, then extent-block chunks, full
   * when they end the map (appends), else split evenly (room for inserts).
   * The new chunks take the replaced ones' extent blocks, in order; blocks
   * left over are no chunk's any more (commit frees them). Returns how many
   * chunks were made. `data` is made for this call alone: the chunks are
   * views of it, not copies.
   */
  #replace(ci: number, cj: number, data: Uint32Array, total: number): number {
    const chunks = this.#chunks;
    const blocks: number[] = [];
    for (let k = Math.max(ci, 1); k <= cj; k++) if (chunks[k]!.block !== 0) blocks.push(chunks[k]!.block);
    const made: Chunk[] = [];
    let at = 0;
    if (ci === 0) {
      at = Math.min(INLINE_EXTENTS, total);
      made.push(new Chunk(data.subarray(0, at * 4), at, 0));
    }
    const rest = total - at;
    if (rest > 0) {
      const pieces = Math.ceil(rest / EXTENTS_PER_BLOCK);
      const atEnd = cj === chunks.length - 1;
      for (let p = 0; p < pieces; p++) {
        const size = atEnd ? Math.min(EXTENTS_PER_BLOCK, total - at) : Math.floor(rest / pieces) + (p < rest % pieces ? 1 : 0);
        made.push(new Chunk(data.subarray(at * 4, (at + size) * 4), size, blocks[p] ?? 0));
        at += size;
      }
    }
    chunks.splice(ci, cj - ci + 1, ...made);
    this.#firsts = null;
    this.#lookups = 0;
    return made.length;
  }

  /** After an edit made chunks [ci, ci + made): the inline chunk full when others follow; a small chunk merged. */
  #settle(ci: number, made: number): void {
    const chunks = this.#chunks;
    while (chunks.length > 1 && chunks[0]!.n < INLINE_EXTENTS) this.#join(0);
    for (let k = Math.max(1, ci - 1); k < Math.min(chunks.length, ci + made + 1); k++) {
      const c = chunks[k]!;
      if (c.n >= MERGE_BELOW) continue;
      if (k + 1 < chunks.length && c.n + chunks[k + 1]!.n <= EXTENTS_PER_BLOCK) return void this.#join(k);
      if (k - 1 >= 1 && chunks[k - 1]!.n + c.n <= capacity(k - 1)) return void this.#join(k - 1);
    }
  }

  /** Repacks chunks k and k + 1 together. */
  #join(k: number): void {
    const a = this.#chunks[k]!;
    const b = this.#chunks[k + 1]!;
    const data = chunkWords((a.n + b.n) * 4);
    data.set(a.data.subarray(0, a.n * 4), 0);
    data.set(b.data.subarray(0, b.n * 4), a.n * 4);
    this.#replace(k, k + 1, data, a.n + b.n);
  }
}
