// A plain load or store through a mapping's buffer is served by the fault
// service (native/fault_service.h) on every page inside EOF; what it cannot
// serve ends the process as the kernel would — SIGBUS on a page wholly past
// EOF, SIGSEGV for a store into a read-only mapping — after one line on
// stderr naming the file, the mapping, the offset and what to do instead.
// Every other SIGSEGV goes on to whoever handled it before: WebAssembly's
// bounds traps still throw, a SIGSEGV sent with kill() still kills without
// a daxfs line.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/native.js';
import { tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
const lib = path.join(packageRoot, 'dist/lib/index.js');

/** Runs `body` with `pool`, file `f` ("data file", 1 MiB) in a child; its end. */
function child(body: string): { signal: NodeJS.Signals | null; status: number | null; stderr: string; stdout: string } {
  const script = `
    import(${JSON.stringify(lib)}).then(({ Pool }) => {
      const pool = Pool.format(${JSON.stringify(uniquePath(shm, 'pool'))}, { size: 16 << 20 });
      const f = pool.open('data file', { create: true });
      f.truncate(1 << 20);
      ${body}
    });`;
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  return { signal: out.signal, status: out.status, stderr: out.stderr, stdout: out.stdout };
}

describe('the line before a bad access ends the process', () => {
  it('plain loads and stores on pages never faulted in, showing zeros, or torn down are served: the child runs to its end', () => {
    const out = child(`
      f.write(Buffer.alloc(8192, 1), 0);
      const m = f.map({ length: 1 << 20, write: true });
      const u8 = new Uint8Array(m.buffer);
      const a = u8[3 * 4096 + 5];           // a hole, never faulted
      const b = u8[4096];                   // a written block
      u8[7 * 4096] = 9;                     // a store into a hole
      const v = m.view(9 * 4096, 4096);     // zeros, read-only...
      u8[9 * 4096 + 1] = 8;                 // ...then a store
      const stored = [u8[7 * 4096], v[1]];
      f.truncate(0);
      f.truncate(1 << 20);
      const c = u8[4096];                   // torn down, inside EOF again: a hole now
      console.log([a, b, ...stored, c, u8[7 * 4096]].join(','));`);
    expect(out.stderr).toBe('');
    expect(out.signal).toBeNull();
    expect(out.stdout).toBe('0,1,9,8,0,0\n');
  });

  it('a store into a read-only mapping: SIGSEGV, the line says a store and what to do', () => {
    const out = child(`
      const m = f.map({ offset: 4096, length: 8192 });
      console.log(new Uint8Array(m.buffer)[100]);
      new Uint8Array(m.buffer)[100] = 1;`);
    expect(out.signal).toBe('SIGSEGV');
    expect(out.stdout).toBe('0\n');
    expect(out.stderr).toMatch(/^daxfs: SIGSEGV: a store at offset 100 of a mapping \(file "data file" \(inode \d+\), shared read-only, from file offset 4096\) of '[^']+': the mapping does not allow stores .*write: true.*\n/);
  });

  it('a load wholly past EOF: SIGBUS, as the kernel raises, after a line saying so', () => {
    const out = child(`
      f.truncate(4096 + 10);
      const m = f.map({ length: 16384 });
      m.view(0, 4096 + 10);
      console.log(new Uint8Array(m.buffer)[2 * 4096]);`);
    expect(out.signal).toBe('SIGBUS');
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/^daxfs: SIGBUS: a load at offset 8192 of a mapping \(file "data file".*\) of '[^']+': the page lies wholly past the end of the file \(every page from mapping offset 8192 on does\), as the kernel raises SIGBUS; extend the file first \(truncate or write\)\n/);
  });

  it('EOF moves with the file, in every mapping: past a smaller EOF is SIGBUS, inside a larger one a plain load is served', () => {
    const shrunk = child(`
      const a = f.map({ length: 1 << 20 });
      const b = f.map({ offset: 65536, length: 65536, write: true });
      f.truncate(65536 + 4096);
      new Uint8Array(b.buffer)[4096] = 1;`);
    expect(shrunk.signal).toBe('SIGBUS');
    expect(shrunk.stderr).toMatch(/^daxfs: SIGBUS: a store at offset 4096 of a mapping \(file "data file".*from file offset 65536\).*from mapping offset 4096 on/);
    const grown = child(`
      f.truncate(4096);
      const m = f.map({ length: 1 << 20, write: true });
      f.write(Buffer.alloc(10, 1), 8 * 4096);
      console.log(new Uint8Array(m.buffer)[5 * 4096], new Uint8Array(m.buffer)[8 * 4096]);`);
    expect(grown.stderr).toBe('');
    expect(grown.signal).toBeNull();
    expect(grown.stdout).toBe('0 1\n');
    const appended = child(`
      f.truncate(0);
      const w = new Uint8Array(1 << 16).fill(2);
      for (let i = 0; i < 16; i++) f.write(w, i * w.length); // appends (preallocation: no transaction for some)
      const m = f.map({ length: 2 << 20 });
      f.write(new Uint8Array(4096).fill(3), 16 * w.length);
      console.log(new Uint8Array(m.buffer)[16 * w.length + 5], new Uint8Array(m.buffer)[100]);`);
    expect(appended.stderr).toBe('');
    expect(appended.stdout).toBe('3 2\n');
  });

  it('other SIGSEGVs are not daxfs\'s: WebAssembly bounds traps still throw; kill(SIGSEGV) kills without a line', () => {
    const wasm = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 5, 1, 1, 102, 0, 0, 10, 11, 1, 9, 0, 65, 240, 162, 4, 40, 2, 0, 11];
    const trapped = child(`
      const m = f.map({ length: 1 << 20 });
      m.view(0, 4096);
      const i = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(${JSON.stringify(wasm)})));
      try { i.exports.f(); console.log('no trap'); } catch (e) { console.log(e.constructor.name + ': ' + e.message); }`);
    expect(trapped.signal).toBeNull();
    expect(trapped.stdout).toBe('RuntimeError: memory access out of bounds\n');
    expect(trapped.stderr).toBe('');
    const sent = child(`
      f.map({ length: 4096 });
      process.kill(process.pid, 'SIGSEGV');`);
    expect(sent.signal).toBe('SIGSEGV');
    expect(sent.stderr).toBe('');
  });
});
