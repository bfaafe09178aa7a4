export { Pool } from './pool.js';
export { PoolFile } from './file.js';
export type { BlockMapping, FileStat, FormatOptions, OpenFileOptions, PoolInfo, PoolOpenOptions } from './types.js';
export type { CheckReport, Problem, ProblemKind } from './check.js';
export { BLOCK, MAX_FILE_SIZE } from './layout.js';
export { NAME_MAX } from './inode.js';
export { FileMapping, type MapOptions } from '../map/mapping.js';
export type { FaultStats } from '../map/page-table.js';
