// Timing helpers for benchmarks: each side of a comparison is measured in
// the same run, interleaved over several trials, and the best trial counts
// (the least disturbed by other work on a shared machine).

export function now(): bigint {
  return process.hrtime.bigint();
}

/** Nanoseconds per operation of `op`, run `iterations` times: the best of `trials`. */
export function nsPerOp(iterations: number, trials: number, op: (i: number) => void): number {
  let best = Infinity;
  for (let t = 0; t < trials; t++) {
    const start = now();
    for (let i = 0; i < iterations; i++) op(i);
    const ns = Number(now() - start) / iterations;
    if (ns < best) best = ns;
  }
  return best;
}

/**
 * Measures two sides (and an optional third, such as a floor) alternately,
 * `trials` times each, and returns the best ns/op of each. Each function
 * runs a whole trial and returns its ns/op.
 */
export function compare(trials: number, a: () => number, b: () => number, c?: () => number): { a: number; b: number; c: number } {
  // One untimed round first: the JIT compiles each side's path on a
  // background thread, and on a 2-vCPU machine a quick run's few trials
  // would otherwise measure the interpreter (an append 3.5 µs instead of 1).
  a();
  b();
  c?.();
  let bestA = Infinity;
  let bestB = Infinity;
  let bestC = Infinity;
  for (let t = 0; t < trials; t++) {
    bestA = Math.min(bestA, a());
    bestB = Math.min(bestB, b());
    if (c) bestC = Math.min(bestC, c());
  }
  return { a: bestA, b: bestB, c: bestC };
}

export function timeLoop(iterations: number, op: (i: number) => void): number {
  const start = now();
  for (let i = 0; i < iterations; i++) op(i);
  return Number(now() - start) / iterations;
}

export function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

export function formatBandwidth(bytesPerNs: number): string {
  return `${bytesPerNs.toFixed(2)} GB/s`;
}

/** A fixed pseudo-random order of `count` slot numbers below `slots`, the same for both sides of a comparison. */
export function randomOrder(count: number, slots: number, seed = 2463534242): Uint32Array {
  const order = new Uint32Array(count);
  let x = seed;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    order[i] = (x >>> 0) % slots;
  }
  return order;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Turns {
  /** ns/op of each trial, in the order run. */
  samples: number[];
  min: number;
  median: number;
}

/**
 * Measures any number of sides in turns: one untimed round, then `trials`
 * rounds in which every side runs one trial (each function runs a whole
 * trial and returns its ns/op). The side that goes first moves on by one
 * each round, so that no side always follows the same neighbour. Returns
 * every trial of each side with its min (the least disturbed trial) and
 * median (the typical one).
 */
export function turns(trials: number, sides: (() => number)[]): Turns[] {
  for (const side of sides) side();
  const samples = sides.map((): number[] => []);
  for (const j of rotation(trials, sides.length)) samples[j]!.push(sides[j]!());
  return samples.map(summarise);
}

/** turns() for sides whose trials are asynchronous: each trial awaited before the next starts. */
export async function turnsAsync(trials: number, sides: (() => Promise<number>)[]): Promise<Turns[]> {
  for (const side of sides) await side();
  const samples = sides.map((): number[] => []);
  for (const j of rotation(trials, sides.length)) samples[j]!.push(await sides[j]!());
  return samples.map(summarise);
}

/** The sides' order over `trials` rounds: every side once a round, the first moving on by one. */
function* rotation(trials: number, count: number): Generator<number> {
  for (let t = 0; t < trials; t++) for (let k = 0; k < count; k++) yield (k + t) % count;
}

/** A side's trials with their min and median. */
export function summarise(s: number[]): Turns {
  return { samples: s, min: Math.min(...s), median: median(s) };
}
