// Many files in one pool: creates N empty files in a sparse pool on emulated
// pmem, closes it, and in a fresh process mounts it again, stats and unlinks
// a sample, checks it and mounts it once more — printing the wall time of
// each phase, the mount's memory and pool.info(). A one-off measurement of
// the inode table's growth (not part of `npm run bench`: 10 million files
// take minutes):
//
//   node dist/benchmarks/many-files.js --files 10000000 [--size-gib 64] [--sample 10000]
//
// The pool file is removed when the run ends, however it ends.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { emulatedPmemPath, removeQuietly } from '../lib/emulated.js';
import { Pool } from '../lib/pool/pool.js';
import { now } from './measure.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

interface Options {
  files: number;
  sizeGiB: number;
  sample: number;
}

function parse(argv: string[]): Options {
  const opts: Options = { files: 1_000_000, sizeGiB: 64, sample: 10_000 };
  const keys: Record<string, keyof Options> = { '--files': 'files', '--size-gib': 'sizeGiB', '--sample': 'sample' };
  for (let k = 0; k < argv.length; k += 2) {
    const key = keys[argv[k]!];
    const value = Number(argv[k + 1]);
    if (!key || !Number.isSafeInteger(value) || value < 1) throw new Error(`usage: many-files [--files N] [--size-gib G] [--sample S] (got '${argv[k]} ${argv[k + 1]}')`);
    opts[key] = value;
  }
  opts.sample = Math.min(opts.sample, opts.files);
  return opts;
}

const seconds = (start: bigint) => Number(now() - start) / 1e9;
const mib = (bytes: number) => Math.round(bytes / MiB);
const name = (i: number) => `f${i}`;

function memory(): { rssMiB: number; heapUsedMiB: number; externalMiB: number; arrayBuffersMiB: number } {
  const m = process.memoryUsage();
  return { rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers) };
}

/** Every `step`-th file number from a fixed offset: a sample spread over the whole table, the same in both processes. */
function sampleOf(files: number, sample: number): number[] {
  const step = Math.max(1, Math.floor(files / sample));
  const out: number[] = [];
  for (let i = step >> 1; i < files && out.length < sample; i += step) out.push(i);
  return out;
}

function log(phase: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ phase, ...fields }));
}

/** The parent: formats the pool, creates the files, closes it; the child does the rest. */
function create(opts: Options): void {
  const path = emulatedPmemPath('many-files');
  try {
    let t = now();
    const pool = Pool.format(path, { size: opts.sizeGiB * GiB, sparse: true });
    log('format', { seconds: seconds(t), sizeGiB: opts.sizeGiB, fixedInodes: pool.superblock().inodeCount });
    t = now();
    let lap = now();
    const report = Math.max(1, Math.min(1_000_000, Math.floor(opts.files / 10)));
    for (let i = 0; i < opts.files; i++) {
      pool.open(name(i), { create: true, exclusive: true }).close();
      if ((i + 1) % report === 0) {
        log('creating', { files: i + 1, lapFilesPerSecond: Math.round(report / seconds(lap)), ...memory() });
        lap = now();
      }
    }
    const created = seconds(t);
    log('created', { files: opts.files, seconds: created, filesPerSecond: Math.round(opts.files / created), ...memory(), info: brief(pool) });
    t = now();
    pool.close();
    log('close', { seconds: seconds(t) });
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', path, String(opts.files), String(opts.sample)], { stdio: 'inherit' });
    if (child.status !== 0) throw new Error(`the remount process failed (status ${child.status}, signal ${child.signal})`);
  } finally {
    removeQuietly(path);
  }
}

function brief(pool: Pool): Record<string, unknown> {
  const i = pool.info();
  const sb = pool.superblock();
  return {
    files: i.files,
    inodes: i.inodes,
    tableChunks: sb.tableChunks,
    blocks: i.blocks,
    dataBlocks: i.dataBlocks,
    freeBlocks: i.freeBlocks,
    backedMiB: mib(i.backedBytes),
    journalBytes: i.journalBytes,
    transactions: i.transactions,
  };
}

/** The child: a fresh process, so the mount's memory is the mount's alone. */
function remount(path: string, files: number, sample: number): void {
  const before = memory();
  let t = now();
  let pool = Pool.open(path);
  log('mount', { seconds: seconds(t), before, after: memory(), info: brief(pool) });
  if (pool.info().files !== files) throw new Error(`mounted ${pool.info().files} files, created ${files}`);
  const picks = sampleOf(files, sample);
  t = now();
  for (const i of picks) {
    const st = pool.stat(name(i));
    if (st.ino !== i || st.size !== 0) throw new Error(`file ${name(i)}: inode ${st.ino}, size ${st.size}`);
  }
  log('stat', { files: picks.length, seconds: seconds(t), ...memory() });
  t = now();
  for (const i of picks) pool.unlink(name(i));
  log('unlink', { files: picks.length, seconds: seconds(t) });
  t = now();
  const report = pool.check();
  log('check', { seconds: seconds(t), problems: report.problems.length, ...memory() });
  if (report.problems.length > 0) throw new Error(`check: ${report.problems.slice(0, 5).join('; ')}`);
  pool.close();
  t = now();
  pool = Pool.open(path);
  const left = pool.info().files;
  log('mount again', { seconds: seconds(t), ...memory(), info: brief(pool) });
  if (left !== files - picks.length) throw new Error(`mounted ${left} files, expected ${files - picks.length}`);
  // freed slots are taken lowest first
  for (const i of picks.slice(0, 10)) {
    const f = pool.open(name(i), { create: true, exclusive: true });
    const ino = f.stat().ino;
    f.close();
    if (ino !== i) throw new Error(`${name(i)} took inode ${ino}, not its freed one`);
  }
  pool.close();
}

const args = process.argv.slice(2);
if (args[0] === '--child') remount(args[1]!, Number(args[2]), Number(args[3]));
else create(parse(args));
