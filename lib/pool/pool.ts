// The pool: a small crash-consistent file system that lives entirely in a
// region. Metadata lives on media; mount checks every inode in use (O(metadata
// in use)) but keeps only a name index and the blocks owned, decoding an
// inode again when it is first used (inode-store.ts); every metadata
// change is one journal transaction. File data moves straight between the
// caller's buffers and pmem.
import { chmodSync, existsSync, rmSync, statSync, truncateSync } from 'node:fs';

import { daxfsError } from '../errors.js';
import { Region } from '../region.js';
import { checkName, type Inode } from './inode.js';
import { reserveBacking } from './space.js';
import { BLOCK, computeGeometry, encodeSuperblock, newSuperblock, type Superblock } from './layout.js';
import type { FaultSubject } from '../map/fault.js';
import type { FileMapping, MapOptions, MappingHost } from '../map/mapping.js';
import { emptyStats, type FaultStats } from '../map/page-table.js';
import type { CheckReport } from './check.js';
import { ensureOpen, ensureWritable, type PoolState } from './state.js';
import { lock, mount } from './mount.js';
import { allocateFile, punchHoleFile, truncateFile, zeroRangeFile } from './resize.js';
import { checkAccess, describeExisting } from './backing.js';
import { temporaryName } from './temporary.js';
import { PoolFile } from './file.js';
import { getBlock, readFile, readFileAsync, writeFile, writeFileAsync } from './data-path.js';
import { adoptFaults, adoptQuietly, faultsPending, grantLow, holdingFile, refillGrant, stopFaultService } from './fault-adoption.js';
import { release } from './handles.js';
import { check } from './repair.js';
import { checkNewName, createInode, discardTemporary, fileCount, list, publishTemporary, refuseDamaged, rename, stat, unlink } from './namespace.js';
import { allocateForFault, convertForFault, detachMapping, mapFile, syncMappings, verifyMappings } from './host.js';
import type { BlockMapping, FileStat, FormatOptions, OpenFileOptions, PoolInfo, PoolOpenOptions } from './types.js';

export class Pool implements MappingHost {
  readonly region: Region;
  /** @internal fault counters of every mapping of this pool, summed. */
  readonly faultCounters: FaultStats = emptyStats();
  readonly readOnly: boolean;
  /** @internal what the pool's modules share. */
  private readonly state: PoolState;

  /** `populated`: every page of the region is mapped in this process already (a format that zeroed it all). */
  private constructor(region: Region, readOnly: boolean, salvage = false, populated = false) {
    this.region = region;
    this.readOnly = readOnly;
    this.state = mount(region, readOnly, salvage, populated);
  }

  // ---------------------------------------------------------------- open / format

  /**
   * Formats `path` as a pool and mounts it. A file it creates is removed
   * again if the format fails; an empty file it sized is emptied again.
   */
  static format(path: string, options: FormatOptions = {}): Pool {
    const { mode } = options;
    if (mode !== undefined && (!Number.isSafeInteger(mode) || mode < 0 || mode > 0o777))
      throw daxfsError('EINVAL', `mode must be permission bits (0 to 0o777), got ${String(mode)}`);
    if (options.sparse !== undefined && typeof options.sparse !== 'boolean') throw daxfsError('EINVAL', 'sparse must be a boolean');
    if (options.exclusive) {
      const found = describeExisting(path, Pool.countFiles);
      if (found) throw daxfsError('EEXIST', `'${path}' holds ${found}: formatting it would destroy that`);
    }
    const regionOptions = options.region ?? {};
    const existing = existsSync(path);
    let undo = (): void => {};
    let region: Region;
    if (options.size !== undefined && !existing) {
      region = Region.create(path, options.size, { ...regionOptions, ...(mode !== undefined ? { mode } : {}) });
      undo = () => rmSync(path, { force: true });
    } else {
      checkAccess(path, true);
      if (options.size !== undefined && isEmptyFile(path)) {
        truncateSync(path, options.size);
        undo = () => truncateSync(path, 0);
      }
      try {
        region = Region.open(path, regionOptions);
      } catch (e) {
        undo();
        throw e;
      }
    }
    try {
      if (options.size !== undefined && region.size !== options.size)
        throw daxfsError('EINVAL', `'${path}' holds ${region.size} bytes, not the ${options.size} asked for`);
      lock(region, true);
      const g = computeGeometry(region.size);
      // The backing is reserved before anything is written: the metadata
      // area always, the data blocks unless the pool is to be sparse.
      reserveBacking(region, 0, options.sparse ? g.dataStart * BLOCK : region.size, (d, t) => options.onProgress?.(d, t, 'reserving'), options.sparse);
      // Invalidate both superblocks first: a crash during format must not
      // leave an old superblock describing new, half-written metadata.
      region.zero(0, 2 * BLOCK);
      if (options.zeroAll) {
        const chunk = 64 << 20;
        for (let done = 2 * BLOCK; done < region.size; ) {
          const n = Math.min(chunk, region.size - done);
          region.zero(done, n);
          done += n;
          options.onProgress?.(done, region.size, 'zeroing');
        }
      } else {
        region.zero(g.journalStart * BLOCK, BLOCK); // the journal header
        region.zero(g.bitmapStart * BLOCK, (g.dataStart - g.bitmapStart) * BLOCK); // bitmap + inode table
      }
      const bitmap = region.bitmap(g.bitmapStart * BLOCK, g.nblocks);
      bitmap.set(0, g.dataStart);
      const sb = encodeSuperblock(newSuperblock(g));
      region.write(BLOCK, sb);
      region.write(0, sb); // the primary last: format is complete once it is durable
      if (existing && mode !== undefined) chmodSync(path, mode);
      // zeroAll stored to every page through this mapping: none needs populating
      return new Pool(region, false, false, options.zeroAll === true);
    } catch (e) {
      region.close();
      undo();
      throw e;
    }
  }

