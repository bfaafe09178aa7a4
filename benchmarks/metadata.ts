// The metadata benchmark: what the pool's names, extents, mount and
// asynchronous transfers cost, against node:fs on the same tmpfs or against
// daxfs itself at a small scale. The sides of each comparison take turns in
// this run (an untimed round, then trials with the first place moving on);
// each side shows its fastest trial (min) and its median, and the targets
// are judged on the mins.
//
// With --rss-child this file is the child that measures a mount's memory:
// it mounts the pool on its descriptor 3 and prints what the mount added.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { createUnlinkedPmem, type UnlinkedFile } from '../lib/emulated.js';
import type { PoolFile } from '../lib/pool/file.js';
import { Pool } from '../lib/pool/pool.js';
import { formatBandwidth, now, randomOrder, summarise, timeLoop, turns, turnsAsync, type Turns } from './measure.js';
import { failedRow, formatRows, timeRow, times, type Row } from './table.js';

const MiB = 1 << 20;
const GiB = 1 << 30;
const BLOCK = 4096;

const codeOf = (e: unknown): string => String((e as { code?: unknown }).code ?? (e instanceof Error ? e.message : e));

function timed(op: () => void): number {
  const start = now();
  op();
  return Number(now() - start);
}

/** A pool formatted on fresh emulated pmem; both go when `use` returns or throws. */
function withPool<T>(label: string, size: number, options: { sparse?: boolean; zeroAll?: boolean }, use: (pool: Pool, backing: UnlinkedFile) => T): T {
  const backing = createUnlinkedPmem(label, size);
  try {
    const pool = Pool.format(backing.path, { size, ...options });
    try {
      return use(pool, backing);
    } finally {
      pool.close();
    }
  } finally {
    backing.close();
  }
}

// ------------------------------------------------------------ small files

