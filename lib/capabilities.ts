// The capability report: what the region got from the kernel and the
// hardware, and what that means for durability, in words a user can act on.
import type { NativeReport, ZeroSourceInfo } from './native.js';

export type Persistence = NativeReport['persistence'];
/** Smallest unit that is failure-atomic to persist: see PMDK's pmem2 granularity. */
export type Granularity = 'byte' | 'cache-line' | 'page';
/**
 * What this kernel does on a read fault of private anonymous memory: map its
 * shared zero page, or give the page memory of its own (probed once per
 * process; 'unknown' when the probe could not run).
 */
export type AnonymousReadFaults = 'zero-page' | 'allocates' | 'unknown';
/**
 * What userfaultfd this process may use: the full form (faults taken inside
 * system calls are reported too), the user-mode-only form (a system call
 * writing into a registered page fails with EFAULT instead), or none.
 */
export type Userfaultfd = 'full' | 'user-mode-only' | 'unavailable';

export interface CapabilityReport extends Omit<NativeReport, 'zeroSource'> {
  anonymousReadFaults: AnonymousReadFaults;
  anonymousReadFaultsMeaning: string;
  userfaultfd: Userfaultfd;
  userfaultfdMeaning: string;
  /**
   * Whether a plain load or store on a mapping page that no API call
   * faulted in is served (native/fault_service.h), and by what: a SIGSEGV
   * handler chained in front of Node's, on whichever thread took the fault.
   */
  transparentFaults: boolean;
  transparentFaultMechanism: FaultMechanismInUse;
  transparentFaultsMeaning: string;
  /** The zero source every mapping shows holes through (its live VMA count: zeroSourceInfo()). */
  zeroSource: Omit<ZeroSourceInfo, 'vmas'>;
  zeroSourceMeaning: string;
  /** What must happen for a store to be durable in this mode. */
  persistenceMeaning: string;
  granularity: Granularity;
  granularityMeaning: string;
  /** Whether a power loss preserves persisted data (false for emulation in RAM). */
  survivesPowerLoss: boolean;
  /** Why MAP_SYNC was or was not granted. */
  mapSyncMeaning: string;
}

const PERSISTENCE_MEANING: Record<Persistence, string> = {
  'cache-flush':
    'stores are durable once their cache lines are flushed and fenced (persist); no system call on the data path',
  msync:
    'the file is page-cache backed: stores are durable only after msync writes the pages back (persist calls msync)',
  volatile:
    'emulated pmem in RAM (tmpfs): persist flushes and fences as on real pmem, so data survives a process crash, but nothing survives a power loss or reboot',
};

function granularityOf(r: NativeReport): Granularity {
  if (r.persistence === 'msync') return 'page';
  if (r.persistence === 'cache-flush' && r.persistenceDomain === 'cpu_cache') return 'byte';
  return 'cache-line';
}

const GRANULARITY_MEANING: Record<Granularity, string> = {
  byte: 'CPU caches are inside the persistence domain (eADR): a store is durable once fenced',
  'cache-line': 'each cache line must be flushed (and fenced) to be durable',
  page: 'durability is per page, through msync',
};

function mapSyncMeaning(r: NativeReport): string {
  if (r.mapSync) return 'granted: write faults on this mapping are synchronous with block allocation';
  if (r.kind === 'devdax') return 'not needed: device-dax has no file system metadata to synchronise';
  if (r.readOnly) return 'not requested: the region is read-only';
  if (r.mapSyncError === 'ENOTSUP')
    return 'refused (ENOTSUP): the file is not on a DAX file system; fell back to MAP_SHARED';
  if (r.mapSyncError === 'EINVAL') return 'unknown to this kernel (EINVAL): fell back to MAP_SHARED';
  return `refused (${r.mapSyncError ?? 'unknown'}): fell back to MAP_SHARED`;
}

/** Classifies the probe: any page that became resident had memory of its own. */
export function anonymousReadFaultsOf(probe: NativeReport['anonymousReadProbe']): AnonymousReadFaults {
  if (probe.error !== null || probe.bytes === 0) return 'unknown';
  return probe.rssKiB === 0 ? 'zero-page' : 'allocates';
}

function anonymousMeaning(r: NativeReport, kind: AnonymousReadFaults): string {
  const p = r.anonymousReadProbe;
  const measured = `${p.bytes / 2 ** 20} MiB read-only, every page loaded: ${p.rssKiB} KiB resident`;
  if (kind === 'zero-page') return `the kernel maps its shared zero page (${measured})`;
  if (kind === 'allocates') return `the kernel gives each page memory of its own (${measured})`;
  return `not measured (${p.error ?? 'the probe did not run'})`;
}

/** Classifies the probe: the best form this process was granted. */
export function userfaultfdOf(probe: NativeReport['userfaultfdProbe']): Userfaultfd {
  if (probe.syscall.available || probe.device.available) return 'full';
  return probe.userModeOnly.available ? 'user-mode-only' : 'unavailable';
}

function userfaultfdMeaning(r: NativeReport, kind: Userfaultfd): string {
  const p = r.userfaultfdProbe;
  const features = p.features.length > 0 ? `; features: ${p.features.join(', ')}` : '';
  const refusals = [p.syscall, p.userModeOnly, p.device].flatMap((w) => (w.error === null ? [] : [w.error]));
  const refused = refusals.length > 0 ? `; refused: ${refusals.join(', ')}` : '';
  if (kind === 'full') return `granted in full (${p.syscall.available ? 'the system call' : '/dev/userfaultfd'}): faults taken inside system calls are reported too${features}${refused}`;
  if (kind === 'user-mode-only')
    return `granted for faults taken in user mode only: a system call writing into a registered page fails with EFAULT${features}${refused}`;
  return `not granted to this process${refused} (vm.unprivileged_userfaultfd, /dev/userfaultfd's permissions)`;
}

