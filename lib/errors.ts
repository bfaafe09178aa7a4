// Every error daxfs throws is a DaxfsError: TypeScript makes them with
// daxfsError(), native code with the same class (handed to the addon when it
// loads, lib/native.ts). docs/errors.md explains each code.

/** The codes daxfs decides on itself, each for one condition (docs/errors.md). */
export const DAXFS_CODES = [
  'EACCES',
  'EBADF',
  'EBUSY',
  'EEXIST',
  'EFAULT',
  'EFBIG',
  'EINVAL',
  'EIO',
  'EISDIR',
  'ENODEV',
  'ENOENT',
  'ENOMEM',
  'ENOSPC',
  'ENOTSUP',
  'ERANGE',
  'EROFS',
  'EUCLEAN',
  'EUSAGE',
  'SIGBUS',
] as const;

/** A code daxfs decides on itself (see DAXFS_CODES). */
export type DaxfsCode = (typeof DAXFS_CODES)[number];

/**
 * The errno name of a failed system call, as Node prints it
 * (`util.getSystemErrorName`): 'ENOENT', 'EACCES', 'ETXTBSY', 'EDQUOT', ….
 * Such an error also carries `errno`, `syscall` and, where one is involved,
 * `path`. Any errno the kernel returns can appear, so the family is open.
 */
export type SystemErrorCode = `E${Uppercase<string>}`;

/** The `code` of a DaxfsError. */
export type DaxfsErrorCode = DaxfsCode | SystemErrorCode;

/** What a failed system call adds to its error. */
export interface SystemErrorDetails {
  /** The negated errno value, as on Node's own system errors. */
  errno?: number;
  syscall?: string;
  path?: string;
}

// A brand shared by every copy of this module in the process (the ESM and the
// CommonJS build may both be loaded, and the addon makes its errors with the
// class of whichever copy loaded last): instanceof and isDaxfsError test the
// brand, so both hold across the copies.
const BRAND = Symbol.for('daxfs.DaxfsError');

export class DaxfsError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    // subclasses keep the ordinary prototype-chain test
    if (this !== DaxfsError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  readonly code: DaxfsErrorCode;
  declare readonly errno?: number;
  declare readonly syscall?: string;
  declare readonly path?: string;

  constructor(code: DaxfsErrorCode, message: string, details?: SystemErrorDetails) {
    super(message);
    this.name = 'DaxfsError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
    // Set only when present, as Node does: no `errno: undefined` keys.
    if (details?.errno !== undefined) Object.defineProperty(this, 'errno', { value: details.errno, enumerable: true });
    if (details?.syscall !== undefined) Object.defineProperty(this, 'syscall', { value: details.syscall, enumerable: true });
    if (details?.path !== undefined) Object.defineProperty(this, 'path', { value: details.path, enumerable: true });
  }
}

/** True when `e` was thrown by daxfs (and not, say, by node:fs). */
export function isDaxfsError(e: unknown): e is DaxfsError {
  return e instanceof DaxfsError;
}

/** A DaxfsError for a check made on the TypeScript side. */
export function daxfsError(code: DaxfsCode, message: string): DaxfsError {
  return new DaxfsError(code, message);
}
