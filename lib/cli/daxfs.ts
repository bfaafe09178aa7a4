#!/usr/bin/env node
// The daxfs command: make, inspect, check and use pools from the shell.
import { closeSync, fstatSync, openSync, readFileSync, readSync, realpathSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { daxfsError } from '../errors.js';
import { packageRoot } from '../native.js';
import { Pool } from '../pool/pool.js';
import { parseCommandLine, wantsJson } from './daxfs-usage.js';
import { describeFailure, escapeForTerminal, formatFailure } from './output.js';
import { Progress } from './progress.js';
import { salvagePool } from './salvage.js';
import { formatSize } from './units.js';

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: Io = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

const CHUNK = 8 << 20;

/** Runs one command line; returns the exit status. Results go to stdout, errors and usage errors to stderr. */
export function main(argv: string[], io: Io = processIo): number {
  const json = wantsJson(argv);
  try {
    return run(argv, io);
  } catch (e) {
    const failure = describeFailure(e);
    io.stderr(formatFailure(failure, json));
    return failure.status;
  }
}

/** Runs one command line; throws what went wrong (describeFailure says how to report it). */
function run(argv: string[], io: Io = processIo): number {
  const parsed = parseCommandLine(argv);
  if (parsed.kind === 'help') {
    io.stdout(`${parsed.text}\n`);
    return 0;
  }
  const json = wantsJson(argv);
  const print = (human: string, data: unknown) => io.stdout(json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
  if (parsed.kind === 'version') {
    print(`daxfs ${version()}`, { version: version() });
    return 0;
  }
  const { command, args } = parsed;
  const esc = escapeForTerminal;

  switch (command) {
    case 'mkfs': {
      const progress = new Progress('zeroing');
      const pool = Pool.format(args[0]!, {
        ...(parsed.size !== undefined ? { size: parsed.size } : {}),
        zeroAll: parsed.zero,
        onProgress: (d, t) => progress.update(d, t),
      });
      progress.done();
      const info = pool.info();
      pool.close();
      print(`formatted ${esc(info.path)}: ${formatSize(info.size)}, ${formatSize(info.freeBlocks * info.blockSize)} free, up to ${info.inodes.capacity} files`, info);
      return 0;
    }
    case 'info': {
      const pool = Pool.open(args[0]!, { readOnly: true });
      const info = pool.info();
      pool.close();
      const used = (info.dataBlocks - info.freeBlocks) * info.blockSize;
      print(
        [
          `pool        ${esc(info.path)}`,
          `uuid        ${info.uuid}`,
          `size        ${formatSize(info.size)} (${info.blocks} blocks of ${info.blockSize} bytes)`,
          `used        ${formatSize(used)} of ${formatSize(info.dataBlocks * info.blockSize)} (${formatSize(info.freeBlocks * info.blockSize)} free)`,
          `files       ${info.files} (${info.inodes.used} of ${info.inodes.capacity} inodes in use)`,
          `journal     ${formatSize(info.journalBytes)}`,
          `persistence ${info.persistence}`,
        ].join('\n'),
        info,
      );
      return 0;
    }
    case 'check': {
      const pool = Pool.open(args[0]!, { readOnly: !parsed.repair });
      const progress = new Progress('checking');
      try {
        const report = pool.check({ repair: parsed.repair, onProgress: (d, t) => progress.update(d * 4096, t * 4096) });
        progress.done();
        const lines = report.problems.map((p) => `${report.repaired.includes(p) ? 'repaired' : p.repairable ? 'repairable' : 'PROBLEM'}: ${p.kind}: ${esc(p.message)}`);
        lines.push(
          report.problems.length === 0
            ? `clean: ${report.filesChecked} files, ${report.blocksChecked} blocks checked`
            : `${report.problems.length} problem(s), ${report.repaired.length} repaired${report.ok ? '' : '; run check --repair to fix the repairable ones'}`,
        );
        print(lines.join('\n'), report);
        if (report.problems.length === 0) return 0;
        return report.ok ? 1 : 4;
      } finally {
        pool.close();
      }
    }
    case 'ls': {
      const pool = Pool.open(args[0]!, { readOnly: true });
      const files = pool.list();
      pool.close();
      const row = (f: (typeof files)[number]) => `${formatSize(f.size).padStart(10)}  ${new Date(f.mtimeMs).toISOString()}  ${esc(f.name)}${f.damaged !== undefined ? `  (DAMAGED: ${esc(f.damaged)})` : ''}`;
      print(files.map(row).join('\n') || '(no files)', files);
      return 0;
    }
    case 'stat': {
      const pool = Pool.open(args[0]!, { readOnly: true });
      const st = pool.stat(args[1]!);
      pool.close();
      print(
        [`name      ${esc(st.name)}`, `size      ${formatSize(st.size)} (${st.size} bytes)`, `allocated ${formatSize(st.allocated)}`, `extents   ${st.extents}`, `modified  ${new Date(st.mtimeMs).toISOString()}`].join('\n'),
        st,
      );
      return 0;
    }
    case 'put': {
      const [poolPath, file, name = path.basename(args[1]!)] = args as [string, string, string?];
      const fd = openSync(file, 'r');
      const pool = Pool.open(poolPath);
      try {
        const total = fstatSync(fd).size;
        const f = pool.open(name, { create: true });
        f.truncate(0);
        const chunk = Buffer.alloc(Math.min(CHUNK, Math.max(total, 1)));
        const progress = new Progress(`put ${name}`);
        let done = 0;
        for (;;) {
          const n = readSync(fd, chunk, 0, chunk.length, null);
          if (n === 0) break;
          const written = f.write(chunk, done, 0, n);
          if (written < n) throw daxfsError('ENOSPC', `the pool is full after ${formatSize(done + written)} of '${name}'`);
          done += n;
          progress.update(done, total);
        }
        progress.done();
        f.close();
        print(`put ${esc(name)}: ${formatSize(done)}`, { name, bytes: done });
        return 0;
      } finally {
        pool.close();
        closeSync(fd);
      }
    }
    case 'get': {
      const [poolPath, name, file = name] = args as [string, string, string?];
      const pool = Pool.open(poolPath, { readOnly: true });
      try {
        const f = pool.open(name);
        const fd = file === '-' ? 1 : openSync(file!, 'w');
        try {
          const chunk = Buffer.alloc(Math.min(CHUNK, Math.max(f.size, 1)));
          const progress = new Progress(`get ${name}`);
          let done = 0;
          for (;;) {
            const n = f.read(chunk, done);
            if (n === 0) break;
            for (let at = 0; at < n; ) at += writeSync(fd, chunk, at, n - at);
            done += n;
            progress.update(done, f.size);
          }
          progress.done();
          if (file !== '-') print(`get ${esc(name)}: ${formatSize(done)} to ${esc(file)}`, { name, bytes: done, file });
          return 0;
        } finally {
          if (fd !== 1) closeSync(fd);
        }
      } finally {
        pool.close();
      }
    }
    case 'salvage': {
      const result = salvagePool(args[0]!, args[1]!);
      const lines = result.files.map((f) => `salvaged ${esc(f.name)}: ${formatSize(f.bytes)} to ${esc(f.file)}${f.damaged !== undefined ? ` (DAMAGED: ${esc(f.damaged)}; what could not be recovered reads as zeros)` : ''}`);
      lines.push(...result.notes.map((n) => `worked around: ${esc(n)}`));
      const damaged = result.files.filter((f) => f.damaged !== undefined).length;
      lines.push(`${result.files.length} file(s) salvaged to ${esc(result.dir)}${damaged > 0 ? `, ${damaged} of them damaged` : ''}`);
      print(lines.join('\n'), result);
      return damaged > 0 || result.notes.length > 0 ? 4 : 0;
    }
    case 'rm': {
      const pool = Pool.open(args[0]!);
      try {
        pool.unlink(args[1]!);
      } finally {
        pool.close();
      }
      print(`removed ${esc(args[1]!)}`, { removed: args[1] });
      return 0;
    }
  }
}

function version(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
