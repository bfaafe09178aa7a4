// Hosting mappings: a file's mappings (one address space per mapped file),
// what their write faults ask of the pool (a hole allocated, unwritten
// blocks converted, each committed), and a check of every live mapping's
// pages against the block maps.
//
// Invariants: a mapping counts as an open handle of its file until it is
// unmapped; a page shows only the file's written block at its offset, so
// no free block and no other file's block is ever reachable through a
// mapping; blocks a fault allocates or converts are zeroed before their
// transaction commits, and the pages the fault maps itself are kept out of
// the fill that follows the commit (the commit is told which: `faulting`).
import { daxfsError } from '../errors.js';
import { AddressSpace } from '../map/address-space.js';
import type { FaultSubject } from '../map/fault.js';
import type { FillExclusion } from '../map/invalidation.js';
import { FileMapping, type MapOptions, type MappingHost } from '../map/mapping.js';
import { PAGE, PageState } from '../mmu.js';
import { isWritten, runAt, runsIn, setUnwritten } from './extents.js';
import { cloneInode, type Inode } from './inode.js';
import { BLOCK } from './layout.js';
import { commit } from './commit.js';
import { getBlock } from './data-path.js';
import { adoptFaults, adoptQuietly, writableMappingChanged } from './fault-adoption.js';
import { release } from './handles.js';
import { ensureOpen, ensureUnpinned, ensureWritable, type PoolState } from './state.js';
import { Txn } from './txn.js';

/** @internal PoolFile.map(). */
export function mapFile(s: PoolState, host: MappingHost, inode: Inode, options: Required<MapOptions>): FileMapping {
  ensureOpen(s);
  if (options.shared && options.write && s.readOnly) throw daxfsError('EROFS', 'the pool is open read-only: a shared writable mapping would change the file');
  const pages = Math.ceil(options.length / PAGE);
  const mmu = s.region.createMapping(pages * PAGE);
  if (mmu.unit !== PAGE) {
    mmu.release();
    throw daxfsError('ENOTSUP', `file mappings need ${PAGE}-byte MMU pages; this region maps in units of ${mmu.unit} bytes (device-dax alignment)`);
  }
  let space = s.spaces.get(inode.ino);
  if (!space) s.spaces.set(inode.ino, (space = new AddressSpace<FileMapping>()));
  const kind = options.shared ? (options.write ? 'shared writable' : 'shared read-only') : 'private';
  mmu.setLabel(`file ${JSON.stringify(inode.name)} (inode ${inode.ino}), ${kind}, from file offset ${options.offset}`);
  const mapping = new FileMapping(host, inode.ino, inode.generation, mmu, options, inode);
  mapping.eofMoved(inode);
  space.add(mapping);
  s.openCount.set(inode.ino, (s.openCount.get(inode.ino) ?? 0) + 1);
  // Plain stores into its holes take blocks granted ahead of time.
  if (mapping.shared && mapping.writable) writableMappingChanged(s, mapping.blockCount);
  return mapping;
}

/** @internal a mapping was unmapped. */
export function detachMapping(s: PoolState, mapping: FileMapping): void {
  const ino = mapping.inodeNumber;
  const space = s.spaces.get(ino);
  if (!space) return;
  space.remove(mapping);
  if (space.size === 0) s.spaces.delete(ino);
  // What its stores filled is the file's before the handle goes.
  if (s.faults) adoptQuietly(s);
  if (mapping.shared && mapping.writable) writableMappingChanged(s, -mapping.blockCount);
  release(s, ino);
}

/**
 * The `dax_writeback_mapping_range` of a sync: every page stored to through
 * a mapping — of file `ino`, or of every file — is written back, then one
 * fence (msync mode: each run is msynced). Pages stay writable, so each
 * sync writes back every writable page again. Returns the bytes.
 */
export function syncMappings(s: PoolState, ino?: number): number {
  adoptFaults(s);
  let bytes = 0;
  const spaces = ino === undefined ? [...s.spaces.values()] : [s.spaces.get(ino)];
  for (const space of spaces) if (space) for (const m of space.all()) bytes += m.writeBack();
  s.region.drain();
  return bytes;
}

