export { Region, type CreateOptions, type OpenOptions } from './region.js';
export { Bitmap, type FreeRun } from './bitmap.js';
export { MmuMapping, PageState, setZeroSourceLimit, zeroSourceInfo, ZERO_SOURCE_SHARE, type PageStateValue } from './mmu.js';
export {
  anonymousReadFaultsOf,
  describeCapabilities,
  formatCapabilities,
  type AnonymousReadFaults,
  type CapabilityReport,
  type Granularity,
  type Persistence,
} from './capabilities.js';
export {
  DaxfsError,
  DAXFS_CODES,
  isDaxfsError,
  type DaxfsCode,
  type DaxfsErrorCode,
  type SystemErrorCode,
  type SystemErrorDetails,
} from './errors.js';
export { addonPath, maxArrayBufferLength, type RegionStats, type MmuStats, type KernelVma, type ZeroSourceInfo, type AnonymousReadProbe, type ServedFaults } from './native.js';
export { emulatedPmemDir, emulatedPmemPath } from './emulated.js';
export * from './pool/index.js';
