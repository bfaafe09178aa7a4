// The queue asynchronous copies run through: small copies are left to the
// event loop's own thread, which takes them only when it would otherwise
// wait. What that must never cost: a timer, an immediate or an I/O callback
// starved by a stream of copies; a synchronous wait for a copy's pin that
// never ends because the copy was left to the waiting thread; a copy of
// any size or order landing wrong; an environment (a worker) that cannot
// end, or takes the process with it, while copies are queued.
import { readFile } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import { Pool, Region } from '../../lib/index.js';
import { packageRoot } from '../../lib/native.js';
import { pattern, tmpfsDir, uniquePath } from '../helpers.js';

const shm = tmpfsDir();
const KiB = 1024;
const MiB = 1 << 20;

/** More copies than a chain may take before the callback it waits for runs (~0.1–0.5 s of them). */
const LIMIT = 100_000;

/**
 * Keeps one small writeAsync in flight at a time, each queued by the last
 * one's reaction (the pattern the loop thread takes in a single turn),
 * until `stop()` says so, or LIMIT copies (a starved loop: the test fails
 * instead of hanging); resolves with the number of copies done.
 */
async function chain(r: Region, stop: () => boolean): Promise<number> {
  const block = pattern(4 * KiB, 5);
  let n = 0;
  while (!stop() && n < LIMIT) {
    await r.writeAsync((n % 64) * 4 * KiB, block);
    n++;
  }
  return n;
}

describe('the copy queue and the event loop', () => {
  it('a chain of small copies leaves timers their turn', async () => {
    const r = Region.create(uniquePath(shm), MiB);
    let fired = false;
    setTimeout(() => (fired = true), 2);
    const n = await chain(r, () => fired);
    expect(n).toBeLessThan(LIMIT);
    expect(n).toBeGreaterThan(0);
    r.close();
  });

  it('a chain of small copies leaves immediates their turn', async () => {
    const r = Region.create(uniquePath(shm), MiB);
    let ran = false;
    setImmediate(() => (ran = true));
    expect(await chain(r, () => ran)).toBeLessThan(LIMIT);
    r.close();
  });

  it('a chain of small copies leaves I/O callbacks their turn', async () => {
    const r = Region.create(uniquePath(shm), MiB);
    const p = uniquePath(shm, 'file');
    Region.create(p, 64 * KiB).close();
    let read: Buffer | undefined;
    readFile(p, (err, data) => {
      if (err) throw err;
      read = data;
    });
    expect(await chain(r, () => read !== undefined)).toBeLessThan(LIMIT);
    expect(read!.length).toBe(64 * KiB);
    r.close();
  });

  it('small copies complete while the loop never waits (an immediate every turn): the threads take them', async () => {
    const r = Region.create(uniquePath(shm), MiB);
    let spinning = true;
    let turns = 0;
    const spin = () => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    try {
      const data = pattern(64 * KiB, 6);
      const copies = [0, 1, 2, 3].map((k) => r.writeAsync(k * 64 * KiB, data));
      expect(await Promise.all(copies)).toEqual([64 * KiB, 64 * KiB, 64 * KiB, 64 * KiB]);
      expect(r.view(3 * 64 * KiB, 64 * KiB).equals(data)).toBe(true);
      expect(turns).toBeGreaterThan(0);
    } finally {
      spinning = false;
    }
    r.close();
  });

  it('copies of every size, many in flight and interleaved with reads, land exactly', async () => {
    const r = Region.create(uniquePath(shm), 16 * MiB);
    const sizes = [4 * KiB, MiB, MiB + 1, 3 * MiB, 1, 0, 64 * KiB, MiB - 1];
    const writes: Promise<number>[] = [];
    const expected = Buffer.alloc(16 * MiB);
    let at = 0;
    sizes.forEach((size, k) => {
      const data = pattern(size, 20 + k);
      writes.push(r.writeAsync(at, data));
      data.copy(expected, at);
      at += size + 4097;
    });
    expect(await Promise.all(writes)).toEqual(sizes);
    // reads of the same ranges, all in flight at once, then the whole region
    const backs = sizes.map((size) => Buffer.alloc(size));
    at = 0;
    const reads = sizes.map((size, k) => {
      const p = r.readAsync(at, backs[k]!);
      at += size + 4097;
      return p;
    });
    expect(await Promise.all(reads)).toEqual(sizes);
    at = 0;
    sizes.forEach((size, k) => {
      expect(backs[k]!.equals(expected.subarray(at, at + size))).toBe(true);
      at += size + 4097;
    });
    const all = Buffer.alloc(16 * MiB);
    await r.readAsync(0, all);
    expect(all.equals(expected)).toBe(true);
    r.close();
  });
});

