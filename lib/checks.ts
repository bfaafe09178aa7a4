// Argument checks shared by the pool's files and the mappings: the same
// rules and the same messages wherever a caller passes an index or a buffer.
import { daxfsError } from './errors.js';

/** A non-negative safe integer, or EINVAL naming `name`. */
export function checkIndex(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw daxfsError('EINVAL', `${name} must be a non-negative integer, got ${String(value)}`);
  return value;
}

/**
 * Checks `buffer` and the range [offset, offset + length) in it (length
 * defaulting to the rest of the buffer) and returns the length; `check`
 * judges the two numbers (the pool's also refuses sizes past the largest
 * file). No tuple: this runs on every read and write.
 */
export function checkBufferRange(
  buffer: unknown,
  offset: unknown,
  length: unknown,
  name: string,
  check: (value: unknown, name: string) => number = checkIndex,
): number {
  if (!(buffer instanceof Uint8Array)) throw daxfsError('EINVAL', `${name} must be a Buffer or Uint8Array`);
  const off = check(offset, `${name}Offset`);
  const len = check(length === undefined ? buffer.length - off : length, 'length');
  if (off + len > buffer.length)
    throw daxfsError('ERANGE', `${name}Offset ${off} + length ${len} is past the end of the ${name} (${buffer.length} bytes)`);
  return len;
}
