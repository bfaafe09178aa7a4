// The transparent-fault tests again, with the SIGSEGV handler alone serving
// every fault (DAXFS_FAULTS=signal: the mechanism of a process without
// userfaultfd in full form), so both mechanisms are tested on any machine.
import { afterAll } from 'vitest';

const before = process.env['DAXFS_FAULTS'];
process.env['DAXFS_FAULTS'] = 'signal';
afterAll(() => {
  if (before === undefined) delete process.env['DAXFS_FAULTS'];
  else process.env['DAXFS_FAULTS'] = before;
});
await import('./transparent.test.js');
