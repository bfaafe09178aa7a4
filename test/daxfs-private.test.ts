// Private by default: every file daxfs creates is mode 0600 unless asked
// otherwise, emulated pmem lives in a 0700 directory of the user's own, and
// another user's pool opens only as far as its mode allows.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { createUnlinkedPmem, emulatedPmemDir, privateDir } from '../lib/emulated.js';
import { packageRoot } from '../lib/native.js';
import { Pool, Region } from '../lib/index.js';
import { daxfs } from './cli-helpers.js';
import { expectCode, tmpfsDir, uniquePath } from './helpers.js';

const dir = tmpfsDir();
const MiB = 2 ** 20;
const bin = path.join(packageRoot, 'dist/lib/cli/daxfs.js');
const NOBODY = 65534;

const modeOf = (file: string) => statSync(file).mode & 0o777;

/** Why the command cannot be run as another user here, or undefined when it can. */
function cannotSwitchUser(): string | undefined {
  if (process.getuid!() !== 0) return 'not running as root, so no child can run as another user';
  const probe = spawnSync(process.execPath, [bin, '--version'], { uid: NOBODY, gid: NOBODY, encoding: 'utf8' });
  if (probe.status !== 0) return `the command does not run as uid ${NOBODY} here: ${probe.error?.message ?? probe.stderr.trim()}`;
  return undefined;
}

describe('private-by-default', () => {
  it('private-by-default: pools and regions are created 0600; --mode and the mode option set exactly what is asked, whatever the umask', () => {
    const pool = uniquePath(dir, 'pool');
    expect(daxfs('mkfs', pool, '--size', '8M').code).toBe(0);
    expect(modeOf(pool)).toBe(0o600);
    // under a umask that would narrow it: the mode asked for stands
    const shared = uniquePath(dir, 'shared');
    const r = spawnSync('/bin/sh', ['-c', 'umask 077 && exec "$0" "$1" mkfs "$2" --size 8M --mode 0640', process.execPath, bin, shared], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(modeOf(shared)).toBe(0o640);
    expect(daxfs('mkfs', uniquePath(dir), '--size', '8M', '--mode', '0800')).toMatchObject({ code: 2, err: expect.stringMatching(/^daxfs: EUSAGE: --mode: not an octal mode: '0800'/) as unknown as string });
    // --mode on an existing file (with --force) sets its mode
    expect(daxfs('mkfs', pool, '--force', '--mode', '644').code).toBe(0);
    expect(modeOf(pool)).toBe(0o644);

    const region = uniquePath(dir, 'region');
    Region.create(region, MiB).close();
    expect(modeOf(region)).toBe(0o600);
    const open = uniquePath(dir, 'region');
    Region.create(open, MiB, { mode: 0o604 }).close();
    expect(modeOf(open)).toBe(0o604);
    expectCode(() => Region.create(uniquePath(dir), MiB, { mode: 0o1000 }), 'EINVAL', /mode must be permission bits \(0 to 0o777\), got 0o1000/);
    expectCode(() => Pool.format(uniquePath(dir), { size: 8 * MiB, mode: -1 }), 'EINVAL', /mode must be permission bits/);
    const formatted = uniquePath(dir, 'pool');
    Pool.format(formatted, { size: 8 * MiB, mode: 0o640 }).close();
    expect(modeOf(formatted)).toBe(0o640);
  });

  it('private-by-default: emulated pmem lives in a 0700 directory of the user, created if missing, refused if not the user\'s', () => {
    const uid = process.getuid!();
    const home = emulatedPmemDir();
    expect(path.basename(home)).toBe(`daxfs-${uid}`);
    const st = lstatSync(home);
    expect({ dir: st.isDirectory(), uid: st.uid, mode: st.mode & 0o777 }).toEqual({ dir: true, uid, mode: 0o700 });
    const backing = createUnlinkedPmem('private-test', MiB);
    try {
      expect(modeOf(backing.path)).toBe(0o600);
      expect(path.dirname(backing.name)).toBe(home);
    } finally {
      backing.close();
    }

    // in a parent of its own, every way the name can be taken by something else
    const parent = path.join(dir, 'parent');
    mkdirSync(parent);
    const mine = path.join(parent, `daxfs-${uid}`);
    expect(privateDir(parent)).toBe(mine);
    expect(modeOf(mine)).toBe(0o700);
    chmodSync(mine, 0o755);
    expectCode(() => privateDir(parent), 'EACCES', new RegExp(`^'${mine}' has mode 0755, not 0700: emulated pmem must go in a directory private to uid ${uid}`));
    chmodSync(mine, 0o700);
    chownSync(mine, NOBODY, NOBODY);
    expectCode(() => privateDir(parent), 'EACCES', new RegExp(`^'${mine}' belongs to uid ${NOBODY}:`));
    rmSync(mine, { recursive: true });
    const elsewhere = path.join(dir, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, mine);
    expectCode(() => privateDir(parent), 'EACCES', new RegExp(`^'${mine}' is a symbolic link:`));
    rmSync(mine);
    writeFileSync(mine, '');
    expectCode(() => privateDir(parent), 'EACCES', new RegExp(`^'${mine}' is not a directory:`));
  });

  const reason = cannotSwitchUser();
  it.skipIf(reason !== undefined)(`private-by-default: another user's pool opens only as its mode allows${reason ? ` (skipped: ${reason})` : ''}`, () => {
    // a directory every user can search, so that only the pool's own mode decides
    const open = mkdtempSync('/dev/shm/daxfs-share-test-');
    try {
      chmodSync(open, 0o755);
      asOthers(open);
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });
});

/** The pools of `open` as seen by uid 65534. */
function asOthers(open: string): void {
  const asNobody = (...argv: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...argv], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', cwd: '/' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const src = path.join(open, 'src');
  writeFileSync(src, 'x', { mode: 0o644 });

  const mine = path.join(open, 'private.pool');
  expect(daxfs('mkfs', mine, '--size', '8M').code).toBe(0);
  expect(daxfs('put', mine, src, 'x').code).toBe(0);
  const refused = (pool: string, mode: string, how: string) =>
    `daxfs: EACCES: '${pool}' belongs to uid 0 and its mode ${mode} does not let uid ${NOBODY} open it ${how} (its owner can share it with chmod, or create it with mkfs --mode)\n`;
  expect(asNobody('ls', mine)).toEqual({ code: 1, out: '', err: refused(mine, '0600', 'read-only') });
  expect(asNobody('check', mine)).toEqual({ code: 8, out: '', err: refused(mine, '0600', 'read-only') });

  const readable = path.join(open, 'readable.pool');
  expect(daxfs('mkfs', readable, '--size', '8M', '--mode', '0644').code).toBe(0);
  expect(daxfs('put', readable, src, 'x').code).toBe(0);
  expect(asNobody('ls', readable)).toMatchObject({ code: 0, err: '' });
  expect(asNobody('rm', readable, 'x')).toEqual({ code: 1, out: '', err: refused(readable, '0644', 'read-write') });
  expect(daxfs('ls', readable, '--json').out).toMatch(/"name": "x"/);

  const writable = path.join(open, 'writable.pool');
  expect(daxfs('mkfs', writable, '--size', '8M', '--mode', '0666').code).toBe(0);
  expect(daxfs('put', writable, src, 'x').code).toBe(0);
  expect(asNobody('rm', writable, 'x')).toEqual({ code: 0, out: 'removed x\n', err: '' });
}
