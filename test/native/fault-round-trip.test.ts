// The bare fault mechanisms, timed in C for the benchmarks: each resolves
// exactly one fault per page with the backing's pages (or zeros), leaves
// nothing installed behind it — a later wild access still kills the process
// with SIGSEGV, as it did before — and reports the kernel's refusal where
// this process may not use it.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import { addonPath, Region } from '../../lib/index.js';
import { addon, type FaultMechanism } from '../../lib/native.js';
import { expectCode, pattern, tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
const PAGE = 4096;
const probe = addon.probeUserfaultfd();
const uffd = probe.syscall.available || probe.userModeOnly.available || probe.device.available;

describe('fault round trips (benchmark helper)', () => {
  it.each(['uffd-map', 'uffd-zeropage', 'signal-map'] as FaultMechanism[])('%s: one fault per page, or the kernel\'s refusal', (mechanism) => {
    const r = Region.create(uniquePath(shm), 64 * PAGE);
    r.write(0, pattern(64 * PAGE, 4));
    if (mechanism.startsWith('uffd') && !uffd) {
      expectCode(() => r.faultRoundTrip(0, 16, mechanism), 'EPERM');
    } else {
      const out = r.faultRoundTrip(PAGE, 16, mechanism);
      expect(out.faults).toBe(16);
      expect(out.ns).toBeGreaterThan(0);
    }
    r.close();
  });

  it('checks its arguments', () => {
    const r = Region.create(uniquePath(shm), 16 * PAGE);
    expectCode(() => r.faultRoundTrip(0, 17, 'signal-map'), 'ERANGE', /pages/);
    expectCode(() => r.faultRoundTrip(100, 1, 'signal-map'), 'EINVAL', /offset/);
    expectCode(() => r.faultRoundTrip(0, 0, 'signal-map'), 'EINVAL', /pages/);
    expectCode(() => r.faultRoundTrip(0, 1, 'bogus' as FaultMechanism), 'EINVAL', /mechanism/);
    r.close();
  });

  it('leaves SIGSEGV to whoever handled it before: a wild access after the measurement still kills the process', () => {
    const path = uniquePath(shm);
    const script = `
      const a = require(${JSON.stringify(addonPath)});
      const r = new a.Region(${JSON.stringify(path)}, { create: true, size: 1 << 20 });
      const out = r.faultRoundTrip(0, 8, 'signal-map');
      if (out.faults !== 8) process.exit(4);
      const m = new a.Mapping(r, 4 * 4096);
      const u8 = new Uint8Array(m.buffer());
      if (u8[0] === 0) process.exit(5); // never faulted in: this load is a SIGSEGV
      process.exit(0);`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(child.signal).toBe('SIGSEGV');
  });
});