  /** The number of files of the pool on `path`, mounted read-only (throws when it cannot be). */
  private static countFiles(path: string): number {
    const pool = Pool.open(path, { readOnly: true });
    try {
      return pool.info().files;
    } finally {
      pool.close();
    }
  }

  /**
   * Mounts the pool on `path`: journal replay, inode scan, orphans and dead
   * temporaries freed. A pool of another user opens only if its mode allows
   * this user the access asked for (EACCES, naming owner and mode).
   */
  static open(path: string, options: PoolOpenOptions = {}): Pool {
    if (options.salvage !== undefined && typeof options.salvage !== 'boolean') throw daxfsError('EINVAL', 'salvage must be a boolean');
    if (options.salvage && options.readOnly === false) throw daxfsError('EINVAL', 'a salvage mount is read-only: readOnly cannot be false');
    const salvage = options.salvage ?? false;
    const readOnly = salvage || (options.readOnly ?? false);
    checkAccess(path, !readOnly);
    const region = Region.open(path, { ...(options.region ?? {}), readOnly });
    try {
      lock(region, !readOnly);
      return new Pool(region, readOnly, salvage);
    } catch (e) {
      region.close();
      throw e;
    }
  }


  // ---------------------------------------------------------------- pool-level API

  info(): PoolInfo {
    this.#adopt();
    ensureOpen(this.state);
    let used = this.state.inodes.used;
    for (const ino of this.state.damaged.keys()) if (!this.state.inodes.get(ino)) used++;
    const backedBytes = this.region.backedBytes();
    return {
      path: this.region.path,
      uuid: this.state.sb.uuid,
      size: this.region.size,
      blockSize: BLOCK,
      blocks: this.state.sb.nblocks,
      freeBlocks: this.state.sb.freeBlocks,
      dataBlocks: this.state.sb.nblocks - this.state.sb.dataStart,
      files: fileCount(this.state) + (this.state.salvage ? 0 : this.state.damagedNames.size),
      inodes: { used, capacity: this.state.table.capacity },
      journalBytes: this.state.journal.capacity,
      persistence: this.region.capabilities.persistence,
      readOnly: this.readOnly,
      recovery: this.state.recovery,
      orphansFreedAtMount: this.state.orphansFreed,
      blocksRemarkedAtMount: this.state.remarked,
      temporariesRemovedAtMount: this.state.temporariesRemoved,
      superblockRestoredAtMount: this.state.superblockRestored,
      transactions: this.state.journal.commits,
      journalBytesCommitted: this.state.journal.bytesCommitted,
      damagedFiles: this.state.damagedNames.size,
      ...(this.state.salvage ? { salvage: [...this.state.salvage] } : {}),
      sparse: backedBytes < this.region.size, // as isSparse(), from the one fstat
      backedBytes,
      faults: { granted: this.state.faults?.reserve.left ?? 0, pendingAdoptions: this.state.faults?.reserve.pending ?? 0 },
    };
  }

  /** The superblock as mounted (geometry and counters), for check and tools. */
  superblock(): Readonly<Superblock> {
    return this.state.sb;
  }

