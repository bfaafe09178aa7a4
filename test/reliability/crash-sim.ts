// The crash-state simulator. A workload runs on a pool whose region records
// every store the engine makes (with its bytes), every flush and every fence
// (Region.traceStart). From the trace this builds the images a power failure
// could leave: at every fence, everything flushed and fenced before it is on
// media, and any subset of the stores not yet fenced may be too — in 8-byte
// units, the units of one cache line landing in program order. Each image is
// mounted, checked, and compared with the operations acknowledged before the
// crash point.
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

import { Pool, type PoolFile } from '../../lib/index.js';
import { apply as applyOp, bytesFor, MAX_FILE, NAMES, randomOp, readState, rng, runOp as runModelOp, verifyState, type Op, type State } from '../pool/crash-model.js';

export type TraceEvent =
  | { kind: 'store'; offset: number; data: Buffer }
  | { kind: 'flush'; offset: number; length: number }
  | { kind: 'fence' }
  | { kind: 'mark'; value: number };

export function parseTrace(log: Buffer): TraceEvent[] {
  const events: TraceEvent[] = [];
  let at = 0;
  const u64 = () => {
    const v = Number(log.readBigUInt64LE(at));
    at += 8;
    return v;
  };
  while (at < log.length) {
    const kind = log[at++];
    if (kind === 1) {
      const offset = u64();
      const length = u64();
      events.push({ kind: 'store', offset, data: log.subarray(at, at + length) });
      at += length;
    } else if (kind === 2) {
      const offset = u64();
      events.push({ kind: 'flush', offset, length: u64() });
    } else if (kind === 3) events.push({ kind: 'fence' });
    else if (kind === 4) events.push({ kind: 'mark', value: u64() });
    else throw new Error(`trace: unknown event kind ${kind} at byte ${at - 1}`);
  }
  return events;
}

// ------------------------------------------------------------ workloads

/**
 * A write through a shared mapping: a write fault (traced) and user stores
 * (not traced); or pages added at the end of a file (a truncate) and filled
 * with plain stores through a mapping, then persisted: the fault service
 * fills each hole with a granted block, and the adoption records the blocks'
 * bytes in the trace before its transaction.
 */
export type SimOp = Op | { op: 'mapWrite'; name: string; pos: number; len: number; seed: number } | { op: 'plainFill'; name: string; pos: number; len: number; seed: number };

/** The model's operation for `op` (a plain fill is a write of its bytes); undefined where nothing reaches an image. */
export function modelOp(op: SimOp): Op | undefined {
  if (op.op === 'mapWrite') return undefined;
  if (op.op === 'plainFill') return { op: 'write', name: op.name, pos: op.pos, len: op.len, seed: op.seed };
  return op;
}

/** The model after `op`. Stores through a mapping are outside the trace, so they never reach a simulated image. */
export function applySim(state: State, op: SimOp, written?: number): State {
  const m = modelOp(op);
  return m === undefined ? state : applyOp(state, m, op.op === 'plainFill' ? op.len : written);
}

export function randomSimOp(state: State, rand: (n: number) => number, seed: number): SimOp {
  const pick = rand(100);
  if (pick < 20) {
    // appends through a handle kept open: the size-word fast path, and block
    // appends into preallocated blocks
    const name = NAMES[rand(NAMES.length)]!;
    const size = state.get(name)?.length ?? 0;
    const len = size % 4096 === 0 ? 4096 * (1 + rand(3)) : 1 + rand(6000);
    if (size + len <= MAX_FILE) return { op: 'write', name, pos: size, len, seed, keep: true };
  }
  if (pick >= 20 && pick < 32) {
    const names = [...state.keys()].filter((n) => state.get(n)!.length > 0);
    if (names.length > 0) {
      const name = names[rand(names.length)]!;
      const size = state.get(name)!.length;
      const pos = rand(size);
      return { op: 'mapWrite', name, pos, len: 1 + rand(Math.min(3 * 4096, size - pos)), seed };
    }
  }
  if (pick >= 32 && pick < 40) {
    const name = NAMES[rand(NAMES.length)]!;
    const pos = Math.ceil((state.get(name)?.length ?? 0) / 4096) * 4096;
    const len = 4096 * (1 + rand(3));
    if (pos + len <= MAX_FILE) return { op: 'plainFill', name, pos, len, seed };
  }
  return randomOp(state, rand, seed);
}

/** A plain fill: the file grows by whole pages, then plain stores fill them through a mapping, persisted. */
function plainFill(pool: Pool, op: { name: string; pos: number; len: number; seed: number }): number {
  const f = pool.open(op.name, { create: true });
  f.truncate(op.pos + op.len);
  const m = f.map({ offset: op.pos, length: op.len, write: true });
  new Uint8Array(m.buffer).set(bytesFor(op.len, op.seed));
  m.persist(0, op.len);
  m.unmap();
  f.close();
  return op.len;
}

