// A buffer can escape close(): on engines with ArrayBuffer.prototype.transfer,
// transfer() moves a view's memory into a new buffer that close() cannot
// detach. Such a buffer must never show another region's bytes: the range
// stays reserved and inaccessible until the buffer is collected.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Region } from '../../lib/index.js';
import { packageRoot } from '../../lib/native.js';
import { expectCode, tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
const CHILD = path.join(packageRoot, 'dist/test/native/escape-child.js');
const canTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';
const noTransfer = `Node ${process.version} has no ArrayBuffer.prototype.transfer: no buffer can escape close() here`;

type Transferable = ArrayBuffer & { transfer(): ArrayBuffer };

function child(args: string[], node: string[] = []): { lines: string[]; signal: string | null; status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [...node, CHILD, ...args], { encoding: 'utf8' });
  return { lines: result.stdout.trim().split('\n'), signal: result.signal, status: result.status, stderr: result.stderr };
}

const refused = 'IO EFAULT source: the buffer lies in the memory of a closed daxfs region or released mapping';

describe('a buffer that escaped close() by transfer()', () => {
  it('of a region view: its range stays reserved under other regions and mappings, I/O refuses it, a load faults', ({ skip }) => {
    skip(!canTransfer, noTransfer);
    const run = child(['region', shm]);
    expect(run.lines, run.stderr).toEqual([
      'ESCAPED 1048576 65', // the whole window, showing 'A'
      'AFTER_CLOSE reserved',
      'AFTER_OTHERS reserved',
      refused,
      'LOAD',
    ]);
    expect(run.signal).toBe('SIGSEGV');
  });

  it('of a mapping buffer: the same after release and after the region closes', ({ skip }) => {
    skip(!canTransfer, noTransfer);
    const run = child(['mapping', shm]);
    expect(run.lines, run.stderr).toEqual([
      'ESCAPED 65536 65',
      'AFTER_RELEASE reserved',
      'AFTER_CLOSE reserved',
      'AFTER_OTHERS reserved',
      refused,
      'LOAD',
    ]);
    expect(run.signal).toBe('SIGSEGV');
  });

  for (const kind of ['region', 'mapping']) {
    it(`of a ${kind}: the range is given back once the buffer is collected`, ({ skip }) => {
      skip(!canTransfer, noTransfer);
      const run = child(['collect', shm, kind], ['--expose-gc']);
      expect(run.status, run.stderr).toBe(0);
      expect(run.lines.slice(-2)).toEqual([`HELD reserved ${kind === 'region' ? 1048576 : 65536}`, 'COLLECTED free']);
    });
  }

  it('leaves the region usable: its views get a fresh window; copies refuse the escaped memory', ({ skip }) => {
    skip(!canTransfer, noTransfer);
    const r = Region.create(uniquePath(shm), 1 << 20);
    r.write(0, Buffer.from('hello'));
    const escaped = (r.view(0, 5).buffer as Transferable).transfer();
    expect(Buffer.from(escaped, 0, 5).toString()).toBe('hello');
    expect(r.view(0, 5).toString()).toBe('hello'); // the window it came from was detached: a new one
    const other = Region.create(uniquePath(shm), 1 << 20);
    r.close();
    expect(escaped.byteLength).toBe(1 << 20); // not detached: it escaped
    expectCode(() => other.read(0, new Uint8Array(escaped, 0, 5)), 'EFAULT', /closed daxfs region/);
    expectCode(() => other.writeAsync(0, new Uint8Array(escaped, 0, 5)), 'EFAULT', /closed daxfs region/);
    other.close();
  });
});
