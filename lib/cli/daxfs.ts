#!/usr/bin/env node
// The daxfs command: make, inspect, check and use pools from the shell.
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { packageRoot } from '../native.js';
import { Pool } from '../pool/pool.js';
import { CHECK_FAILED, describeCheck, mountRepairs, readOnlyNotes } from './check-report.js';
import { parseCommandLine, wantsJson, type Parsed } from './daxfs-usage.js';
import { describeFailure, escapeForTerminal, formatFailure } from './output.js';
import { Progress } from './progress.js';
import { checkArgumentBytes, rawArguments } from './raw-argv.js';
import { salvagePool } from './salvage.js';
import { get, put } from './transfer.js';
import { formatSize } from '../units.js';

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: Io = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

/**
 * Runs one command line; returns the exit status. Results go to stdout,
 * errors and usage errors to stderr. `raw` are the same arguments as the
 * kernel passed them (bytes), to refuse any that is not valid UTF-8.
 */
export function main(argv: string[], io: Io = processIo, raw?: Buffer[]): number {
  const json = wantsJson(argv);
  let command: string | undefined;
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'run') command = parsed.command;
    checkArgumentBytes(argv, raw);
    return run(parsed, argv, io);
  } catch (e) {
    const failure = describeFailure(e);
    // check's own statuses (1 and 4) describe the pool: a failure to check is another one
    if (command === 'check' && failure.status === 1) failure.status = CHECK_FAILED;
    io.stderr(formatFailure(failure, json));
    return failure.status;
  }
}

/** Runs one parsed command line; throws what went wrong (describeFailure says how to report it). */
function run(parsed: Parsed, argv: string[], io: Io): number {
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
      const progress = { reserving: new Progress('reserving'), zeroing: new Progress('zeroing') };
      let pool: Pool;
      try {
        pool = Pool.format(args[0]!, {
          ...(parsed.size !== undefined ? { size: parsed.size } : {}),
          ...(parsed.mode !== undefined ? { mode: parsed.mode } : {}),
          exclusive: !parsed.force,
          zeroAll: parsed.zero,
          sparse: parsed.sparse,
          onProgress: (d, t, phase) => {
            if (phase === 'zeroing') progress.reserving.done();
            progress[phase].update(d, t);
          },
        });
      } catch (e) {
        if ((e as { code?: unknown }).code === 'EEXIST' && !parsed.force) (e as Error).message += '; add --force to format it anyway';
        throw e;
      }
      progress.reserving.done();
      progress.zeroing.done();
      const info = pool.info();
      pool.close();
      print(`formatted ${esc(info.path)}: ${formatSize(info.size)}${info.sparse ? ' (sparse)' : ''}, ${formatSize(info.freeBlocks * info.blockSize)} free, an inode table of ${info.inodes.capacity} files (it grows as files are created)`, info);
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
          `backing     ${info.sparse ? `sparse: ${formatSize(info.backedBytes)} of ${formatSize(info.size)} allocated, the rest as blocks are allocated` : `reserved: all ${formatSize(info.size)} allocated`}`,
        ].join('\n'),
        info,
      );
      return 0;
    }
    case 'check': {
      const pool = Pool.open(args[0]!, { readOnly: !parsed.repair });
      const progress = new Progress('checking');
      try {
        const atMount = parsed.repair ? mountRepairs(pool.info()) : [];
        const notes = readOnlyNotes(pool.info());
        const report = pool.check({ repair: parsed.repair, onProgress: (d, t) => progress.update(d * 4096, t * 4096) });
        progress.done();
        const { text, status } = describeCheck(report, atMount, notes);
        print(text, { ...report, repairedAtMount: atMount, notes });
        return status;
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
      const bytes = put(poolPath, file, name);
      print(`put ${esc(name)}: ${formatSize(bytes)}`, { name, bytes });
      return 0;
    }
    case 'get': {
      const [poolPath, name, file = name] = args as [string, string, string?];
      const bytes = get(poolPath, name, file);
      if (file !== '-') print(`get ${esc(name)}: ${formatSize(bytes)} to ${esc(file)}`, { name, bytes, file });
      return 0;
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
  process.exitCode = main(process.argv.slice(2), processIo, rawArguments(process.argv.length - 2));
}