/** Runs `op` on the pool, appends through the handles in `open`; returns the byte count of a write. */
export function runOp(pool: Pool, op: SimOp, open: Map<string, PoolFile>): number | undefined {
  if (op.op === 'write' && op.keep) {
    let f = open.get(op.name);
    if (!f) open.set(op.name, (f = pool.open(op.name, { create: true })));
    return f.write(bytesFor(op.len, op.seed), op.pos);
  }
  if (op.op === 'unlink' || op.op === 'rename' || op.op === 'orphanWrite') {
    // names change: the kept handles close (trimming their preallocation)
    for (const f of open.values()) f.close();
    open.clear();
  }
  if (op.op === 'plainFill') return plainFill(pool, op);
  if (op.op !== 'mapWrite') return runModelOp(pool, op);
  const f = pool.open(op.name);
  const first = Math.floor(op.pos / 4096) * 4096;
  const m = f.map({ offset: first, length: op.pos + op.len - first, write: true });
  m.write(op.pos - first, bytesFor(op.len, op.seed));
  m.unmap();
  f.close();
  return undefined;
}

export interface Recording {
  base: Buffer;
  /** The files in `base` (a setup's; none on a fresh pool). */
  initial: State;
  events: TraceEvent[];
  ops: SimOp[];
  written: (number | undefined)[];
}

/**
 * Formats a pool at `poolPath`, then records `count` random operations
 * (seeded): the image before them and the trace of everything after.
 * `setup` (untraced) fills the pool first.
 */
export function record(poolPath: string, size: number, seed: number, count: number, next: typeof randomSimOp = randomSimOp, setup?: (pool: Pool) => void): Recording {
  Pool.format(poolPath, { size }).close();
  if (setup) {
    const p = Pool.open(poolPath);
    try {
      setup(p);
    } finally {
      p.close();
    }
  }
  const pool = Pool.open(poolPath);
  try {
    const base = readFileSync(poolPath);
    const rand = rng(seed);
    const initial: State = setup ? readState(pool) : new Map();
    let state = initial;
    const ops: SimOp[] = [];
    const written: (number | undefined)[] = [];
    pool.region.traceStart();
    const open = new Map<string, PoolFile>();
    for (let i = 0; i < count; i++) {
      const op = next(state, rand, seed * 100_000 + i);
      pool.region.traceMark(2 * i);
      const n = runOp(pool, op, open);
      pool.region.traceMark(2 * i + 1);
      ops.push(op);
      written.push(n);
      state = applySim(state, op, n);
    }
    for (const f of open.values()) f.close();
    const events = parseTrace(pool.region.traceTake(true));
    return { base, initial, events, ops, written };
  } finally {
    pool.close();
  }
}

// ------------------------------------------------------------ crash images

const LINE = 64;
const UNIT = 8;

interface Piece {
  at: number;
  data: Buffer;
  flushed: boolean;
}

/** A crash point: just before a fence (or at the end), with what is durable and what may be. */
export interface CrashPoint {
  index: number;
  /** Operations acknowledged (their end mark passed). */
  acked: number;
  /** The operation running at the crash, if any. */
  inFlight: number | undefined;
  durable: Buffer;
  /** Stores not yet fenced, by cache line, in program order. */
  pendingByLine: Map<number, Piece[]>;
}

export function* crashPoints(rec: Recording): Generator<CrashPoint> {
  const durable = Buffer.from(rec.base);
  let pending: Piece[] = [];
  let acked = 0;
  let inFlight: number | undefined;
  let index = 0;
  const snapshot = (): CrashPoint => {
    const pendingByLine = new Map<number, Piece[]>();
    for (const p of pending) {
      const line = Math.floor(p.at / LINE);
      let list = pendingByLine.get(line);
      if (!list) pendingByLine.set(line, (list = []));
      list.push(p);
    }
    return { index: index++, acked, inFlight, durable, pendingByLine };
  };
  for (const e of rec.events) {
    if (e.kind === 'store') {
      // 8-byte units: each may land or not, independently of other lines
      let at = e.offset;
      const end = e.offset + e.data.length;
      while (at < end) {
        const unitEnd = Math.min(end, (Math.floor(at / UNIT) + 1) * UNIT);
        pending.push({ at, data: e.data.subarray(at - e.offset, unitEnd - e.offset), flushed: false });
        at = unitEnd;
      }
    } else if (e.kind === 'flush') {
      const first = Math.floor(e.offset / LINE);
      const last = Math.floor((e.offset + e.length - 1) / LINE);
      for (const p of pending) {
        const line = Math.floor(p.at / LINE);
        if (line >= first && line <= last) p.flushed = true;
      }
    } else if (e.kind === 'fence') {
      if (pending.length > 0) yield snapshot();
      const still: Piece[] = [];
      for (const p of pending) {
        if (p.flushed) p.data.copy(durable, p.at);
        else still.push(p);
      }
      pending = still;
    } else {
      const op = Math.floor(e.value / 2);
      if (e.value % 2 === 0) inFlight = op;
      else {
        acked = op + 1;
        inFlight = undefined;
      }
    }
  }
  yield snapshot();
}

