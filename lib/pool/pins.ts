// Pins: the registry of asynchronous transfers (readAsync, writeAsync) in
// flight on each file, the file-block ranges they hold and the pool blocks
// their writes allocated. It is the one place that answers "may this change
// touch these blocks now?" — for the transfers themselves, for synchronous
// writes and layout changes (truncate, allocate, punch hole, zero range,
// write faults), for unlink (an orphan stays until its last pin goes) and
// for the allocator (blocks held by a write that has not committed).
//
// Ordering, like fs.promises on one descriptor but with a guarantee:
// transfers whose block ranges overlap run one after the other in
// submission order (a read does not wait for a read); disjoint ones run
// concurrently. A write that moves EOF (it starts or ends past the size it
// sees) holds everything from the old EOF block on, since it zeroes the old
// EOF block's tail, drops or adds preallocation and sets the size.
//
// Invariants: a pin is registered synchronously when its transfer is
// submitted and released exactly once, when it settles (fulfilled or
// rejected); a pin waits only for pins registered before it, so the waits
// never cycle; blocks a write allocated are listed in `held` from its plan
// until its transaction commits or is abandoned, and nothing else allocates
// them; ranges are in file blocks, [from, to), `to` possibly END.
import { daxfsError } from '../errors.js';
import type { Run } from './extents.js';
import { BLOCK } from './layout.js';

/** A range end past every file block: "to EOF and beyond". */
export const END = 2 ** 32 + 1;

export type PinKind = 'read' | 'write';

export interface Pin {
  /** Submission order, for messages and tests. */
  readonly id: number;
  readonly ino: number;
  readonly kind: PinKind;
  readonly from: number;
  readonly to: number;
  /** Settles (never rejects) when the pin is released. */
  readonly released: Promise<void>;
}

interface Entry extends Pin {
  blocks: readonly Run[];
  done: () => void;
}

function overlaps(a: { from: number; to: number }, from: number, to: number): boolean {
  return a.from < to && from < a.to;
}

export class PinRegistry {
  /** Pins by inode, in submission order. */
  private readonly files = new Map<number, Entry[]>();
  private nextId = 1;
  private heldRuns: readonly Run[] = [];

  /** Pool blocks allocated by writes in flight: the allocator's pending runs. */
  get held(): readonly Run[] {
    return this.heldRuns;
  }

  /**
   * Registers a transfer of `kind` on blocks [from, to) of `ino`. `wait` is
   * undefined when nothing registered before overlaps (the transfer may
   * start at once), else a promise that settles when every earlier
   * overlapping pin that conflicts (any pin, for a write; a write, for a
   * read) is released.
   */
  acquire(ino: number, kind: PinKind, from: number, to: number): { pin: Pin; wait: Promise<void> | undefined } {
    if (!(from < to)) throw new Error(`pins: empty range [${from}, ${to})`);
    let list = this.files.get(ino);
    if (!list) this.files.set(ino, (list = []));
    const before: Promise<void>[] = [];
    for (const p of list) if (overlaps(p, from, to) && (kind === 'write' || p.kind === 'write')) before.push(p.released);
    let done!: () => void;
    const released = new Promise<void>((resolve) => (done = resolve));
    const entry: Entry = { id: this.nextId++, ino, kind, from, to, released, blocks: [], done };
    list.push(entry);
    const wait = before.length === 0 ? undefined : before.length === 1 ? before[0] : Promise.all(before).then(() => {});
    return { pin: entry, wait };
  }

  /** Records the blocks `pin`'s write allocated (excluded from allocation until release). */
  hold(pin: Pin, runs: readonly Run[]): void {
    const entry = pin as Entry;
    entry.blocks = runs;
    this.rebuildHeld();
  }

  /** Releases `pin` (once; later calls do nothing); returns whether it was the file's last. */
  release(pin: Pin): boolean {
    const entry = pin as Entry;
    const list = this.files.get(entry.ino);
    const i = list ? list.indexOf(entry) : -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.files.delete(entry.ino);
    if (entry.blocks.length > 0) {
      entry.blocks = [];
      this.rebuildHeld();
    }
    entry.done();
    return list.length === 0;
  }

  /** Whether any transfer holds a pin on `ino`. */
  has(ino: number): boolean {
    return this.files.size !== 0 && this.files.has(ino);
  }

  /** The first write pin on `ino` overlapping [from, to), if any. */
  writeOverlapping(ino: number, from: number, to: number): Pin | undefined {
    if (this.files.size === 0) return undefined;
    const list = this.files.get(ino);
    if (list) for (const p of list) if (p.kind === 'write' && overlaps(p, from, to)) return p;
    return undefined;
  }

  /** The pins on `ino`, in submission order (for tests and diagnostics). */
  pinsOf(ino: number): readonly Pin[] {
    return [...(this.files.get(ino) ?? [])];
  }

  private rebuildHeld(): void {
    const runs: Run[] = [];
    for (const list of this.files.values()) for (const p of list) runs.push(...p.blocks);
    this.heldRuns = runs;
  }
}

/**
 * The file blocks a change of bytes [position, end) may touch, for a file of
 * `size` bytes: its own blocks, or — when it moves EOF (starts or ends past
 * it) — everything from the old EOF block on. `end` > `position`.
 */
export function changeSpan(size: number, position: number, end: number): [from: number, to: number] {
  if (end > size || position > size) return [Math.floor(Math.min(position, size) / BLOCK), END];
  return [Math.floor(position / BLOCK), Math.ceil(end / BLOCK)];
}

/**
 * A synchronous change to blocks [from, to) of a file (a write, truncate,
 * allocate, punch hole, zero range, a write fault): EBUSY when an
 * asynchronous write holds any of them — the change cannot wait without
 * blocking the event loop, and going ahead would race the write's copies
 * or be lost under its commit. Asynchronous reads do not refuse it: their
 * copies pin the blocks they read natively (a block is freed only once they
 * are done), and where they overlap the change they see the bytes from
 * before or after it.
 */
export function refuseIfPinned(pins: PinRegistry, ino: number, name: string, from: number, to: number): void {
  const p = pins.writeOverlapping(ino, from, to);
  if (p)
    throw daxfsError(
      'EBUSY',
      `an asynchronous write on '${name}' holds file blocks ${p.from}..${p.to >= END ? 'EOF and beyond' : p.to - 1}: this change overlaps them (wait for the write's promise)`,
    );
}
