// The command line as bytes. Node hands arguments over as strings decoded
// from UTF-8, with U+FFFD in place of invalid bytes: a name given as "\xff"
// and one given as "\xfe" would both arrive as "\ufffd" and name the same
// file. The kernel's copy of the arguments (/proc/self/cmdline) tells them
// apart, so such an argument is refused rather than used in its replaced form.
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';

import { daxfsError } from '../errors.js';

/** The last `count` arguments of this process's command line as bytes; undefined when unknown. */
export function rawArguments(count: number): Buffer[] | undefined {
  let all: Buffer;
  try {
    all = readFileSync('/proc/self/cmdline');
  } catch {
    return undefined;
  }
  const parts: Buffer[] = [];
  for (let at = 0; at < all.length; ) {
    const end = all.indexOf(0, at);
    const stop = end < 0 ? all.length : end;
    parts.push(all.subarray(at, stop));
    at = stop + 1;
  }
  return parts.length >= count ? parts.slice(parts.length - count) : undefined;
}

/** The offset of the first byte of `bytes` that does not start a valid UTF-8 sequence. */
function firstInvalid(bytes: Buffer): number {
  for (let at = 0; at < bytes.length; ) {
    const lead = bytes[at]!;
    const n = lead < 0x80 ? 1 : lead >> 5 === 0b110 ? 2 : lead >> 4 === 0b1110 ? 3 : lead >> 3 === 0b11110 ? 4 : 0;
    if (n === 0 || !isUtf8(bytes.subarray(at, at + n)) || at + n > bytes.length) return at;
    at += n;
  }
  return -1;
}

/**
 * Refuses (EINVAL) the first argument that is not valid UTF-8. `raw` are the
 * same arguments as bytes; when they do not line up with `argv` (the valid
 * ones differ), nothing can be judged and nothing is refused.
 */
export function checkArgumentBytes(argv: readonly string[], raw: readonly Buffer[] | undefined): void {
  if (!raw || raw.length !== argv.length) return;
  if (raw.some((bytes, i) => isUtf8(bytes) && bytes.toString('utf8') !== argv[i])) return;
  raw.forEach((bytes, i) => {
    if (isUtf8(bytes)) return;
    const at = firstInvalid(bytes);
    throw daxfsError(
      'EINVAL',
      `argument ${i + 1} is not valid UTF-8 (byte 0x${bytes[at]!.toString(16).padStart(2, '0')} at offset ${at}): names and paths must be UTF-8, or they would reach daxfs with U+FFFD in place of that byte and name something else`,
    );
  });
}