  /** Opens a file by name; with `create`, creates it when missing (`exclusive`: EEXIST if it exists). */
  open(name: string, options: OpenFileOptions = {}): PoolFile {
    this.#adopt();
    ensureOpen(this.state);
    checkName(name);
    let ino = this.state.names.get(name);
    if (ino !== undefined && options.create && options.exclusive) throw daxfsError('EEXIST', `'${name}' already exists`);
    if (ino === undefined) {
      refuseDamaged(this.state, name);
      if (!options.create) throw daxfsError('ENOENT', `no file named '${name}'`);
      checkNewName(name);
      ino = createInode(this.state, name);
    }
    this.state.openCount.set(ino, (this.state.openCount.get(ino) ?? 0) + 1);
    return new PoolFile(this, ino, this.state.inodes.get(ino)!.generation);
  }

  // ---------------------------------------------------------------- names (see namespace.ts)

  /** Every file, sorted by name; damaged files too, marked `damaged`. */
  list(): FileStat[] {
    this.#adopt();
    return list(this.state);
  }

  stat(name: string): FileStat {
    this.#adopt();
    return stat(this.state, name);
  }

  /** Removes a name. A file still open keeps its blocks until its last handle closes. */
  unlink(name: string): void {
    this.#adopt();
    unlink(this.state, name);
  }

  /** Renames `from` to `to`, atomically replacing an existing `to`. */
  rename(from: string, to: string): void {
    this.#adopt();
    rename(this.state, from, to);
  }

  // ---------------------------------------------------------------- temporaries

  /**
   * A new, empty file under a reserved name (see temporary.ts): not listed,
   * and not reachable by name, until publishTemporary() gives it its name. If
   * this process dies first, the next read-write mount removes it.
   */
  createTemporary(): PoolFile {
    this.#adopt();
    ensureWritable(this.state);
    const ino = createInode(this.state, temporaryName());
    this.state.openCount.set(ino, (this.state.openCount.get(ino) ?? 0) + 1);
    return new PoolFile(this, ino, this.state.inodes.get(ino)!.generation);
  }

  /** Renames the temporary `file` (still open) to `name`, atomically replacing a file of that name. */
  publishTemporary(file: PoolFile, name: string): void {
    this.#adopt();
    publishTemporary(this.state, file, name);
  }

  /** Closes the temporary `file` and removes it. */
  discardTemporary(file: PoolFile): void {
    this.#adopt();
    discardTemporary(this.state, file);
  }

  // ---------------------------------------------------------------- check and close

  /**
   * Verifies the pool: superblocks, journal, every block map against the
   * bitmap (leaked blocks, blocks owned twice, blocks past the end), the free
   * count, inodes, names, orphans and damaged files. With `repair`, sets
   * each damaged file aside (one transaction each), then fixes what can be
   * fixed without guessing (leaks, unmarked blocks, the free count, orphans,
   * the backup superblock) in one transaction, and reports the rest (see
   * repair.ts).
   */
  check(options: { repair?: boolean; onProgress?: (done: number, total: number) => void } = {}): CheckReport {
    this.#adopt();
    return check(this.state, options);
  }

  /**
   * Makes durable everything stored through any mapping of any file of the
   * pool (every page a write fault made writable is written back, then a
   * fence; msync in msync mode). `write`, `persist` and the metadata are
   * durable on return already.
   */
  sync(): void {
    ensureOpen(this.state);
    syncMappings(this.state);
  }

  /** @internal PoolFile.sync(). */
  syncFile(inode: Inode): void {
    syncMappings(this.state, inode.ino);
  }

  /** Unmounts. Open file handles become unusable (EBADF). */
  close(): void {
    if (this.state.closed) return;
    for (const space of [...this.state.spaces.values()]) for (const m of [...space.all()]) m.unmap();
    stopFaultService(this.state);
    this.state.closed = true;
    this.region.close();
  }