/**
 * How plain accesses to mapping pages are served: 'userfaultfd+signal' — a
 * userfaultfd service thread for pages showing nothing (also when a system
 * call touches them), the SIGSEGV handler for stores on pages shown
 * read-only — where this process has userfaultfd in full form; else
 * 'signal', the SIGSEGV handler alone. DAXFS_FAULTS=signal in the
 * environment asks for the handler alone (for comparison, and tests).
 */
export type FaultMechanismInUse = 'userfaultfd+signal' | 'signal';

export function faultMechanismOf(userfaultfd: Userfaultfd, env: NodeJS.ProcessEnv = process.env): FaultMechanismInUse {
  return userfaultfd === 'full' && env['DAXFS_FAULTS'] !== 'signal' ? 'userfaultfd+signal' : 'signal';
}

const TRANSPARENT_FAULTS_MEANING: Record<FaultMechanismInUse, string> = {
  'userfaultfd+signal':
    'served by a userfaultfd thread (pages showing nothing, also when a system call such as fs.readSync into a mapping ' +
    'touches them) and a SIGSEGV handler (stores on pages shown read-only), for JavaScript and native code on any ' +
    'thread of this process; past EOF is SIGBUS, a store into a read-only mapping SIGSEGV. A system call storing ' +
    'into a page shown read-only (zeros, or a block only loaded so far) fails with EFAULT',
  signal:
    'served by a SIGSEGV handler: plain loads and stores on any page inside EOF, by JavaScript or native code on any ' +
    'thread of this process; past EOF is SIGBUS, a store into a read-only mapping SIGSEGV. A system call given ' +
    'pages not faulted in yet (fs.readSync into a mapping, fs.writeSync from one) fails with EFAULT: populate them first',
};

function zeroSourceMeaning(z: ZeroSourceInfo): string {
  if (z.kind !== 'memfd') return `unavailable (${z.error ?? 'unknown error'}): mapping a hole fails`;
  const limit = z.vmaLimit === null ? 'no limit but the kernel\'s' : `at most ${z.vmaLimit}`;
  return (
    `a ${z.bytes / 2 ** 20} MiB memfd of zeros${z.sealed ? ', sealed against writes' : ''}, mapped read-only wherever a hole ` +
    `is shown: no memory per hole, whatever the kernel does; a VMA per run of zeros (shown or torn down) ` +
    `in each 2 MiB window, ${limit} (vm.max_map_count ${z.maxMapCount || 'unknown'})`
  );
}

export function describeCapabilities(r: NativeReport): CapabilityReport {
  const granularity = granularityOf(r);
  const anonymousReadFaults = anonymousReadFaultsOf(r.anonymousReadProbe);
  const userfaultfd = userfaultfdOf(r.userfaultfdProbe);
  const { vmas: _live, ...zeroSource } = r.zeroSource;
  return {
    ...r,
    anonymousReadFaults,
    anonymousReadFaultsMeaning: anonymousMeaning(r, anonymousReadFaults),
    userfaultfd,
    userfaultfdMeaning: userfaultfdMeaning(r, userfaultfd),
    transparentFaults: true,
    transparentFaultMechanism: faultMechanismOf(userfaultfd),
    transparentFaultsMeaning: TRANSPARENT_FAULTS_MEANING[faultMechanismOf(userfaultfd)],
    zeroSource,
    zeroSourceMeaning: zeroSourceMeaning(r.zeroSource),
    persistenceMeaning: PERSISTENCE_MEANING[r.persistence],
    granularity,
    granularityMeaning: GRANULARITY_MEANING[granularity],
    survivesPowerLoss: r.persistence !== 'volatile',
    mapSyncMeaning: mapSyncMeaning(r),
  };
}

/** Human-readable lines of a report, for the CLI and the README. */
export function formatCapabilities(c: CapabilityReport): string[] {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(n % 2 ** 20 === 0 ? 0 : 2)} MiB`;
  const cpu = Object.entries(c.cpu)
    .filter(([, has]) => has)
    .map(([name]) => name)
    .join(', ');
  return [
    `path               ${c.path}`,
    `kind               ${c.kind}${c.readOnly ? ' (read-only)' : ''}`,
    `size               ${mib(c.size)} (${c.size} bytes), alignment ${c.align}`,
    `MAP_SYNC           ${c.mapSyncMeaning}`,
    `persistence        ${c.persistence}: ${c.persistenceMeaning}`,
    `granularity        ${c.granularity}: ${c.granularityMeaning}`,
    `persistence domain ${c.persistenceDomain || 'not published by this platform (no NVDIMM regions in sysfs)'}`,
    `flush instruction  ${c.flush}${c.flushNeeded ? '' : ' (not needed)'}${c.flushNote ? ` — ${c.flushNote}` : ''}`,
    `CPU offers         ${cpu || 'no cache-flush instruction'}`,
    `non-temporal copy  at ${c.ntThreshold} bytes and above`,
    `anonymous reads    ${c.anonymousReadFaults}: ${c.anonymousReadFaultsMeaning}`,
    `userfaultfd        ${c.userfaultfd}: ${c.userfaultfdMeaning}`,
    `transparent faults ${c.transparentFaults ? 'yes' : 'no'}: ${c.transparentFaultsMeaning}`,
    `zero source        ${c.zeroSource.kind}: ${c.zeroSourceMeaning}`,
  ];
}
