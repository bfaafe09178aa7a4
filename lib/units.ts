// Human-readable sizes in and out.
import { daxfsError } from './errors.js';

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** "4096", "256M", "1GiB", "2t" → bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!match) throw daxfsError('EINVAL', `not a size: '${text}' (examples: 4096, 256M, 1GiB)`);
  const bytes = Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) throw daxfsError('EINVAL', `not a whole number of bytes: '${text}'`);
  return bytes;
}

/** Bytes → "1.50 GiB" (binary units, 3 significant digits). */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} B` : `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}
