export { Region, type OpenOptions } from './region.js';
export { Bitmap, type FreeRun } from './bitmap.js';
export { MmuMapping, PageState, type PageStateValue } from './mmu.js';
export {
  describeCapabilities,
  formatCapabilities,
  type CapabilityReport,
  type Granularity,
  type Persistence,
} from './capabilities.js';
export { isDaxfsError, type DaxfsError } from './errors.js';
export { addonPath, maxArrayBufferLength, type RegionStats, type MmuStats, type KernelVma } from './native.js';
export { emulatedPmemDir, emulatedPmemPath } from './emulated.js';
export * from './pool/index.js';