/** Create + one 4 KiB write + close of many small files, against openSync('w') + writeSync + closeSync. */
function smallFilesRow(quick: boolean): Row {
  const files = quick ? 500 : 1000;
  // 256 MiB formats 1,024 inodes; zeroAll: every page exists, as on real pmem
  return withPool('bench-meta-small', 256 * MiB, { zeroAll: true }, (pool, backing) => {
    const dir = `${backing.name}.dir`; // named: names are what this row measures
    const buf = Buffer.alloc(BLOCK, 0x5a);
    try {
      const [ours, theirs] = turns(quick ? 3 : 11, [
        () => {
          const ns = timeLoop(files, (i) => {
            const h = pool.open(`small-${i}`, { create: true });
            h.write(buf, 0);
            h.close();
          });
          for (let i = 0; i < files; i++) pool.unlink(`small-${i}`);
          return ns;
        },
        () => {
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir);
          return timeLoop(files, (i) => {
            const fd = openSync(`${dir}/small-${i}`, 'w');
            writeSync(fd, buf, 0, BLOCK, 0);
            closeSync(fd);
          });
        },
      ]);
      return timeRow('metadata: small file create + 4 KiB write + close vs node:fs', ours!, theirs!, 'file', { faster: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// ------------------------------------------------------------ names at scale

/** A sparse pool size whose inode table (one inode per 64 blocks) holds `files` files. */
function poolSizeFor(files: number): number {
  return Math.ceil(((files + 64) * 64 * BLOCK) / GiB) * GiB;
}

/** Creates `count` files of one 4 KiB block; stops at ENOSPC and says where. */
function fillPool(pool: Pool, count: number, data: Buffer): string | null {
  for (let i = 0; i < count; i++) {
    let h: PoolFile | null = null;
    try {
      h = pool.open(`file-${i}`, { create: true });
      if (h.write(data, 0) !== data.length) return `fails: ENOSPC (no free block) at ${i} files`;
    } catch (e) {
      if (codeOf(e) === 'ENOSPC') return `fails: ENOSPC at ${i} files (${(e as Error).message})`;
      throw e;
    } finally {
      h?.close();
    }
  }
  return null;
}

function fillDir(dir: string, count: number, data: Buffer): void {
  mkdirSync(dir);
  for (let i = 0; i < count; i++) {
    const fd = openSync(`${dir}/file-${i}`, 'wx');
    writeSync(fd, data, 0, data.length, 0);
    closeSync(fd);
  }
}

interface Scale {
  pool: Pool;
  backing: UnlinkedFile;
  dir: string;
  failure: string | null;
}

/**
 * Create and unlink per operation in a pool (and a tmpfs directory) of many
 * files against one of few; then mounting the large pool against listing
 * and statting the large directory, and the memory the mount holds.
 */
function scaleRows(quick: boolean): Row[] {
  const [few, many] = quick ? [1_000, 10_000] : [1_000, 100_000];
  const batch = quick ? 200 : 1_000;
  const trials = quick ? 3 : 7;
  const data = Buffer.alloc(BLOCK, 0x42);
  const scales: Scale[] = [];
  const rows: Row[] = [];
  try {
    for (const count of [few, many]) {
      const size = poolSizeFor(count + batch);
      const backing = createUnlinkedPmem(`bench-meta-${count}`, size);
      const s: Scale = { pool: null as unknown as Pool, backing, dir: `${backing.name}.dir`, failure: null };
      scales.push(s);
      s.pool = Pool.format(backing.path, { size, sparse: true });
      s.failure = fillPool(s.pool, count, data);
      fillDir(s.dir, count, data);
    }
    // Each trial creates `batch` empty files, then unlinks them: the create
    // time is the trial's figure, the unlink time rides along (the first of
    // each side's is the untimed round's and is dropped).
    const unlinks: number[][] = [[], [], [], []];
    const dax = (k: number) => () => {
      const pool = scales[k]!.pool;
      if (scales[k]!.failure !== null) return NaN;
      const ns = timeLoop(batch, (i) => pool.open(`new-${i}`, { create: true }).close());
      unlinks[k]!.push(timeLoop(batch, (i) => pool.unlink(`new-${i}`)));
      return ns;
    };
    const fs = (k: number) => () => {
      const dir = scales[k]!.dir;
      const ns = timeLoop(batch, (i) => closeSync(openSync(`${dir}/new-${i}`, 'wx')));
      unlinks[k + 2]!.push(timeLoop(batch, (i) => unlinkSync(`${dir}/new-${i}`)));
      return ns;
    };
    const creates = turns(trials, [dax(0), dax(1), fs(0), fs(1)]);
    const unlink = unlinks.map((u) => summarise(u.slice(1)));
    const at = (n: number) => n.toLocaleString('en');
    const tail = quick ? ' (quick: 10k, not 100k)' : '';
    const scaled = (what: string, k: number, list: Turns[], target: number | null, who = 'daxfs') =>
      timeRow(`metadata: ${what} at ${at(many)} files vs at ${at(few)} (${who}, per ${what})${tail}`, list[k + 1]!, list[k]!, what, { atMost: target });
    const failure = scales[1]!.failure ?? scales[0]!.failure;
    if (failure === null) rows.push(scaled('create', 0, creates, 1.3), scaled('unlink', 0, unlink, 1.3));
    else for (const what of ['create', 'unlink']) rows.push(failedRow(`metadata: ${what} at ${at(many)} files vs at ${at(few)} (daxfs)${tail}`, failure, '≤ 1.3× the time'));
    rows.push(scaled('create', 2, creates, null, 'node:fs, for reference'), scaled('unlink', 2, unlink, null, 'node:fs, for reference'));

    const big = scales[1]!;
    const mountName = `metadata: mount (Pool.open + close) of ${at(many)} files vs readdirSync + statSync of each on tmpfs${tail}`;
    const rssName = `metadata: RSS a mount of ${at(many)} files adds, per file (child process)${tail}`;
    if (big.failure !== null) {
      rows.push(failedRow(mountName, big.failure, '≤ 1× the time'), failedRow(rssName, big.failure, '≤ 300 B/file'));
      return rows;
    }
    big.pool.close();
    const [mount, listing] = turns(quick ? 3 : 5, [
      () => timed(() => Pool.open(big.backing.path).close()),
      () => timed(() => {
        for (const name of readdirSync(big.dir)) statSync(`${big.dir}/${name}`);
      }),
    ]);
    rows.push(timeRow(mountName, mount!, listing!, 'op', { atMost: 1 }));
    rows.push(rssRow(rssName, big.backing, many));
    return rows;
  } finally {
    for (const s of scales) {
      try {
        s.pool?.close();
      } catch {
        // closed above for the mount
      }
      rmSync(s.dir, { recursive: true, force: true });
      s.backing.close();
    }
  }
}

interface RssReport {
  files: number;
  gc: boolean;
  rss: number;
  anon: number;
}

/**
 * The RSS one mount adds, measured in a child of its own (this file with
 * --rss-child): the pool is mounted and closed once (the addon and the
 * mount's code loaded), then VmRSS is read before and after a second mount,
 * each reading after a gc() (--expose-gc).
 */
function rssRow(name: string, backing: UnlinkedFile, files: number): Row {
  const fd = openSync(backing.path, 'r+');
  let report: RssReport;
  try {
    const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--rss-child'], {
      stdio: ['ignore', 'pipe', 'inherit', fd],
      encoding: 'utf8',
    });
    if (child.status !== 0) return failedRow(name, `the child failed (${child.status ?? child.signal})`, '≤ 300 B/file');
    report = JSON.parse(child.stdout) as RssReport;
  } finally {
    closeSync(fd);
  }
  if (report.files !== files) throw new Error(`the child mounted ${report.files} files, not ${files}`);
  // The mount added less than the process gave back meanwhile (a gc, pages
  // dropped): nothing this run can put a figure on.
  if (report.rss <= 0)
    return {
      name,
      measured: `below measurement: RSS fell by ${(-report.rss / 1024).toFixed(0)} KiB across the mount`,
      baseline: `${(report.anon / 1024).toFixed(0)} KiB anonymous (heap) change`,
      ratio: NaN,
      verdict: 'not measured',
      target: '≤ 300 B/file',
      pass: false,
    };
  const perFile = report.rss / files;
  return {
    name,
    measured: `${perFile.toFixed(0)} B/file`,
    baseline: `${(report.rss / MiB).toFixed(1)} MiB in all; ${(report.anon / files).toFixed(0)} B/file of it anonymous (heap)`,
    ratio: perFile / 300,
    verdict: `${times(perFile / 300)} the target${report.gc ? ', after gc()' : ', no gc() available'}; the rest is pool pages the mount read`,
    target: '≤ 300 B/file',
    pass: perFile <= 300,
  };
}

function rssChild(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  const status = (): { rss: number; anon: number } => {
    const text = readFileSync('/proc/self/status', 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    return { rss: kib('VmRSS'), anon: kib('RssAnon') };
  };
  const path = '/proc/self/fd/3';
  Pool.open(path).close();
  gc?.();
  const before = status();
  const pool = Pool.open(path);
  gc?.();
  const after = status();
  const report: RssReport = { files: pool.info().files, gc: gc !== undefined, rss: after.rss - before.rss, anon: after.anon - before.anon };
  pool.close();
  console.log(JSON.stringify(report));
}

// ------------------------------------------------------------ extents

/**
 * A file of many one-block extents (every other block of a contiguous file
 * punched out) against files of one extent: a metadata transaction (punch
 * one block, write it again) and getBlock.
 */
export function extentRows(quick: boolean): Row[] {
  const extents = quick ? 2_000 : 10_000;
  const blocks = 2 * extents;
  const size = Math.max(256 * MiB, 4 * blocks * BLOCK);
  return withPool('bench-meta-extents', size, { zeroAll: true }, (pool) => {
    const many = pool.open('many', { create: true });
    const one = pool.open('one', { create: true });
    const single = pool.open('single', { create: true });
    many.write(Buffer.alloc(blocks * BLOCK, 0x6d), 0);
    for (let b = 1; b < blocks; b += 2) many.punchHole(b * BLOCK, BLOCK);
    one.write(Buffer.alloc(blocks * BLOCK, 0x6f), 0);
    const block = Buffer.alloc(BLOCK, 0x73);
    single.write(block, 0);
    const counts = () => [many, one, single].map((f) => f.stat().extents);
    const [manyExtents, oneExtents, singleExtents] = counts();
    const label = (n: number | undefined) => `${(n ?? 0).toLocaleString('en')} extent${n === 1 ? '' : 's'}`;

    const iterations = quick ? 50 : 200;
    // the written (even) blocks, in a fixed pseudo-random order
    const order = randomOrder(Math.max(iterations, quick ? 20_000 : 100_000), extents).map((x) => 2 * x);
    const txn = turns(quick ? 3 : 7, [
      () =>
        timeLoop(iterations, (i) => {
          const at = order[i]! * BLOCK;
          many.punchHole(at, BLOCK);
          many.write(block, at);
        }),
      () =>
        timeLoop(iterations, () => {
          single.punchHole(0, BLOCK);
          single.write(block, 0);
        }),
    ]);
    const after = counts();
    if (after[0] !== manyExtents || after[2] !== singleExtents) throw new Error(`the extent counts moved: ${counts().join(', ')}`);
    const lookups = order.length;
    let sink = 0;
    const get = turns(quick ? 3 : 11, [
      () => timeLoop(lookups, (i) => (sink += many.getBlock(order[i]!).poolBlock)),
      () => timeLoop(lookups, (i) => (sink += one.getBlock(order[i]!).poolBlock)),
    ]);
    if (sink === 0.5) console.log(sink);
    for (const f of [many, one, single]) f.close();
    return [
      timeRow(`metadata: punch one block + write refilling it, ${label(manyExtents)} vs ${label(singleExtents)}`, txn[0]!, txn[1]!, 'op', { atMost: 2 }),
      timeRow(`metadata: getBlock, file of ${label(manyExtents)} vs ${label(oneExtents)} (${blocks.toLocaleString('en')} blocks)`, get[0]!, get[1]!, 'call', { atMost: 2 }),
    ];
  });
}

// ------------------------------------------------------------ asynchronous transfers

/** Bandwidth of `ours` (ns per MiB) against `theirs`: the share of it reached. */
function bandwidthRow(name: string, ours: Turns, theirs: Turns): Row {
  const bw = (ns: number) => formatBandwidth(MiB / ns);
  const ratio = theirs.min / ours.min;
  return {
    name,
    measured: `${bw(ours.min)} (median ${bw(ours.median)})`,
    baseline: `${bw(theirs.min)} (median ${bw(theirs.median)})`,
    ratio,
    verdict: `${ratio.toFixed(2)} of the bandwidth (medians: ${(theirs.median / ours.median).toFixed(2)})`,
    target: '≥ 0.8 of the bandwidth',
    pass: ratio >= 0.8,
  };
}

/**
 * 1 MiB writeAsync and readAsync requests, 2 and 4 in flight, against the
 * synchronous calls' bandwidth. Several requests on one file are tried
 * first; what is refused is reported as such, and the same numbers of
 * requests on as many different files are measured beside.
 */
export async function asyncRows(quick: boolean): Promise<Row[]> {
  const span = (quick ? 16 : 32) * MiB;
  const backing = createUnlinkedPmem('bench-meta-async', 256 * MiB);
  const pool = Pool.format(backing.path, { size: 256 * MiB, zeroAll: true });
  try {
    const files = [0, 1, 2, 3].map((k) => pool.open(`async-${k}`, { create: true }));
    const chunk = Buffer.alloc(MiB, 0x61);
    for (const f of files) for (let at = 0; at < span; at += MiB) f.write(chunk, at);
    const targets = files.map(() => Buffer.alloc(MiB));
    const f0 = files[0]!;
    const perMiB = async (requests: number, op: () => Promise<void>) => {
      const start = now();
      await op();
      return Number(now() - start) / requests;
    };
    const syncWrite = () => perMiB(span / MiB, async () => {
      for (let at = 0; at < span; at += MiB) f0.write(chunk, at);
    });
    // into the k buffers the k requests in flight use, in turn: the same cache footprint
    const syncRead = (k: number) => () => perMiB(span / MiB, async () => {
      for (let at = 0, j = 0; at < span; at += MiB, j = (j + 1) % k) f0.read(targets[j]!, at);
    });
    // k requests on one file: at k consecutive MiB, k at a time
    const oneFile = (k: number, write: boolean) => () => perMiB(span / MiB, async () => {
      for (let at = 0; at < span; at += k * MiB)
        await Promise.all(targets.slice(0, k).map((t, j) => (write ? f0.writeAsync(chunk, at + j * MiB) : f0.readAsync(t, at + j * MiB))));
    });
    // k requests on k files: the same MiB of each; against the same writes
    // made synchronously (k times the bytes of one file: more than the
    // caches hold, so not against the one-file loop)
    const kFiles = (k: number) => () => perMiB((k * span) / MiB, async () => {
      for (let at = 0; at < span; at += MiB) await Promise.all(files.slice(0, k).map((f) => f.writeAsync(chunk, at)));
    });
    const kFilesSync = (k: number) => () => perMiB((k * span) / MiB, async () => {
      for (let at = 0; at < span; at += MiB) for (const f of files.slice(0, k)) f.write(chunk, at);
    });
    // Is it allowed? One round of k requests on one file, every result awaited.
    const refusal = async (k: number, write: boolean): Promise<string | null> => {
      const settled = await Promise.allSettled(targets.slice(0, k).map((t, j) => (write ? f0.writeAsync(chunk, j * MiB) : f0.readAsync(t, j * MiB))));
      const bad = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      return bad === undefined ? null : codeOf(bad.reason);
    };
    const trials = quick ? 3 : 9;
    const rows: Row[] = [];
    for (const write of [true, false]) {
      const call = write ? 'writeAsync' : 'readAsync';
      // every row in a fixed order, whether measured or refused
      // each side with the synchronous loop it is measured against
      const sides: { name: string; run: (() => Promise<number>) | null; against: () => Promise<number>; refused?: string }[] = [];
      for (const k of [2, 4]) {
        const syncOne = write ? syncWrite : syncRead(k);
        const name = `async: ${k} × 1 MiB ${call} in flight on one file vs ${write ? 'write' : 'read'} (sync)`;
        const refused = await refusal(k, write);
        sides.push(refused === null ? { name, run: oneFile(k, write), against: syncOne } : { name, run: null, against: syncOne, refused });
        if (write) sides.push({ name: `async: ${k} × 1 MiB writeAsync in flight on ${k} files vs write (sync) of the same files`, run: kFiles(k), against: kFilesSync(k) });
      }
      const runs = [...new Set(sides.flatMap((s) => (s.run === null ? [] : [s.against, s.run])))];
      const measured = await turnsAsync(trials, runs);
      for (const s of sides) {
        if (s.run === null) rows.push(failedRow(s.name, `${s.refused}: not supported yet`, '≥ 0.8 of the bandwidth'));
        else rows.push(bandwidthRow(s.name, measured[runs.indexOf(s.run)]!, measured[runs.indexOf(s.against)]!));
      }
    }
    for (const f of files) f.close();
    return rows;
  } finally {
    pool.close();
    backing.close();
  }
}

export async function runMetadataBenchmark(quick = false): Promise<Row[]> {
  return [smallFilesRow(quick), ...scaleRows(quick), ...extentRows(quick), ...(await asyncRows(quick))];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--rss-child')) rssChild();
  else {
    const rows = await runMetadataBenchmark(process.argv.includes('--quick'));
    if (process.argv.includes('--json')) console.log(JSON.stringify(rows, null, 2));
    else console.log(formatRows(rows));
  }
}
