// The userfaultfd probe: what this process may use, checked against the
// kernel's own rules (vm.unprivileged_userfaultfd, /dev/userfaultfd's mode,
// the user-mode-only form anyone may have since Linux 5.11), here and, when
// the tests run as root, in a child that has dropped to an unprivileged user.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { faultMechanismOf, formatCapabilities, userfaultfdOf } from '../../lib/capabilities.js';
import { Region } from '../../lib/index.js';
import { addon, packageRoot, type UserfaultfdProbe } from '../../lib/native.js';
import { NOBODY, nobodyCanRunThis, tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
const sysctl = existsSync('/proc/sys/vm/unprivileged_userfaultfd') ? readFileSync('/proc/sys/vm/unprivileged_userfaultfd', 'utf8').trim() : null;
const device = existsSync('/dev/userfaultfd') ? statSync('/dev/userfaultfd') : null;
// the child runs this Node and loads this checkout's build as `nobody`
const dropPossible = nobodyCanRunThis();

/** The consistency every answer must have, whoever asks. */
function expectCoherent(p: UserfaultfdProbe): void {
  // the full form is a superset: a kernel that grants it grants the restricted one
  if (p.syscall.available) expect(p.userModeOnly.available).toBe(true);
  for (const way of [p.syscall, p.userModeOnly, p.device]) {
    if (way.available) expect(way.error).toBeNull();
    else expect(way.error).toMatch(/^(userfaultfd|\/dev\/userfaultfd): E[A-Z]+$/);
  }
  const any = p.syscall.available || p.userModeOnly.available || p.device.available;
  // the feature handshake runs on the first fd granted
  if (!any) expect(p.features).toEqual([]);
  if (any && p.error === null) expect(p.features.length).toBeGreaterThan(0);
}

describe('the userfaultfd probe', () => {
  it('answers coherently, by the kernel rules that apply to this process, once per process', () => {
    const p = addon.probeUserfaultfd();
    expectCoherent(p);
    // with unprivileged_userfaultfd = 1 nothing distinguishes the two forms
    if (sysctl === '1') expect(p.syscall.available).toBe(p.userModeOnly.available);
    // without it, only a privileged process gets the full form from the system call
    if (sysctl === '0' && process.getuid?.() !== 0) expect(p.syscall.error).toBe('userfaultfd: EPERM');
    if (device === null) expect(p.device.error).toBe('/dev/userfaultfd: ENOENT');
    expect(addon.probeUserfaultfd()).toEqual(p);
  });

  it('is in the capability report, with what it means, beside the transparent-fault mechanism', () => {
    const r = Region.create(uniquePath(shm), 1 << 20);
    const c = r.capabilities;
    expect(c.userfaultfdProbe).toEqual(addon.probeUserfaultfd());
    expect(c.userfaultfd).toBe(userfaultfdOf(c.userfaultfdProbe));
    expect(c.transparentFaults).toBe(true);
    expect(c.transparentFaultMechanism).toBe(c.userfaultfd === 'full' && process.env['DAXFS_FAULTS'] !== 'signal' ? 'userfaultfd+signal' : 'signal');
    expect(faultMechanismOf('full', {})).toBe('userfaultfd+signal');
    expect(faultMechanismOf('full', { DAXFS_FAULTS: 'signal' })).toBe('signal');
    expect(faultMechanismOf('user-mode-only', {})).toBe('signal');
    expect(faultMechanismOf('unavailable', {})).toBe('signal');
    const lines = formatCapabilities(c);
    expect(lines).toContain(`userfaultfd        ${c.userfaultfd}: ${c.userfaultfdMeaning}`);
    const line = lines.find((l) => l.startsWith('transparent faults'));
    if (c.transparentFaultMechanism === 'signal') expect(line).toMatch(/^transparent faults yes: served by a SIGSEGV handler: .*SIGBUS.*EFAULT: populate them first$/);
    else expect(line).toMatch(/^transparent faults yes: served by a userfaultfd thread \(pages showing nothing, also when a system call .*\) and a SIGSEGV handler .*EFAULT$/);
    if (c.userfaultfd === 'full') expect(c.userfaultfdMeaning).toMatch(/^granted in full \((the system call|\/dev\/userfaultfd)\): faults taken inside system calls are reported too/);
    if (c.userfaultfd === 'user-mode-only') expect(c.userfaultfdMeaning).toMatch(/EFAULT/);
    if (c.userfaultfd === 'unavailable') expect(c.userfaultfdMeaning).toMatch(/^not granted to this process/);
    r.close();
  });

  it('classifies each combination of answers', () => {
    const way = (available: boolean, error: string | null = available ? null : 'userfaultfd: EPERM') => ({ available, error });
    const probe = (full: boolean, user: boolean, dev: boolean): UserfaultfdProbe => ({
      syscall: way(full),
      userModeOnly: way(user),
      device: way(dev, dev ? null : '/dev/userfaultfd: EACCES'),
      features: [],
      error: null,
    });
    expect(userfaultfdOf(probe(true, true, false))).toBe('full');
    expect(userfaultfdOf(probe(false, true, true))).toBe('full');
    expect(userfaultfdOf(probe(false, true, false))).toBe('user-mode-only');
    expect(userfaultfdOf(probe(false, false, false))).toBe('unavailable');
  });

  // Skipped unless running as root with this Node and this checkout reachable by other users.
  it.skipIf(!dropPossible)('in a process of an unprivileged user, the kernel refuses what it must', () => {
    const script = `import(${JSON.stringify(path.join(packageRoot, 'dist/lib/native.js'))}).then(({ addon }) => console.log(JSON.stringify(addon.probeUserfaultfd())));`;
    const out = spawnSync(process.execPath, ['-e', script], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', cwd: '/' });
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const p = JSON.parse(out.stdout) as UserfaultfdProbe;
    expectCoherent(p);
    if (sysctl === '0') expect(p.syscall.error).toBe('userfaultfd: EPERM');
    if (sysctl === '1') expect(p.syscall.available).toBe(p.userModeOnly.available);
    // the device by its permissions for others
    if (device !== null && (device.mode & 0o006) !== 0o006) expect(p.device.error).toBe('/dev/userfaultfd: EACCES');
    // A refusal of the restricted form by a kernel that has it comes from a
    // filter (seccomp); then nothing is granted.
    if (!p.userModeOnly.available) expect(userfaultfdOf(p)).toBe(p.device.available ? 'full' : 'unavailable');
  });
});
