// Child process for the escaped-buffer tests: a buffer moved out of a view
// or a mapping buffer by transfer() escapes close(); its memory must then be
// inaccessible, never another region's bytes, and its addresses must stay
// reserved until it is collected.
//   region <dir>      transfer a region view's buffer, close, open other
//                     regions and mappings, then load through it (SIGSEGV)
//   mapping <dir>     the same with a mapping buffer, released
//   collect <dir> region|mapping   drop the escaped buffer, collect it
//                     (--expose-gc), report whether the range was given back
// Each step says what /proc/self/maps shows of the escaped range.
import { readFileSync, writeSync } from 'node:fs';
import path from 'node:path';

import { Region } from '../../lib/index.js';

const [mode, dir, kind] = process.argv.slice(2);
const say = (line: string) => writeSync(1, `${line}\n`);
const MiB = 1 << 20;
const PAGE = 4096;

interface Vma {
  start: bigint;
  end: bigint;
  perms: string;
  inode: string;
  path: string;
}

function maps(): Vma[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [range, perms, , , inode, ...rest] = line.trim().split(/\s+/);
      const [start, end] = range!.split('-').map((h) => BigInt(`0x${h}`));
      return { start: start!, end: end!, perms: perms!, inode: inode!, path: rest.join(' ') };
    });
}

/** The one VMA of `file` that is `length` bytes long. */
function rangeOf(file: string, length: number): [bigint, bigint] {
  const found = maps().filter((v) => v.path === file && v.end - v.start === BigInt(length));
  if (found.length !== 1) throw new Error(`expected one ${length}-byte mapping of ${file}, found ${found.length}`);
  return [found[0]!.start, found[0]!.end];
}

/**
 * What occupies [start, end): 'reserved' (inaccessible anonymous memory, all
 * of it: the kernel may merge it with a neighbour of the same kind), 'free'
 * (nothing), or the entries found there.
 */
function occupant([start, end]: [bigint, bigint]): string {
  const overlapping = maps().filter((v) => v.start < end && v.end > start);
  if (overlapping.length === 0) return 'free';
  let covered = start;
  for (const v of overlapping) {
    if (v.perms !== '---p' || v.inode !== '0' || v.path !== '' || v.start > covered) break;
    covered = v.end;
  }
  if (covered >= end) return 'reserved';
  return overlapping.map((v) => `${v.start.toString(16)}-${v.end.toString(16)} ${v.perms} ${v.path}`).join('; ');
}

type Transferable = ArrayBuffer & { transfer(): ArrayBuffer };
let counter = 0;
const file = (name: string) => path.join(dir!, `${name}-${process.pid}-${counter++}`);

/** Opens a region filled with 'A', escapes a buffer from it, then closes it. */
function escape(which: string): { escaped: ArrayBuffer; range: [bigint, bigint] } {
  const a = file('escapee');
  const region = Region.create(a, MiB);
  region.write(0, Buffer.alloc(MiB, 0x41));
  const mapping = which === 'mapping' ? region.createMapping(16 * PAGE) : undefined;
  mapping?.mapBlocks(0, 16 * PAGE, 0, true);
  const range = rangeOf(a, mapping ? 16 * PAGE : MiB);
  const escaped = ((mapping ? mapping.buffer : region.view(0, PAGE).buffer) as Transferable).transfer();
  // Until then, the escaped buffer shows the memory as it is.
  say(`ESCAPED ${escaped.byteLength} ${new Uint8Array(escaped)[0]}`);
  if (mapping) {
    mapping.release();
    say(`AFTER_RELEASE ${occupant(range)}`);
  }
  region.close();
  say(`AFTER_CLOSE ${occupant(range)}`);
  return { escaped, range };
}

/** Regions and mappings of other files, filled with 'B', while the escaped range is still there. */
function crowd(range: [bigint, bigint]): Region[] {
  const others: Region[] = [];
  for (let i = 0; i < 8; i++) {
    const r = Region.create(file('other'), MiB);
    r.write(0, Buffer.alloc(MiB, 0x42));
    const m = r.createMapping(16 * PAGE);
    m.mapBlocks(0, 16 * PAGE, 0, false);
    others.push(r);
  }
  say(`AFTER_OTHERS ${occupant(range)}`);
  return others;
}

if (mode === 'region' || mode === 'mapping') {
  const { escaped, range } = escape(mode);
  crowd(range);
  // Native I/O refuses the escaped memory instead of faulting on it.
  const target = Region.create(file('target'), MiB);
  try {
    target.write(0, new Uint8Array(escaped, 0, 16));
    say('IO accepted');
  } catch (e) {
    say(`IO ${(e as { code?: string }).code} ${(e as Error).message}`);
  }
  say('LOAD');
  say(`LOADED ${new Uint8Array(escaped)[0]}`); // must not return: the page is inaccessible
} else if (mode === 'collect') {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  let { escaped, range } = escape(kind!) as { escaped: ArrayBuffer | undefined; range: [bigint, bigint] };
  say(`HELD ${occupant(range)} ${escaped!.byteLength}`);
  escaped = undefined;
  // The finalizer runs on the event loop after the collection that found
  // the buffer dead; give it turns until the range is given back.
  let state = occupant(range);
  for (let turn = 0; turn < 100 && state === 'reserved'; turn++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    state = occupant(range);
  }
  say(`COLLECTED ${state}`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
