// Every error daxfs throws is an Error with a string `code`: an errno-style
// name (EINVAL, ERANGE, EBADF, EROFS, EFAULT, ENOTSUP, ENOENT, ...).

export interface DaxfsError extends Error {
  code: string;
  syscall?: string;
  path?: string;
  errno?: number;
}

/** True when `e` is an Error carrying a string `code`. */
export function isDaxfsError(e: unknown): e is DaxfsError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

/** An Error with `code`, for checks made on the TypeScript side. */
export function daxfsError(code: string, message: string): DaxfsError {
  const error = new Error(message) as DaxfsError;
  error.code = code;
  return error;
}
