#!/usr/bin/env node
// The daxfs command: make, inspect, check and use pools from the shell.
import { closeSync, fstatSync, openSync, readSync, realpathSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { isDaxfsError } from '../errors.js';
import { Pool } from '../pool/pool.js';
import { Progress } from './progress.js';
import { formatSize, parseSize } from './units.js';

export const USAGE = `usage: daxfs <command> [options]

  mkfs <path> [--size 1G] [--zero]      format a pool (creating the file when --size is given)
  info <pool>                           geometry, usage, persistence mode
  check <pool> [--repair]               verify (and repair what can be repaired)
  ls <pool>                             list files
  stat <pool> <name>                    one file
  put <pool> <file> [name]              copy a file into the pool
  get <pool> <name> [file]              copy a file out of the pool ('-' for stdout)
  rm <pool> <name>                      remove a file

  --json   machine-readable output        --help   this text

exit codes: 0 done; 1 failed (the message says why, with its code); 2 usage error;
check: 0 clean, 1 problems repaired, 4 problems left.`;

export class UsageError extends Error {}

const CHUNK = 8 << 20;

type Out = (text: string) => void;

function need(args: string[], count: number, what: string): void {
  if (args.length < count) throw new UsageError(`${what}\n\n${USAGE}`);
}

/** Runs one command; returns the exit code. */
export function run(argv: string[], out: Out = (t) => process.stdout.write(t)): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      size: { type: 'string' },
      zero: { type: 'boolean', default: false },
      repair: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const [command, ...args] = positionals;
  if (values.help || !command) {
    out(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  const json = values.json;
  const print = (human: string, data: unknown) => out(json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);

  switch (command) {
    case 'mkfs': {
      need(args, 1, 'mkfs needs a path');
      const progress = new Progress('zeroing');
      const pool = Pool.format(args[0]!, {
        ...(values.size !== undefined ? { size: parseSize(values.size) } : {}),
        zeroAll: values.zero,
        onProgress: (d, t) => progress.update(d, t),
      });
      progress.done();
      const info = pool.info();
      pool.close();
      print(`formatted ${info.path}: ${formatSize(info.size)}, ${formatSize(info.freeBlocks * info.blockSize)} free, up to ${info.inodes.capacity} files`, info);
      return 0;
    }
    case 'info': {
      need(args, 1, 'info needs a pool');
      const pool = Pool.open(args[0]!, { readOnly: true });
      const info = pool.info();
      pool.close();
      const used = (info.dataBlocks - info.freeBlocks) * info.blockSize;
      print(
        [
          `pool        ${info.path}`,
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
      need(args, 1, 'check needs a pool');
      const pool = Pool.open(args[0]!, { readOnly: !values.repair });
      const progress = new Progress('checking');
      try {
        const report = pool.check({ repair: values.repair, onProgress: (d, t) => progress.update(d * 4096, t * 4096) });
        progress.done();
        const lines = report.problems.map((p) => `${report.repaired.includes(p) ? 'repaired' : p.repairable ? 'repairable' : 'PROBLEM'}: ${p.kind}: ${p.message}`);
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
      need(args, 1, 'ls needs a pool');
      const pool = Pool.open(args[0]!, { readOnly: true });
      const files = pool.list();
      pool.close();
      print(files.map((f) => `${formatSize(f.size).padStart(10)}  ${new Date(f.mtimeMs).toISOString()}  ${f.name}`).join('\n') || '(no files)', files);
      return 0;
    }
    case 'stat': {
      need(args, 2, 'stat needs a pool and a name');
      const pool = Pool.open(args[0]!, { readOnly: true });
      const st = pool.stat(args[1]!);
      pool.close();
      print(
        [`name      ${st.name}`, `size      ${formatSize(st.size)} (${st.size} bytes)`, `allocated ${formatSize(st.allocated)}`, `extents   ${st.extents}`, `modified  ${new Date(st.mtimeMs).toISOString()}`].join('\n'),
        st,
      );
      return 0;
    }
    case 'put': {
      need(args, 2, 'put needs a pool and a file');
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
          if (written < n) throw Object.assign(new Error(`pool full after ${formatSize(done + written)}`), { code: 'ENOSPC' });
          done += n;
          progress.update(done, total);
        }
        progress.done();
        f.close();
        print(`put ${name}: ${formatSize(done)}`, { name, bytes: done });
        return 0;
      } finally {
        pool.close();
        closeSync(fd);
      }
    }
    case 'get': {
      need(args, 2, 'get needs a pool and a name');
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
          if (file !== '-') print(`get ${name}: ${formatSize(done)} to ${file}`, { name, bytes: done, file });
          return 0;
        } finally {
          if (fd !== 1) closeSync(fd);
        }
      } finally {
        pool.close();
      }
    }
    case 'rm': {
      need(args, 2, 'rm needs a pool and a name');
      const pool = Pool.open(args[0]!);
      try {
        pool.unlink(args[1]!);
      } finally {
        pool.close();
      }
      print(`removed ${args[1]}`, { removed: args[1] });
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command}'\n\n${USAGE}`);
  }
}

/** Exit code and message for an error thrown by run(). */
export function describeFailure(e: unknown): { code: number; message: string } {
  if (e instanceof UsageError) return { code: 2, message: e.message };
  if (e instanceof Error && (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return { code: 2, message: `${e.message}\n\n${USAGE}` };
  if (isDaxfsError(e)) return { code: e.code === 'EINVAL' ? 2 : 1, message: `${e.code}: ${e.message}` };
  return { code: 1, message: e instanceof Error ? e.message : String(e) };
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = run(process.argv.slice(2));
  } catch (e) {
    const { code, message } = describeFailure(e);
    process.stderr.write(`daxfs: ${message}\n`);
    process.exitCode = code;
  }
}
