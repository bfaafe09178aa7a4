// The decoded inodes of a mounted pool, by number, decoded on first use.
// Mount checks every inode (scan.ts) but keeps none of them: what it needs
// of them — names, owned blocks, orphans — it keeps in compact form, and an
// inode is decoded again, with every check, when it is first looked up.
// A pool of many files mounts with a name index, not an object per file.
//
// Invariants: a slot is free, in use (decoded or not yet) or damaged (not
// served: DamagedInode in PoolState); only committed state is stored (the
// commit installs it), so decoding a slot from media gives what memory
// would hold — except a modification time an append in place set in memory
// only (data-path.ts), which is why a decoded inode is let go (forget) only
// when media holds it byte for byte. A file whose last handle closed is
// idle (handles.ts): the most recent `idleKept` idle inodes stay decoded (a
// file closed and soon used again — unlinked, reopened, stat-ed — is not
// decoded again), older ones are let go, so a process that creates millions
// of files keeps a bounded number of objects, not one per file.
import type { Inode } from './inode.js';

const FREE = 0;
const USED = 1;

export class InodeStore {
  /** Decoded inodes (undefined: free, damaged, or not decoded yet). */
  private decoded: (Inode | undefined)[] = [];
  /** Per slot: FREE or USED (in use, undamaged). */
  private state = new Uint8Array(1024);
  private count = 0;
  /** Slots below the high-water mark. */
  length = 0;
  /** Inodes decoded from media since the mount (statistics, and what the tests bound). */
  decodes = 0;
  /** How many idle inodes stay decoded: ~0.5 KiB each, so at most ~32 MiB. */
  idleKept = 65_536;
  /**
   * Slots whose file's last handle closed, oldest first: a ring of idleKept
   * (made on the first close). A slot is in it once (`inRing`): one closed
   * again keeps its place, so a file opened and closed over and over is let
   * go once per idleKept closes of others, and decoded again on its next use.
   */
  private idle = new Int32Array(0);
  private inRing = new Uint8Array(1024);
  private idleHead = 0;
  private idleCount = 0;

  /** `decode`: the inode in slot `ino`, decoded from media with every check (EUCLEAN when it fails them). */
  constructor(private readonly decode: (ino: number) => Inode) {}

  /** The inode in slot `ino`; undefined when it is free or damaged. */
  get(ino: number): Inode | undefined {
    const inode = this.decoded[ino];
    if (inode !== undefined) return inode;
    if (ino >= this.length || this.state[ino] !== USED) return undefined;
    const fresh = this.decode(ino);
    this.decodes++;
    this.decoded[ino] = fresh;
    return fresh;
  }

  /** Installs `inode` in slot `ino` (undefined: the slot is free, or its file damaged). */
  set(ino: number, inode: Inode | undefined): void {
    this.grow(ino + 1);
    const was = this.state[ino] === USED;
    this.state[ino] = inode ? USED : FREE;
    this.count += (inode ? 1 : 0) - (was ? 1 : 0);
    this.decoded[ino] = inode;
  }

  /** Marks slot `ino` in use, to be decoded on first use (mount). */
  markUsed(ino: number): void {
    this.grow(ino + 1);
    if (this.state[ino] !== USED) this.count++;
    this.state[ino] = USED;
  }

  /** Slots in use (undamaged). */
  get used(): number {
    return this.count;
  }

  /**
   * Every inode in use, in slot order: those not decoded yet are decoded
   * and not kept (O(files) in time; a pass over every file — check — holds
   * no object per file afterwards).
   */
  *all(): Generator<Inode> {
    for (let ino = 0; ino < this.length; ino++) {
      if (this.state[ino] !== USED) continue;
      const inode = this.decoded[ino];
      if (inode !== undefined) {
        yield inode;
        continue;
      }
      this.decodes++;
      yield this.decode(ino);
    }
  }

  /** The inode in slot `ino` as get() gives it, without keeping one it decodes (undefined: free or damaged). */
  peek(ino: number): Inode | undefined {
    const inode = this.decoded[ino];
    if (inode !== undefined) return inode;
    if (ino >= this.length || this.state[ino] !== USED) return undefined;
    this.decodes++;
    return this.decode(ino);
  }

  /** Slot `ino`'s inode if it is decoded (nothing is read). */
  cached(ino: number): Inode | undefined {
    return this.decoded[ino];
  }

  /**
   * Lets go of slot `ino`'s decoded inode; the slot stays in use and is
   * decoded again on its next use. Only for an inode media holds as memory
   * does (the caller compares them), that nothing else refers to.
   */
  forget(ino: number): void {
    if (this.state[ino] === USED) this.decoded[ino] = undefined;
  }

  /**
   * Records that the last user of slot `ino` went; returns the slot that
   * has waited longest once more than idleKept wait (the caller decides
   * whether to let it go), else -1.
   */
  pushIdle(ino: number): number {
    if (this.idleKept <= 0) return ino;
    if (this.idle.length !== this.idleKept) {
      // made (or resized) empty: slots recorded before stay decoded until their next close
      this.idle = new Int32Array(this.idleKept);
      this.inRing.fill(0);
      this.idleHead = 0;
      this.idleCount = 0;
    }
    if (this.inRing[ino] === 1) return -1;
    const capacity = this.idle.length;
    let oldest = -1;
    if (this.idleCount === capacity) {
      oldest = this.idle[this.idleHead]!;
      this.inRing[oldest] = 0;
      this.idleHead = (this.idleHead + 1) % capacity;
      this.idleCount--;
    }
    this.idle[(this.idleHead + this.idleCount) % capacity] = ino;
    this.inRing[ino] = 1;
    this.idleCount++;
    return oldest;
  }

  /** Makes room for slots below `length`. */
  grow(length: number): void {
    if (length <= this.length) return;
    if (length > this.state.length) {
      const next = new Uint8Array(Math.max(length, 2 * this.state.length));
      next.set(this.state);
      this.state = next;
      const ring = new Uint8Array(next.length);
      ring.set(this.inRing);
      this.inRing = ring;
    }
    while (this.decoded.length < length) this.decoded.push(undefined);
    this.length = length;
  }
}
