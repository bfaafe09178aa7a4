// The operations the crash test's child performs, and the model the parent
// checks the pool against: the same operation applied to plain buffers.
import type { Pool } from '../../lib/pool/pool.js';

export type Op =
  | { op: 'write'; name: string; pos: number; len: number; seed: number; /** through a handle kept open (appends with preallocation) */ keep?: boolean }
  | { op: 'truncate'; name: string; size: number }
  | { op: 'allocate'; name: string; off: number; len: number }
  | { op: 'punch'; name: string; off: number; len: number }
  | { op: 'zero'; name: string; off: number; len: number }
  | { op: 'unlink'; name: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'orphanWrite'; name: string; seed: number };

export type State = Map<string, Buffer>;

/** The files of a pool, as a State. */
export function readState(pool: Pool): State {
  const state: State = new Map();
  for (const st of pool.list()) {
    const f = pool.open(st.name);
    const b = Buffer.alloc(st.size);
    f.read(b, 0);
    f.close();
    state.set(st.name, b);
  }
  return state;
}

export const NAMES = ['a', 'b', 'c', 'd', 'e'];
export const MAX_FILE = 192 * 1024;

/** Deterministic bytes for a write: the parent regenerates them from the seed. */
export function bytesFor(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/** A random operation that makes sense in `state`. */
export function randomOp(state: State, rand: (n: number) => number, seed: number): Op {
  const name = NAMES[rand(NAMES.length)]!;
  const exists = state.has(name);
  const size = state.get(name)?.length ?? 0;
  const pick = rand(100);
  if (pick < 40 || !exists) {
    const pos = rand(MAX_FILE - 1);
    return { op: 'write', name, pos, len: 1 + rand(Math.min(32 * 1024, MAX_FILE - pos)), seed };
  }
  if (pick < 50) return { op: 'truncate', name, size: rand(MAX_FILE) };
  if (pick < 58) {
    const off = rand(MAX_FILE - 1);
    return { op: 'allocate', name, off, len: 1 + rand(Math.min(64 * 1024, MAX_FILE - off)) };
  }
  if (pick < 66) return { op: 'punch', name, off: rand(size + 1), len: 1 + rand(64 * 1024) };
  if (pick < 74) {
    const off = rand(MAX_FILE - 1);
    return { op: 'zero', name, off, len: 1 + rand(Math.min(64 * 1024, MAX_FILE - off)) };
  }
  if (pick < 82) return { op: 'unlink', name };
  if (pick < 92) return { op: 'rename', from: name, to: NAMES[rand(NAMES.length)]! };
  return { op: 'orphanWrite', name, seed };
}

function resize(b: Buffer | undefined, size: number): Buffer {
  const out = Buffer.alloc(size);
  if (b) b.copy(out, 0, 0, Math.min(size, b.length));
  return out;
}

/** The state after `op` (written: the byte count the write reported). */
export function apply(state: State, op: Op, written?: number): State {
  const s = new Map(state);
  switch (op.op) {
    case 'write': {
      const n = written ?? op.len;
      const old = s.get(op.name);
      const b = resize(old, Math.max(old?.length ?? 0, op.pos + n));
      bytesFor(op.len, op.seed).copy(b, op.pos, 0, n);
      s.set(op.name, b);
      break;
    }
    case 'truncate':
      s.set(op.name, resize(s.get(op.name), op.size));
      break;
    case 'allocate': {
      const old = s.get(op.name)!;
      s.set(op.name, resize(old, Math.max(old.length, op.off + op.len)));
      break;
    }
    case 'punch': {
      const b = Buffer.from(s.get(op.name)!);
      b.fill(0, Math.min(op.off, b.length), Math.min(op.off + op.len, b.length));
      s.set(op.name, b);
      break;
    }
    case 'zero': {
      const old = s.get(op.name)!;
      const b = resize(old, Math.max(old.length, op.off + op.len));
      b.fill(0, op.off, op.off + op.len);
      s.set(op.name, b);
      break;
    }
    case 'unlink':
    case 'orphanWrite':
      s.delete(op.name);
      break;
    case 'rename':
      if (op.from !== op.to) {
        s.set(op.to, s.get(op.from)!);
        s.delete(op.from);
      }
      break;
  }
  return s;
}

/** States a crash during `op` may leave besides the one before and the one after. */
export function intermediates(state: State, op: Op): State[] {
  // a write to a missing file creates it (one transaction) before writing (another)
  if (op.op === 'write' && !state.has(op.name)) return [apply(state, { op: 'truncate', name: op.name, size: 0 })];
  return [];
}

function sameShape(a: State, b: State): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k)?.length !== v.length) return false;
  return true;
}

function shapeOf(s: State): string {
  return `{${[...s].map(([k, v]) => `${k}:${v.length}`).sort().join(',')}}`;
}

/**
 * Checks the files found after a crash against the acknowledged state and
 * what the operation in flight may have done (all of it, none of it, an
 * intermediate transaction; a write's bytes possibly torn, each byte old or
 * new). Returns null, or what is wrong.
 */
export function verifyState(actual: State, acked: State, inFlight: Op | undefined): string | null {
  const candidates = [acked];
  if (inFlight) candidates.push(apply(acked, inFlight), ...intermediates(acked, inFlight));
  const shape = candidates.find((c) => sameShape(c, actual));
  if (!shape) return `names/sizes ${shapeOf(actual)} match none of ${candidates.map(shapeOf).join(' | ')}`;
  for (const [name, bytes] of actual) {
    if (candidates.some((c) => c.get(name)?.equals(bytes))) continue;
    for (let i = 0; i < bytes.length; i++) {
      if (candidates.some((c) => c.get(name)?.[i] === bytes[i])) continue;
      // bytes past a candidate's end read as zeros once the file grew
      if (bytes[i] === 0 && candidates.some((c) => (c.get(name)?.length ?? 0) <= i)) continue;
      return `'${name}' byte ${i} is ${bytes[i]}, allowed: ${candidates.map((c) => c.get(name)?.[i]).join('/')}`;
    }
  }
  return null;
}

/** Performs `op` on the pool; returns the byte count a write reported. */
export function runOp(pool: Pool, op: Op): number | undefined {
  switch (op.op) {
    case 'write': {
      const f = pool.open(op.name, { create: true });
      try {
        return f.write(bytesFor(op.len, op.seed), op.pos);
      } finally {
        f.close();
      }
    }
    case 'truncate': {
      const f = pool.open(op.name, { create: true });
      f.truncate(op.size);
      f.close();
      return undefined;
    }
    case 'allocate':
    case 'punch':
    case 'zero': {
      const f = pool.open(op.name);
      if (op.op === 'allocate') f.allocate(op.off, op.len);
      else if (op.op === 'punch') f.punchHole(op.off, op.len);
      else f.zeroRange(op.off, op.len);
      f.close();
      return undefined;
    }
    case 'unlink':
      pool.unlink(op.name);
      return undefined;
    case 'rename':
      pool.rename(op.from, op.to);
      return undefined;
    case 'orphanWrite': {
      const f = pool.open(op.name);
      pool.unlink(op.name);
      f.write(bytesFor(4096 * 3, op.seed), 100);
      f.close();
      return undefined;
    }
  }
}