  /**
   * Adopts what plain stores through mappings filled, before a call that
   * must see it (fault-adoption.ts). A read of shared memory when nothing
   * waits.
   */
  #adopt(): void {
    const s = this.state;
    if (s.faults === undefined || s.closed || s.stopped) return;
    // A failure leaves the fills pending (their blocks granted) for the next try: the call goes on.
    if (faultsPending(s)) adoptQuietly(s);
    if (grantLow(s)) refillGrant(s);
  }

  /** @internal MappingHost: what plain stores filled is adopted now, or the adoption's error is thrown (persist must not claim durability). */
  adoptFaults(): void {
    const s = this.state;
    if (s.faults === undefined || s.closed || s.stopped || !faultsPending(s)) return;
    adoptFaults(s);
  }

  // ---------------------------------------------------------------- file operations (by inode)

  /** @internal the inode behind a handle, or EBADF. */
  inodeFor(ino: number, generation: number): Inode {
    this.#adopt();
    ensureOpen(this.state);
    const inode = this.state.inodes.get(ino);
    if (!inode || inode.generation !== generation) throw daxfsError('EBADF', 'the file handle is stale');
    return inode;
  }

  // ---------------------------------------------------------------- mappings (see host.ts)

  /** @internal PoolFile.map(). */
  mapFile(inode: Inode, options: Required<MapOptions>): FileMapping {
    return mapFile(this.state, this, inode, options);
  }

  /** @internal a mapping was unmapped. */
  detachMapping(mapping: FileMapping): void {
    detachMapping(this.state, mapping);
  }

  /** @internal a write fault on a hole: allocate, zero, commit. */
  allocateForFault(subject: FaultSubject, inode: Inode, fileBlock: number, count: number): { poolBlock: number; count: number } {
    return holdingFile(this.state, inode, (current) => allocateForFault(this.state, subject, current, fileBlock, count));
  }

  /** @internal a write fault on unwritten blocks: zero them, then commit them as written. */
  convertForFault(subject: FaultSubject, inode: Inode, fileBlock: number, count: number): void {
    holdingFile(this.state, inode, (current) => convertForFault(this.state, subject, current, fileBlock, count));
  }

  /**
   * Checks every page of every live mapping against the block maps (no free
   * block and no block of another file reachable, writable pages only in
   * shared writable mappings, nothing past EOF, the native page table
   * agreeing). Returns the problems found.
   */
  verifyMappings(): string[] {
    this.#adopt();
    return verifyMappings(this.state);
  }

  /** Fault statistics of every mapping of this pool, past and present. */
  faultStats(): FaultStats {
    return { ...this.faultCounters };
  }

  /** Mappings of this pool that are still mapped. */
  mappingCount(): number {
    let n = 0;
    for (const space of this.state.spaces.values()) n += space.size;
    return n;
  }

  /** @internal PoolFile.getBlock() (see data-path.ts). */
  getBlock(inode: Inode, fileBlock: number, create: boolean, maxBlocks: number): BlockMapping {
    if (!create) return getBlock(this.state, inode, fileBlock, create, maxBlocks);
    return holdingFile(this.state, inode, (current) => getBlock(this.state, current, fileBlock, create, maxBlocks));
  }

  /** @internal PoolFile.read(). */
  readFile(inode: Inode, target: Uint8Array, targetOffset: number, length: number, position: number): number {
    return readFile(this.state, inode, target, targetOffset, length, position);
  }

  /** @internal PoolFile.write(). */
  writeFile(inode: Inode, source: Uint8Array, sourceOffset: number, length: number, position: number): number {
    return holdingFile(this.state, inode, (current) => writeFile(this.state, current, source, sourceOffset, length, position));
  }

  /** @internal PoolFile.readAsync(). */
  readFileAsync(inode: Inode, target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    return readFileAsync(this.state, inode, target, targetOffset, length, position);
  }

  /** @internal PoolFile.writeAsync(). */
  writeFileAsync(inode: Inode, source: Uint8Array, sourceOffset: number, length: number, position: number): Promise<number> {
    return writeFileAsync(this.state, inode, source, sourceOffset, length, position);
  }

  /** @internal a handle closed (see handles.ts). */
  release(ino: number): void {
    release(this.state, ino);
  }

  /** @internal PoolFile.truncate(). */
  truncateFile(inode: Inode, size: number): void {
    holdingFile(this.state, inode, (current) => truncateFile(this.state, current, size));
  }

  /** PoolFile.allocate() (see resize.ts). */
  allocateFile(inode: Inode, offset: number, length: number): void {
    holdingFile(this.state, inode, (current) => allocateFile(this.state, current, offset, length));
  }

  /** @internal PoolFile.punchHole(). */
  punchHoleFile(inode: Inode, offset: number, length: number): void {
    holdingFile(this.state, inode, (current) => punchHoleFile(this.state, current, offset, length));
  }

  /** @internal PoolFile.zeroRange(). */
  zeroRangeFile(inode: Inode, offset: number, length: number): void {
    holdingFile(this.state, inode, (current) => zeroRangeFile(this.state, current, offset, length));
  }
}

function isEmptyFile(path: string): boolean {
  const st = statSync(path);
  return st.isFile() && st.size === 0;
}