/**
 * Checks every page of every live mapping against the block maps: a page
 * showing a block must show the file's written block at that offset (so
 * no free block, and no block of another file, is reachable), writable
 * pages only in shared writable mappings, nothing past EOF but torn-down
 * pages, and the native page table must agree. Returns the problems found.
 */
export function verifyMappings(s: PoolState): string[] {
  const problems: string[] = [];
  for (const [ino, space] of s.spaces) {
    const inode = s.inodes.get(ino);
    for (const m of space.all()) {
      const where = (p: number) => `mapping of ino ${ino} at file block ${m.firstBlock + p}`;
      const native = m.nativeStates();
      const eof = inode ? Math.ceil(inode.size / BLOCK) - m.firstBlock : 0;
      // the written pool block the file has behind each page (-1: none)
      const expected = new Array<number>(m.blockCount).fill(-1);
      if (inode)
        for (const run of inode.extents.runsIn(m.firstBlock, m.firstBlock + m.blockCount))
          if (isWritten(run)) for (let k = 0; k < run.length; k++) expected[run.fileBlock - m.firstBlock + k] = run.poolBlock + k;
      for (let p = 0; p < m.blockCount; p++) {
        const state = m.table.states[p]!;
        if (native[p] !== state) problems.push(`${where(p)}: page state ${state} but the native table says ${native[p]}`);
        if (state !== PageState.none && p >= eof) problems.push(`${where(p)}: page past EOF is mapped (state ${state})`);
        if (state === PageState.blockWrite && !(m.shared && m.writable)) problems.push(`${where(p)}: block writable in a ${m.shared ? 'read-only' : 'private'} mapping`);
        if (state !== PageState.blockRead && state !== PageState.blockWrite) continue;
        const block = m.table.blocks[p]!;
        const want = expected[p]!;
        if (block !== want) problems.push(`${where(p)}: shows pool block ${block}, the file has ${want < 0 ? 'no written block' : want} there`);
        if (((s.bitmapWords[block >>> 5]! >>> (block & 31)) & 1) === 0) problems.push(`${where(p)}: shows pool block ${block}, which is free`);
      }
    }
  }
  return problems;
}

/** @internal a write fault on a hole: allocate, zero, commit. */
export function allocateForFault(s: PoolState, subject: FaultSubject, inode: Inode, fileBlock: number, count: number): { poolBlock: number; count: number } {
  ensureUnpinned(s, inode, fileBlock, fileBlock + count);
  const got = getBlock(s, inode, fileBlock, true, count, faultedPages(subject, fileBlock, count));
  return { poolBlock: got.poolBlock, count: got.count };
}

/** The pages of `subject` a write fault on file blocks [fileBlock, fileBlock + count) maps itself. */
function faultedPages(subject: FaultSubject, fileBlock: number, count: number): FillExclusion {
  const page = fileBlock - subject.firstBlock;
  return { mapping: subject, from: page, to: page + count };
}

/**
 * @internal a write fault on unwritten blocks: zero them (a zero range
 * leaves the old bytes under its unwritten extents), then commit them as
 * written.
 */
export function convertForFault(s: PoolState, subject: FaultSubject, inode: Inode, fileBlock: number, count: number): void {
  ensureWritable(s);
  ensureUnpinned(s, inode, fileBlock, fileBlock + count);
  const e = inode.extents.runAt(fileBlock);
  if (e.poolBlock < 0 || !e.unwritten || fileBlock + count > e.fileBlock + e.length) throw new Error('convertForFault: not an unwritten run');
  s.region.zero((e.poolBlock + (fileBlock - e.fileBlock)) * BLOCK, count * BLOCK);
  const txn = new Txn();
  const next = cloneInode(inode);
  next.extents.setUnwritten(fileBlock, fileBlock + count, false);
  next.mtimeMs = Date.now();
  txn.put(next);
  txn.touch(inode.ino, fileBlock, fileBlock + count);
  commit(s, txn, { faulting: faultedPages(subject, fileBlock, count) });
}
