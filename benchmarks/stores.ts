// The stores benchmark: daxfs against what a Node program would otherwise
// keep 4 KiB values in — node:fs on the same tmpfs, lmdb, and node:sqlite
// where this Node has it — for a durable put, a get, and a zero-copy get by
// key. All sides live on the same tmpfs, hold the same 16,384 values, take
// the same random keys, and are measured in turns in this run.
import { closeSync, fdatasyncSync, openSync, readFileSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createUnlinkedPmem, emulatedPmemPath } from '../lib/emulated.js';
import { Pool } from '../lib/pool/pool.js';
import { formatNs, randomOrder, timeLoop, turns } from './measure.js';
import { loadSqlite } from './sqlite.js';
import { fasterOrSlower, formatTable } from './table.js';

const MiB = 1 << 20;
const VALUE = 4096;
const KEYS = 16_384; // 64 MiB of values

export type OpId = 'put' | 'get' | 'zero-copy-get';

export const OP_TITLES: Record<OpId, string> = {
  put: 'durable 4 KiB put',
  get: '4 KiB get',
  'zero-copy-get': 'zero-copy 4 KiB get',
};

export interface StoreSide {
  side: string;
  /** What one operation of this side calls. */
  call: string;
  iterations: number;
  /** ns/op of every trial, in the order run. */
  samples: number[];
  min: number;
  median: number;
}

export interface StoreOp {
  id: OpId;
  title: string;
  sides: StoreSide[];
}

export interface StoresResult {
  node: string;
  keys: number;
  valueBytes: number;
  trials: number;
  /** Versions of the other stores, as loaded. */
  versions: Record<string, string>;
  skipped: { side: string; reason: string }[];
  ops: StoreOp[];
}

interface Op {
  call: string;
  run: (key: number) => void;
  /** Runs once before the op is measured (outside the timing). */
  before?: () => void;
}

interface Contender {
  side: string;
  ops: Partial<Record<OpId, Op>>;
  /** The byte at offset 0 of `key`'s value, read back through the side's get. */
  firstByte: (key: number) => number;
  close: () => void;
}

let sink = 0;
const value = (key: number) => Buffer.alloc(VALUE, key & 0xff);

function daxfs(): Contender {
  const backing = createUnlinkedPmem('bench-stores', 256 * MiB);
  // zeroAll: every page of the emulated pmem exists, as on real pmem
  const pool = Pool.format(backing.path, { size: 256 * MiB, zeroAll: true });
  const f = pool.open('values', { create: true });
  for (let k = 0; k < KEYS; k++) f.write(value(k), k * VALUE);
  const buf = value(7);
  const out = Buffer.alloc(VALUE);
  let mapping: ReturnType<typeof f.map> | null = null;
  return {
    side: 'daxfs',
    ops: {
      put: { call: 'file.write(value, key × 4096): durable on return', run: (k) => f.write(buf, k * VALUE) },
      get: {
        call: 'file.read(buffer, key × 4096) into a reused buffer',
        run: (k) => {
          f.read(out, k * VALUE);
          sink ^= out[0]!;
        },
      },
      'zero-copy-get': {
        call: 'mapping.view(key × 4096, 4096) of the file mapped once',
        before: () => {
          mapping = f.map({ length: KEYS * VALUE });
          mapping.populate();
        },
        run: (k) => {
          sink ^= mapping!.view(k * VALUE, VALUE)[0]!;
        },
      },
    },
    firstByte: (k) => {
      f.read(out, k * VALUE);
      return out[0]!;
    },
    close: () => {
      mapping?.unmap();
      f.close();
      pool.close();
      backing.close();
    },
  };
}

