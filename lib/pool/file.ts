// An open file: PoolFile, the handle Pool.open and createTemporary return.
// It owns argument checking for the per-file calls (offsets, lengths,
// buffers, map options) and faulting in a caller's buffer that lies in a
// mapping (reading or writing aside when it may alias the file's own
// blocks); every change goes through the Pool, by inode. Invariant: a handle
// resolves its inode on every call (EBADF once closed, stale or the pool is
// closed), so it never acts on an inode it no longer names.
import { checkBufferRange, checkIndex } from '../checks.js';
import { daxfsError } from '../errors.js';
import type { FileMapping, MapOptions } from '../map/mapping.js';
import { faultUserBuffer } from '../map/user-buffers.js';
import { PAGE } from '../mmu.js';
import { blocksInsideEof, type Inode } from './inode.js';
import { BLOCK, MAX_FILE_SIZE } from './layout.js';
import type { Pool } from './pool.js';
import type { BlockMapping, FileStat } from './types.js';

/** An index (checkIndex) that is also no more than the largest file size (EFBIG). */
export function fileIndex(value: unknown, name: string): number {
  checkIndex(value, name);
  if ((value as number) > MAX_FILE_SIZE) throw daxfsError('EFBIG', `${name} ${value as number} passes the largest file size (${MAX_FILE_SIZE} bytes)`);
  return value as number;
}

export function checkSize(value: unknown, name: string): asserts value is number {
  fileIndex(value, name);
}

/** An open file. Methods throw EBADF after close() or once the pool is closed. */
export class PoolFile {
  #closed = false;

  /** @internal */
  constructor(
    private readonly pool: Pool,
    readonly ino: number,
    private readonly generation: number,
  ) {}

