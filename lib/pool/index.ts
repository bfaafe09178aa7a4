export { Pool, PoolFile, type BlockMapping, type FileStat, type FormatOptions, type OpenFileOptions, type PoolInfo, type PoolOpenOptions } from './pool.js';
export type { CheckReport, Problem, ProblemKind } from './check.js';
export { BLOCK, MAX_FILE_SIZE } from './layout.js';
export { NAME_MAX } from './inode.js';
export { FileMapping, type MapOptions } from '../map/mapping.js';
export type { FaultStats } from '../map/page-table.js';
