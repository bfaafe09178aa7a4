// Type-checked by test/build/package.test.ts in a project that installed the
// packed tarball: `require` resolves to the CommonJS declarations.
import daxfs = require('daxfs');
import { Pool, Region, isDaxfsError, type DaxfsError } from 'daxfs';

const region: Region = Region.create('/dev/shm/typed-region', 1 << 20);
const stored: number = region.write(0, new Uint8Array(8));
region.close();

const pool: Pool = daxfs.Pool.format('/dev/shm/typed-pool', { size: 8 << 20 });
const file = pool.open('name', { create: true });
const n: number = file.write(Buffer.from('typed'), 0);
file.close();
pool.close();

function code(e: unknown): string | undefined {
  return isDaxfsError(e) ? (e satisfies DaxfsError).code : undefined;
}
// the declarations are real ones: a wrong argument is an error
// @ts-expect-error size must be a number
Pool.format('/dev/shm/typed-pool', { size: '8M' });

export { code, n, stored };
