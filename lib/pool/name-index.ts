// The names of a mounted pool's files: name → inode number, without a
// string per file. A file's name lives in its inode, so the index keeps
// only a 32-bit hash of each name and the inode number, in two typed arrays
// (an open-addressed table, linear probing, at most half full): about 16
// bytes a file where a Map of strings cost ~100 and, filled at mount, grew
// V8's young generation by more. A lookup whose hash matches reads the
// candidate's real name (`nameOf`: the inode, decoded on first use — the
// file a lookup finds is the one about to be used), so a hash collision
// costs a decode, never a wrong answer.
//
// Temporaries (the pool's own '.daxfs-tmp.' files) are few and are listed
// and counted apart, so they are kept in a plain Map.
//
// Invariant: every entry's inode, read through `nameOf`, is named by the
// key it was set under (commit deletes a file's old name before it
// installs the new inode, as it did with a Map).
import { mix32 } from './bytes.js';
import { isTemporaryName } from './temporary.js';

export class NameIndex {
  /** Per table slot: inode number + 1 (0: empty). */
  private inos = new Uint32Array(1024);
  /** Per table slot: the name's hash. */
  private hashes = new Uint32Array(1024);
  /** Entries in the table. */
  private count = 0;
  private readonly temporaries = new Map<string, number>();

  /** `nameOf`: the name of the file in use in slot `ino` (undefined: none). */
  constructor(private readonly nameOf: (ino: number) => string | undefined) {}

  /** Makes room for `n` names at once (the mount: no table is built only to be outgrown). */
  reserve(n: number): void {
    let capacity = this.inos.length;
    while (capacity < 2 * n) capacity *= 2;
    if (capacity > this.inos.length) this.rehash(capacity);
  }

  /** Names, temporaries included. */
  get size(): number {
    return this.count + this.temporaries.size;
  }

  /** Names of temporaries. */
  get temporaryCount(): number {
    return this.temporaries.size;
  }

  get(name: string): number | undefined {
    if (isTemporaryName(name)) return this.temporaries.get(name);
    const k = this.find(name, hashName(name), this.nameOf);
    return k < 0 ? undefined : this.inos[k]! - 1;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, ino: number): this {
    if (isTemporaryName(name)) {
      this.temporaries.set(name, ino);
      return this;
    }
    const h = hashName(name);
    const k = this.find(name, h, this.nameOf);
    if (k >= 0) this.inos[k] = ino + 1;
    else this.insert(h, ino);
    return this;
  }

  /**
   * For the mount scan, which has no inode store yet: lists `name` for
   * `ino` unless it is listed already, and returns the inode listed under it
   * then. `nameOf`: how the scan reads a listed file's name.
   */
  addNew(name: string, ino: number, nameOf: (ino: number) => string | undefined): number | undefined {
    if (isTemporaryName(name)) {
      const other = this.temporaries.get(name);
      if (other === undefined) this.temporaries.set(name, ino);
      return other;
    }
    const h = hashName(name);
    const k = this.find(name, h, nameOf);
    if (k >= 0) return this.inos[k]! - 1;
    this.insert(h, ino);
    return undefined;
  }

  /** `get` for the mount scan, which reads a listed file's name through `nameOf`. */
  lookup(name: string, nameOf: (ino: number) => string | undefined): number | undefined {
    if (isTemporaryName(name)) return this.temporaries.get(name);
    const k = this.find(name, hashName(name), nameOf);
    return k < 0 ? undefined : this.inos[k]! - 1;
  }

  delete(name: string): boolean {
    if (isTemporaryName(name)) return this.temporaries.delete(name);
    const k = this.find(name, hashName(name), this.nameOf);
    if (k < 0) return false;
    this.removeAt(k);
    return true;
  }

  /** Drops every name whose inode `drop` accepts (the scan: files found damaged after their name was listed). */
  deleteInos(drop: (ino: number) => boolean): void {
    for (const [name, ino] of [...this.temporaries]) if (drop(ino)) this.temporaries.delete(name);
    const inos = this.inos;
    const hashes = this.hashes;
    this.inos = new Uint32Array(inos.length);
    this.hashes = new Uint32Array(inos.length);
    this.count = 0;
    for (let k = 0; k < inos.length; k++) if (inos[k] !== 0 && !drop(inos[k]! - 1)) this.insert(hashes[k]!, inos[k]! - 1);
  }

  /** Every [name, ino]: temporaries first, then the rest in table order (each name read through `nameOf`). */
  *[Symbol.iterator](): Generator<[string, number]> {
    yield* this.temporaries;
    for (let k = 0; k < this.inos.length; k++) {
      const ino = this.inos[k]! - 1;
      if (ino >= 0) yield [this.nameOf(ino)!, ino];
    }
  }

  /** The temporaries' [name, ino] (no inode is read). */
  temporaryEntries(): IterableIterator<[string, number]> {
    return this.temporaries.entries();
  }

  /** The slot holding `name` (hash `h`), or -1. */
  private find(name: string, h: number, nameOf: (ino: number) => string | undefined): number {
    const mask = this.inos.length - 1;
    for (let k = h & mask; this.inos[k] !== 0; k = (k + 1) & mask) if (this.hashes[k] === h && nameOf(this.inos[k]! - 1) === name) return k;
    return -1;
  }

  private insert(h: number, ino: number): void {
    if (2 * (this.count + 1) > this.inos.length) this.rehash(2 * this.inos.length);
    const mask = this.inos.length - 1;
    let k = h & mask;
    while (this.inos[k] !== 0) k = (k + 1) & mask;
    this.inos[k] = ino + 1;
    this.hashes[k] = h;
    this.count++;
  }

  /** Empties slot `k`, moving later entries of its probe run back (no tombstones: lookups stay short after many deletes). */
  private removeAt(k: number): void {
    const mask = this.inos.length - 1;
    let hole = k;
    for (let j = (k + 1) & mask; this.inos[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashes[j]! & mask;
      // the entry at j may move to the hole unless its home lies cyclically in (hole, j]
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      this.inos[hole] = this.inos[j]!;
      this.hashes[hole] = this.hashes[j]!;
      hole = j;
    }
    this.inos[hole] = 0;
    this.hashes[hole] = 0;
    this.count--;
  }

  private rehash(capacity: number): void {
    const inos = this.inos;
    const hashes = this.hashes;
    this.inos = new Uint32Array(capacity);
    this.hashes = new Uint32Array(capacity);
    this.count = 0;
    for (let k = 0; k < inos.length; k++) if (inos[k] !== 0) this.insert(hashes[k]!, inos[k]! - 1);
  }
}

/** FNV-1a over the UTF-16 code units, then murmur3's finalizer (the table uses the low bits). */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 0x01000193);
  return mix32(h);
}
