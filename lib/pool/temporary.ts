// Temporary files: a file filled under a reserved name before it takes its
// real one in a single rename (how `daxfs put` replaces a file atomically).
// The reserved prefix is one that user names cannot take (checkName refuses
// it), so a temporary is never listed, opened or replaced by name. The rest
// of the name records the process that made it — boot, pid, start time — so
// that a read-write mount can remove exactly the temporaries whose process is
// gone: with one writer at a time that is every temporary a mount finds, but
// the rule does not depend on it.
import { readFileSync } from 'node:fs';

export const TEMP_PREFIX = '.daxfs-tmp.';

/** The process a temporary belongs to. */
interface Maker {
  /** The first 8 hex digits of the kernel's boot id: pids and start times repeat across boots. */
  boot: string;
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): pids are reused. */
  start: string;
}

const FORMAT = /^\.daxfs-tmp\.([0-9a-f]{8})\.(\d+)\.(\d+)\.\d+$/;

function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').replace(/-/g, '').slice(0, 8);
}

/** Start time (field 22) and state (field 3) of a process, or undefined when there is none. */
function processStat(pid: number): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name (field 2) is in parentheses and may hold anything: count fields after it
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, start: fields[19]! };
}

let self: Maker | undefined;
let counter = 0;

function thisProcess(): Maker {
  self ??= { boot: bootId(), pid: process.pid, start: processStat(process.pid)!.start };
  return self;
}

/** A fresh temporary name for this process. */
export function temporaryName(): string {
  const me = thisProcess();
  counter += 1;
  return `${TEMP_PREFIX}${me.boot}.${me.pid}.${me.start}.${counter}`;
}

export function isTemporaryName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

/**
 * Whether the process that made temporary `name` may still be filling it:
 * the same boot, and a live process with that pid and that start time. A
 * reserved name not in this format was not made by a process that could
 * finish it: not live.
 */
export function temporaryIsLive(name: string): boolean {
  const m = FORMAT.exec(name);
  if (!m) return false;
  const maker: Maker = { boot: m[1]!, pid: Number(m[2]), start: m[3]! };
  if (maker.boot !== thisProcess().boot) return false;
  const stat = processStat(maker.pid);
  return stat !== undefined && stat.start === maker.start && stat.state !== 'Z' && stat.state !== 'X';
}
