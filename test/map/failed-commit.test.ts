// A layout change whose transaction fails before its commit point changes
// nothing, mappings included: pages of a mapping are switched or torn down
// only once the journal has committed. The failure here is the backing's:
// the journal's pages are punched out of the pool file on a full file
// system, so writing the transaction there fails with ENOSPC (the engine
// catches the fault) before the commit word is stored.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Pool, type FileMapping, type PoolFile } from '../../lib/index.js';
import { expectCode, pattern, smallFileSystem } from '../helpers.js';
import { MiB, PAGE } from './helpers.js';

const fs = smallFileSystem(16 * MiB);
if (fs.skip) console.log(fs.skip);

/** Fills the file system holding `dir` until less than a page is left; returns the filler's path. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  for (const n of [64 * 1024, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1]) {
    const fd = openSync(file, 'a');
    try {
      for (;;) writeSync(fd, Buffer.alloc(n, 0xee));
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOSPC') throw e;
    } finally {
      closeSync(fd);
    }
  }
  return file;
}

interface Setup {
  pool: Pool;
  file: PoolFile;
  shared: FileMapping;
  privateMap: FileMapping;
  data: Buffer;
  states: { shared: string[]; privateMap: string[] };
  filler: string;
  poolPath: string;
}

/** A 16-page file mapped shared (written through) and privately (one private copy), then the journal unbacked. */
function setup(name: string): Setup {
  const dir = fs.dir!;
  const poolPath = path.join(dir, `${name}.pool`);
  const pool = Pool.format(poolPath, { size: 4 * MiB });
  const file = pool.open('f', { create: true });
  const data = pattern(16 * PAGE, 5);
  file.write(data, 0);
  const shared = file.map({ length: 16 * PAGE, write: true, huge: false });
  shared.populate(0, 16 * PAGE, { write: true });
  const privateMap = file.map({ length: 16 * PAGE, shared: false, write: true, huge: false });
  privateMap.populate();
  privateMap.write(15 * PAGE, Buffer.from('private copy'));
  const states = { shared: shared.pageStates(), privateMap: privateMap.pageStates() };
  expect(states.shared).toEqual(Array(16).fill('block-write'));
  // the journal (its header block and body) no longer backed, and no room to back it again
  const journal = pool.superblock().journalStart * PAGE;
  execFileSync('fallocate', ['-p', '-o', String(journal), '-l', String(PAGE + pool.info().journalBytes), poolPath]);
  const filler = fill(dir);
  return { pool, file, shared, privateMap, data, states, filler, poolPath };
}

/** Nothing changed: page states, the bytes every mapping shows, the file, the pool's checks. */
function expectIntact(s: Setup): void {
  expect(s.shared.pageStates()).toEqual(s.states.shared);
  expect(s.privateMap.pageStates()).toEqual(s.states.privateMap);
  expect(Buffer.from(new Uint8Array(s.shared.buffer, 0, 16 * PAGE)).equals(s.data)).toBe(true);
  const copy = Buffer.from(s.data);
  copy.write('private copy', 15 * PAGE);
  expect(Buffer.from(new Uint8Array(s.privateMap.buffer, 0, 16 * PAGE)).equals(copy)).toBe(true);
  expect(s.file.size).toBe(16 * PAGE);
  const back = Buffer.alloc(16 * PAGE);
  expect(s.file.read(back, 0)).toBe(16 * PAGE);
  expect(back.equals(s.data)).toBe(true);
  expect(s.pool.verifyMappings()).toEqual([]);
}

/** Runs `body` on a fresh setup; whatever happens, the file system gets its space back and the pool is closed and removed. */
function withSetup(name: string, body: (s: Setup) => void): void {
  const s = setup(name);
  try {
    body(s);
    rmSync(s.filler, { force: true });
    s.shared.unmap();
    s.privateMap.unmap();
    s.file.close();
    expect(s.pool.check().problems).toEqual([]);
  } finally {
    rmSync(s.filler, { force: true });
    s.pool.close();
    rmSync(s.poolPath, { force: true });
  }
}

describe.skipIf(fs.skip !== undefined)('a layout change that fails before its commit point leaves every mapping as it was', () => {
  it('truncate: ENOSPC writing the journal; every page of both mappings intact, the data readable through them; it succeeds once there is room', () => {
    withSetup('truncate', (s) => {
      expectCode(() => s.file.truncate(3 * PAGE + 100), 'ENOSPC', /no space to back the page/);
      expectIntact(s);
      // with room again the same truncate goes through, and tears the pages past EOF down
      rmSync(s.filler);
      s.file.truncate(3 * PAGE + 100);
      expect(s.shared.pageStates().slice(4)).toEqual(Array(12).fill('none'));
      expect(s.privateMap.pageStates().slice(4)).toEqual(Array(12).fill('none'));
      expect(s.pool.verifyMappings()).toEqual([]);
    });
  });

  it('punch hole: ENOSPC writing the journal; no page switched to zeros, the data readable through both mappings', () => {
    withSetup('punch', (s) => {
      expectCode(() => s.file.punchHole(4 * PAGE, 8 * PAGE), 'ENOSPC', /no space to back the page/);
      expectIntact(s);
    });
  });

  it('zero range: ENOSPC writing the journal; no page switched to zeros, the data readable through both mappings', () => {
    withSetup('zero', (s) => {
      expectCode(() => s.file.zeroRange(4 * PAGE, 8 * PAGE), 'ENOSPC', /no space to back the page/);
      expectIntact(s);
    });
  });
});