  private inode(): Inode {
    if (this.#closed) throw daxfsError('EBADF', 'the file is closed');
    return this.pool.inodeFor(this.ino, this.generation);
  }

  get size(): number {
    return this.inode().size;
  }

  stat(): FileStat {
    const i = this.inode();
    return { name: i.name, ino: i.ino, size: i.size, allocated: blocksInsideEof(i) * BLOCK, mtimeMs: i.mtimeMs, extents: i.extents.length };
  }

  /** Reads up to `length` bytes at `position` into `target`; returns the count (0 at EOF). */
  read(target: Uint8Array, position: number, targetOffset = 0, length?: number): number {
    let inode = this.inode();
    const len = checkBufferRange(target, targetOffset, length, 'target', fileIndex);
    checkSize(position, 'position');
    if (faultUserBuffer(target, targetOffset, len, true)) {
      // The target lies in a mapping, whose pages may show this file's own
      // blocks: the pool reads extent by extent, so read aside first and
      // copy once, or a later extent could be read after an earlier one
      // overwrote it through the alias.
      inode = this.inode();
      const aside = Buffer.allocUnsafe(len);
      const n = this.pool.readFile(inode, aside, 0, len, position);
      target.set(aside.subarray(0, n), targetOffset);
      return n;
    }
    return this.pool.readFile(inode, target, targetOffset, len, position);
  }

  /**
   * read() with the copies made as Region.readAsync makes them (large ones
   * on the thread pool, small ones when the event loop is idle). It waits for writeAsync()
   * calls made before it on the same blocks (and sees their bytes), not for
   * other reads; the file stays usable meanwhile (a truncate or punch hole
   * frees the blocks being read once the copies are done).
   */
  readAsync(target: Uint8Array, position: number, targetOffset = 0, length?: number): Promise<number> {
    try {
      this.inode();
      const len = checkBufferRange(target, targetOffset, length, 'target', fileIndex);
      checkSize(position, 'position');
      faultUserBuffer(target, targetOffset, len, true);
      return this.pool.readFileAsync(this.inode(), target, targetOffset, len, position);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * write() with the copies made as Region.writeAsync makes them (large
   * ones on the thread pool, small ones when the event loop is idle); durable
   * when the promise resolves. Transfers on the same file blocks run in the
   * order they were made, others concurrently; a synchronous write or
   * layout change on blocks it holds is EBUSY until it settles. `source`
   * must not change meanwhile.
   */
  writeAsync(source: Uint8Array, position: number, sourceOffset = 0, length?: number): Promise<number> {
    try {
      this.inode();
      const len = checkBufferRange(source, sourceOffset, length, 'source', fileIndex);
      checkSize(position, 'position');
      faultUserBuffer(source, sourceOffset, len, false);
      return this.pool.writeFileAsync(this.inode(), source, sourceOffset, len, position);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Writes `source` at `position`, durable on return in cache-flush mode; returns the count. */
  write(source: Uint8Array, position: number, sourceOffset = 0, length?: number): number {
    let inode = this.inode();
    const len = checkBufferRange(source, sourceOffset, length, 'source', fileIndex);
    checkSize(position, 'position');
    // a fault in a mapping of this very file may have replaced its inode
    if (faultUserBuffer(source, sourceOffset, len, false)) {
      // The source lies in a mapping, whose pages may show the blocks this
      // write changes: the pool writes extent by extent, so take the bytes
      // aside first (memmove's meaning, whatever the aliasing).
      inode = this.inode();
      return this.pool.writeFile(inode, Buffer.from(source.subarray(sourceOffset, sourceOffset + len)), 0, len, position);
    }
    return this.pool.writeFile(inode, source, sourceOffset, len, position);
  }

  truncate(size: number): void {
    this.pool.truncateFile(this.inode(), size);
  }

  /**
   * Maps [offset, offset + length) of the file into memory (see FileMapping
   * for what direct access to its buffer may do). The mapping keeps the file
   * alive (like an open handle) until it is unmapped.
   */
  map(options: MapOptions): FileMapping {
    const inode = this.inode();
    if (typeof options !== 'object' || options === null) throw daxfsError('EINVAL', 'options must be an object with at least a length');
    const offset = options.offset === undefined ? 0 : options.offset; // null is not "absent"
    checkSize(offset, 'offset');
    if (offset % PAGE !== 0) throw daxfsError('EINVAL', `offset ${offset} must be a multiple of ${PAGE}`);
    checkSize(options.length, 'length');
    if (options.length === 0) throw daxfsError('EINVAL', 'length must be at least 1');
    if (offset + options.length > MAX_FILE_SIZE) throw daxfsError('EFBIG', `offset + length passes the largest file size (${MAX_FILE_SIZE} bytes)`);
    for (const key of ['shared', 'write', 'huge'] as const)
      if (options[key] !== undefined && typeof options[key] !== 'boolean') throw daxfsError('EINVAL', `${key} must be a boolean`);
    const faultAround = options.faultAround === undefined ? Infinity : options.faultAround;
    if (faultAround !== Infinity && (!Number.isSafeInteger(faultAround) || faultAround < 1))
      throw daxfsError('EINVAL', `faultAround must be a positive integer number of pages (or Infinity), got ${String(faultAround)}`);
    return this.pool.mapFile(inode, {
      offset,
      length: options.length,
      shared: options.shared ?? true,
      write: options.write ?? false,
      faultAround,
      huge: options.huge ?? true,
    });
  }

  /** Reserves blocks for [offset, offset + length) (reading as zeros), extending the size. */
  allocate(offset: number, length: number): void {
    this.pool.allocateFile(this.inode(), offset, length);
  }

  /** Frees the blocks of the range (it reads as zeros); the size stays. */
  punchHole(offset: number, length: number): void {
    this.pool.punchHoleFile(this.inode(), offset, length);
  }

  /** Makes the range read as zeros, keeping (or allocating) its blocks; may extend the size. */
  zeroRange(offset: number, length: number): void {
    this.pool.zeroRangeFile(this.inode(), offset, length);
  }

  /** The block map at `fileBlock`; with create, allocates (zeroed) a run of up to maxBlocks for a hole. */
  getBlock(fileBlock: number, options: { create?: boolean; maxBlocks?: number } = {}): BlockMapping {
    const maxBlocks = options.maxBlocks === undefined ? 1 : options.maxBlocks; // null is not "absent"
    return this.pool.getBlock(this.inode(), fileBlock, options.create ?? false, maxBlocks);
  }

  /**
   * Makes everything written to the file durable: stores through any of its
   * mappings (every page a write fault made writable is written back — the
   * kernel's dax_writeback_mapping_range — then a fence; msync in msync
   * mode). `write` and the metadata persist on return already.
   */
  sync(): void {
    this.pool.syncFile(this.inode());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.pool.release(this.ino);
  }
}