describe('waiting for a copy that is still queued', () => {
  it('waitIdle over a range a queued copy reads returns once that copy ran, in the same turn', async () => {
    const r = Region.create(uniquePath(shm), MiB);
    const data = pattern(64 * KiB, 9);
    r.write(0, data);
    const back = Buffer.alloc(64 * KiB);
    const copy = r.readAsync(0, back);
    // The loop thread has not had a turn: the copy is queued, and this
    // thread is the one it was left to.
    r.waitIdle(0, 64 * KiB);
    expect(back.equals(data)).toBe(true);
    expect(await copy).toBe(64 * KiB);
    r.close();
  });

  it('a truncate after a readAsync in the same turn waits for its copy, then frees the blocks', async () => {
    const pool = Pool.format(uniquePath(shm, 'pool'), { size: 16 * MiB });
    const f = pool.open('f', { create: true });
    const data = pattern(256 * KiB, 4);
    f.write(data, 0);
    const back = Buffer.alloc(256 * KiB);
    const read = f.readAsync(back, 0);
    f.truncate(0);
    expect(await read).toBe(256 * KiB);
    expect(back.equals(data)).toBe(true);
    expect(f.stat().size).toBe(0);
    expect(pool.check().ok).toBe(true);
    f.close();
    pool.close();
  });

  it('closing a region whose view a queued copy reads from waits for that copy', async () => {
    const source = Region.create(uniquePath(shm), MiB);
    const target = Region.create(uniquePath(shm), MiB);
    const data = pattern(128 * KiB, 8);
    source.write(0, data);
    const copy = target.writeAsync(0, source.view(0, 128 * KiB));
    source.close();
    expect(await copy).toBe(128 * KiB);
    expect(target.view(0, 128 * KiB).equals(data)).toBe(true);
    target.close();
  });
});

describe('copies in a worker thread', () => {
  const lib = path.join(packageRoot, 'dist/lib/index.js');
  const body = (script: string) => `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(lib)}).then(async ({ Region }) => { ${script} })
      .catch((e) => { parentPort.postMessage({ error: String(e && e.stack || e) }); });`;

  function run(script: string, workerData: unknown): { worker: Worker; messages: unknown[]; exit: Promise<number> } {
    const worker = new Worker(body(script), { eval: true, workerData });
    const messages: unknown[] = [];
    worker.on('message', (m) => messages.push(m));
    const exit = new Promise<number>((resolve, reject) => {
      worker.on('exit', resolve);
      worker.on('error', reject);
    });
    return { worker, messages, exit };
  }

  it('a worker copies on its own loop, and its process-free loop lets it end by itself', async () => {
    const p = uniquePath(shm);
    Region.create(p, 4 * MiB).close();
    const w = run(
      `const r = Region.open(workerData.path);
       const data = Buffer.alloc(256 * 1024, 7);
       for (let k = 0; k < 16; k++) await Promise.all([r.writeAsync(k * 256 * 1024, data), r.readAsync(0, Buffer.alloc(4096))]);
       r.close();
       parentPort.postMessage({ done: true });`,
      { path: p },
    );
    // ends without terminate(): nothing the queue made keeps its loop alive
    expect(await w.exit).toBe(0);
    expect(w.messages).toEqual([{ done: true }]);
    const r = Region.open(p);
    expect(r.view(0, 4 * MiB).every((b) => b === 7)).toBe(true);
    r.close();
  });

  it('terminating a worker with copies queued and running leaves this process and the region sound', async () => {
    const p = uniquePath(shm);
    Region.create(p, 64 * MiB).close();
    const w = run(
      `const r = Region.open(workerData.path);
       const small = Buffer.alloc(64 * 1024, 3);
       const big = Buffer.alloc(8 * 1024 * 1024, 4);
       parentPort.postMessage({ started: true });
       for (;;) {
         const all = [];
         for (let k = 0; k < 8; k++) all.push(r.writeAsync(k * 64 * 1024, small), r.writeAsync(8 * 1024 * 1024 * (1 + (k % 7)), big));
         await Promise.all(all);
       }`,
      { path: p },
    );
    while (w.messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await w.worker.terminate();
    await w.exit;
    // This process goes on: its own copies, and a wait over the same file's pages.
    const r = Region.open(p);
    await r.writeAsync(0, Buffer.alloc(64 * 1024, 9));
    r.waitIdle(0, 64 * MiB);
    expect(r.view(0, 64 * 1024).every((b) => b === 9)).toBe(true);
    r.close();
  });
});