/**
 * Images at a crash point, built in `scratch`: nothing pending landed,
 * everything did, and `samples` random choices (a prefix of each cache
 * line's pending units).
 */
export function* imagesAt(point: CrashPoint, samples: number, rand: (n: number) => number, scratch: Buffer): Generator<string> {
  point.durable.copy(scratch);
  yield 'fenced only';
  if (point.pendingByLine.size === 0) return;
  point.durable.copy(scratch);
  for (const list of point.pendingByLine.values()) for (const p of list) p.data.copy(scratch, p.at);
  yield 'all pending landed';
  for (let s = 0; s < samples; s++) {
    point.durable.copy(scratch);
    for (const list of point.pendingByLine.values()) {
      const k = rand(list.length + 1);
      for (let i = 0; i < k; i++) list[i]!.data.copy(scratch, list[i]!.at);
    }
    yield `random subset ${s}`;
  }
}

export interface SimResult {
  images: number;
  crashPoints: number;
  failures: string[];
}

/**
 * Mounts every image of every crash point of `rec` and checks it. Failing
 * images are saved with the operation log under `failDir`. It yields to the
 * event loop every 50 ms: a check of thousands of images (a minute and
 * more under a sanitizer) would otherwise keep the test worker from
 * answering its runner.
 */
export async function checkRecording(rec: Recording, imagePath: string, options: { samples: number; seed: number; failDir: string; maxFailures?: number }): Promise<SimResult> {
  const rand = rng(options.seed);
  const states: State[] = [rec.initial];
  for (let i = 0; i < rec.ops.length; i++) states.push(applySim(states[i]!, rec.ops[i]!, rec.written[i]));
  const result: SimResult = { images: 0, crashPoints: 0, failures: [] };
  const scratch = Buffer.alloc(rec.base.length);
  // The image file is overwritten in place: rewriting a tmpfs file from
  // scratch costs several times more (its pages are allocated again).
  writeFileSync(imagePath, scratch);
  const fd = openSync(imagePath, 'r+');
  let yielded = Date.now();
  try {
    for (const point of crashPoints(rec)) {
      result.crashPoints++;
      for (const kind of imagesAt(point, options.samples, rand, scratch)) {
        result.images++;
        if (Date.now() - yielded > 50) {
          await new Promise((resolve) => setImmediate(resolve));
          yielded = Date.now();
        }
        writeSync(fd, scratch, 0, scratch.length, 0);
        const problem = checkImage(imagePath, states[point.acked]!, point.inFlight === undefined ? undefined : rec.ops[point.inFlight]);
        if (problem === null) continue;
        const where = `crash point ${point.index} (${point.acked} ops acknowledged, in flight: ${point.inFlight === undefined ? 'none' : JSON.stringify(rec.ops[point.inFlight])}), image '${kind}'`;
        result.failures.push(`${where}: ${problem}`);
        saveFailure(options.failDir, result.failures.length, scratch, { where, problem, acked: point.acked, inFlight: point.inFlight ?? null, ops: rec.ops, written: rec.written });
        if (result.failures.length >= (options.maxFailures ?? 5)) return result;
      }
    }
  } finally {
    closeSync(fd);
  }
  return result;
}

/** Mounts the image at `imagePath`; null when it is consistent with the model, else what is wrong. */
export function checkImage(imagePath: string, acked: State, inFlight: SimOp | undefined): string | null {
  let pool: Pool;
  try {
    pool = Pool.open(imagePath);
  } catch (e) {
    return `mount failed: ${(e as Error).message}`;
  }
  try {
    const report = pool.check();
    if (report.problems.length > 0) return `check: ${report.problems.map((p) => p.message).join('; ')}`;
    const actual = readState(pool);
    return verifyState(actual, acked, inFlight === undefined ? undefined : modelOp(inFlight));
  } finally {
    pool.close();
  }
}

function saveFailure(dir: string, n: number, image: Buffer, info: object): void {
  mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `crash-${process.pid}-${n}`);
  writeFileSync(`${base}.img`, image);
  writeFileSync(`${base}.json`, JSON.stringify(info, null, 2));
}