function nodeFs(): Contender {
  const name = emulatedPmemPath('bench-stores-fs');
  const fd = openSync(name, 'wx+', 0o600);
  unlinkSync(name); // the descriptor keeps it: nothing is left if the run is killed
  for (let k = 0; k < KEYS; k++) writeSync(fd, value(k), 0, VALUE, k * VALUE);
  const buf = value(7);
  const out = Buffer.alloc(VALUE);
  return {
    side: 'node:fs',
    ops: {
      put: {
        call: 'fs.writeSync + fs.fdatasyncSync',
        run: (k) => {
          writeSync(fd, buf, 0, VALUE, k * VALUE);
          fdatasyncSync(fd);
        },
      },
      get: {
        call: 'fs.readSync into a reused buffer',
        run: (k) => {
          readSync(fd, out, 0, VALUE, k * VALUE);
          sink ^= out[0]!;
        },
      },
    },
    firstByte: (k) => {
      readSync(fd, out, 0, VALUE, k * VALUE);
      return out[0]!;
    },
    close: () => closeSync(fd),
  };
}

function packageVersion(name: string): string {
  let dir = path.dirname(createRequire(import.meta.url).resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch {
      // no package.json at this level
    }
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

async function lmdb(versions: Record<string, string>): Promise<Contender | string> {
  let open: typeof import('lmdb').open;
  try {
    ({ open } = await import('lmdb'));
  } catch (e) {
    return `lmdb did not load (a devDependency of this repository: npm install): ${e instanceof Error ? e.message : String(e)}`;
  }
  versions.lmdb = packageVersion('lmdb');
  const dir = emulatedPmemPath('bench-stores-lmdb');
  // overlappingSync: false makes each putSync's commit durable before it
  // returns (fdatasync of the data file, then the meta page through an
  // O_DSYNC descriptor); with the default (true) the flush would trail it.
  const db = open<Buffer, number>({ path: dir, encoding: 'binary', compression: false, overlappingSync: false, mapSize: 1024 * MiB });
  // LMDB keeps its descriptors and mapping: the names can go at once.
  rmSync(dir, { recursive: true, force: true });
  db.transactionSync(() => {
    for (let k = 0; k < KEYS; k++) db.putSync(k, value(k));
  });
  const buf = value(7);
  return {
    side: 'lmdb',
    ops: {
      put: { call: 'db.putSync(key, value), overlappingSync: false', run: (k) => db.putSync(k, buf) },
      get: {
        call: 'db.get(key): a new Buffer each call',
        run: (k) => {
          sink ^= db.get(k)![0]!;
        },
      },
      'zero-copy-get': {
        call: 'db.getBinaryFast(key): copied into one reused buffer',
        run: (k) => {
          sink ^= db.getBinaryFast(k)![0]!;
        },
      },
    },
    firstByte: (k) => db.get(k)![0]!,
    close: () => db.close(),
  };
}

async function sqlite(versions: Record<string, string>): Promise<Contender | string> {
  const loaded = await loadSqlite();
  if ('reason' in loaded) return loaded.reason;
  // SQLite refuses writes once its file is unlinked: this side keeps its
  // names until close (and a killed run leaves them).
  const file = `${emulatedPmemPath('bench-stores-sqlite')}.db`;
  const db = new loaded.sqlite.DatabaseSync(file);
  versions['node:sqlite'] = `SQLite ${String(db.prepare('SELECT sqlite_version() AS v').get()!.v)}`;
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE kv (k INTEGER PRIMARY KEY, v BLOB NOT NULL)');
  const put = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
  const get = db.prepare('SELECT v FROM kv WHERE k = ?');
  db.exec('BEGIN');
  for (let k = 0; k < KEYS; k++) put.run(k, value(k));
  db.exec('COMMIT');
  const buf = value(7);
  const read = (k: number) => get.get(k)!.v as Uint8Array;
  return {
    side: 'node:sqlite',
    ops: {
      put: { call: 'INSERT OR REPLACE, WAL, synchronous = FULL', run: (k) => put.run(k, buf) },
      get: {
        call: 'SELECT v WHERE k = ?: a new Uint8Array each call',
        run: (k) => {
          sink ^= read(k)[0]!;
        },
      },
    },
    firstByte: (k) => read(k)[0]!,
    close: () => {
      db.close();
      for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
    },
  };
}

/**
 * Iterations for one trial of about `targetNs`: batches double until one
 * takes 2 ms (by then the JIT has compiled the path); the fastest of three
 * more batches of that size sets the count (one slow batch on a busy
 * machine would otherwise shrink every trial of the side).
 */
function calibrate(run: (i: number) => void, targetNs: number): number {
  let n = 16;
  while (timeLoop(n, run) * n < 2e6 && n < 1 << 20) n *= 2;
  const ns = Math.min(timeLoop(n, run), timeLoop(n, run), timeLoop(n, run));
  return Math.max(64, Math.min(200_000, Math.round(targetNs / Math.max(ns, 1))));
}

export async function runStoresBenchmark(quick = false): Promise<StoresResult> {
  const trials = quick ? 5 : 21;
  const targetNs = (quick ? 4 : 25) * 1e6;
  const versions: Record<string, string> = {};
  const skipped: { side: string; reason: string }[] = [];
  const contenders: Contender[] = [];
  try {
    contenders.push(daxfs(), nodeFs());
    for (const [side, make] of [['lmdb', lmdb], ['node:sqlite', sqlite]] as const) {
      const c = await make(versions);
      if (typeof c === 'string') skipped.push({ side, reason: c });
      else contenders.push(c);
    }
    // Every side holds the same values before anything is timed.
    for (const c of contenders) {
      for (const k of [0, 123, KEYS - 1]) {
        if (c.firstByte(k) !== (k & 0xff)) throw new Error(`${c.side}: the value of key ${k} does not read back`);
      }
    }
    const order = randomOrder(1 << 16, KEYS);
    const mask = order.length - 1;
    const ops: StoreOp[] = [];
    for (const id of ['put', 'get', 'zero-copy-get'] as const) {
      const taking = contenders.filter((c) => c.ops[id]);
      const loops = taking.map((c) => {
        const op = c.ops[id]!;
        op.before?.();
        const run = (i: number) => op.run(order[i & mask]!);
        const iterations = calibrate(run, targetNs);
        return { c, op, iterations, trial: () => timeLoop(iterations, run) };
      });
      const measured = turns(trials, loops.map((l) => l.trial));
      ops.push({
        id,
        title: OP_TITLES[id],
        sides: loops.map((l, k) => ({ side: l.c.side, call: l.op.call, iterations: l.iterations, ...measured[k]! })),
      });
    }
    if (sink === 0.5) console.log(sink);
    return { node: process.version, keys: KEYS, valueBytes: VALUE, trials, versions, skipped, ops };
  } finally {
    for (const c of contenders) c.close();
  }
}

/** "daxfs 5.20× faster" from the other side's figure over daxfs's. */
export function againstDaxfs(op: StoreOp, side: StoreSide, key: 'min' | 'median'): string {
  const ours = op.sides.find((s) => s.side === 'daxfs');
  if (!ours || side === ours) return '';
  return `daxfs ${fasterOrSlower(side[key] / ours[key])}`;
}

export function storeSideLabel(result: StoresResult, side: string): string {
  const v = result.versions[side];
  return v ? `${side} (${v})` : side;
}

/** The headers of one operation's table, printed and in the report. */
export const STORE_HEADERS = ['side', 'call', 'ops per trial', 'min', 'median', 'daxfs against it (medians)', '(mins)'];

/** One row per side of `op`, under STORE_HEADERS. */
export function storeRows(result: StoresResult, op: StoreOp): string[][] {
  return op.sides.map((s) => [
    storeSideLabel(result, s.side),
    s.call,
    String(s.iterations),
    formatNs(s.min),
    formatNs(s.median),
    againstDaxfs(op, s, 'median'),
    againstDaxfs(op, s, 'min'),
  ]);
}

export function formatStores(result: StoresResult): string {
  const out: string[] = [];
  for (const op of result.ops) {
    out.push(`${op.title}, random keys over ${result.keys} values of ${result.valueBytes} bytes: ${result.trials} trials per side, in turns\n`);
    out.push(formatTable(STORE_HEADERS, storeRows(result, op)));
    out.push('');
  }
  for (const s of result.skipped) out.push(`${s.side} skipped: ${s.reason}`);
  return out.join('\n').trimEnd();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await runStoresBenchmark(process.argv.includes('--quick'));
  if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
  else console.log(formatStores(result));
}
