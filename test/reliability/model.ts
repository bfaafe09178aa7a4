// Model-based random testing: random sequences of file operations,
// mappings, faults, reads and writes through mappings, plain loads and
// stores on mapping buffers (served by the fault service), private copies,
// discards, truncates and reopenings run against the pool and against a
// small in-memory model; sizes, contents and error codes are compared after
// every step, and fast-check shrinks a failure to a minimal sequence. Every
// `checkEvery` steps the pool also checks itself: every mapping's pages
// against the block maps (verifyMappings) and the whole pool (check).
import fc from 'fast-check';

import { isDaxfsError, Pool, type FileMapping, type PoolFile } from '../../lib/index.js';
import { bytesFor } from '../pool/crash-model.js';

const PAGE = 4096;
export const NAMES = ['a', 'b', 'c', 'd'];
const MAX = 64 * 1024;

// ------------------------------------------------------------ the model

interface MFile {
  content: Buffer;
}

interface MMapping {
  file: MFile;
  offset: number;
  length: number;
  shared: boolean;
  write: boolean;
  /** Private copies by page of the mapping. */
  copies: Map<number, Buffer>;
}

export interface Model {
  files: Map<string, MFile>;
  mappings: MMapping[];
  /** Operations run so far (all runs), in total and by command. */
  counter: { ops: number; byKind: Map<string, number>; errors: number };
  /** verifyMappings() and check() run after every this many operations (counted over all runs). */
  checkEvery: number;
}

export interface Real {
  pool: Pool;
  path: string;
  mappings: FileMapping[];
  /** Handles kept open by appends (preallocation lives while one is open), by model file. */
  handles: Map<MFile, PoolFile>;
}

function eofPages(m: MMapping): number {
  return Math.ceil(m.file.content.length / PAGE) - m.offset / PAGE;
}

/** What the mapping shows at mapping offset `at`. */
function shownByte(m: MMapping, at: number): number {
  const copy = m.copies.get(Math.floor(at / PAGE));
  if (copy) return copy[at % PAGE]!;
  const fileAt = m.offset + at;
  return fileAt < m.file.content.length ? m.file.content[fileAt]! : 0;
}

function shown(m: MMapping, off: number, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = shownByte(m, off + i);
  return out;
}

function resize(file: MFile, size: number, models: Model): void {
  const next = Buffer.alloc(size);
  file.content.copy(next, 0, 0, Math.min(size, file.content.length));
  const shrank = size < file.content.length;
  file.content = next;
  // a smaller EOF tears down every page past it in every mapping, private copies too
  if (shrank)
    for (const m of models.mappings)
      if (m.file === file) for (const page of [...m.copies.keys()]) if (page >= eofPages(m)) m.copies.delete(page);
}

function writeFile(models: Model, file: MFile, data: Buffer, pos: number): void {
  if (pos + data.length > file.content.length) resize(file, pos + data.length, models);
  data.copy(file.content, pos);
}

/** Expected errors seen (all runs). */
export const expectedErrors = { count: 0 };

/** Runs `real`, expecting it to throw `code` (or to succeed when code is null). */
function expectOutcome<T>(what: string, code: string | null, real: () => T): T | undefined {
  let result: T;
  try {
    result = real();
  } catch (e) {
    const got = isDaxfsError(e) ? e.code : String(e);
    if (code === got) {
      expectedErrors.count++;
      return undefined;
    }
    throw new Error(`${what}: expected ${code ?? 'success'}, got ${got}: ${(e as Error).message}`);
  }
  if (code !== null) throw new Error(`${what}: expected ${code}, got success`);
  return result;
}

function compareFiles(models: Model, real: Real, what: string): void {
  const listed = real.pool.list().map((s) => s.name).sort();
  const expected = [...models.files.keys()].sort();
  if (listed.join() !== expected.join()) throw new Error(`${what}: files ${listed.join()} but the model has ${expected.join()}`);
  for (const [name, file] of models.files) {
    const f = real.pool.open(name);
    const size = f.size;
    const b = Buffer.alloc(size);
    f.read(b, 0);
    f.close();
    if (size !== file.content.length) throw new Error(`${what}: '${name}' is ${size} bytes, the model ${file.content.length}`);
    if (!b.equals(file.content)) throw new Error(`${what}: '${name}' differs from the model at byte ${b.findIndex((x, i) => x !== file.content[i])}`);
  }
}

/** The pool's own checks: no mapping page shows a block it should not, and check() finds nothing. */
function checkPool(real: Real, what: string): void {
  const pages = real.pool.verifyMappings();
  if (pages.length > 0) throw new Error(`${what}: verifyMappings: ${pages.join('; ')}`);
  const report = real.pool.check();
  if (!report.ok || report.problems.length > 0) throw new Error(`${what}: check: ${report.problems.map((p) => `${p.kind}: ${p.message}`).join('; ')}`);
}

// ------------------------------------------------------------ commands

type Cmd = fc.Command<Model, Real>;

abstract class Base implements Cmd {
  check(_m: Readonly<Model>): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    m.counter.ops++;
    const kind = this.constructor.name.replace(/_$/, '');
    m.counter.byKind.set(kind, (m.counter.byKind.get(kind) ?? 0) + 1);
    this.step(m, r);
    compareFiles(m, r, this.toString());
    if (m.counter.ops % m.checkEvery === 0) checkPool(r, this.toString());
  }
  abstract step(m: Model, r: Real): void;
  abstract toString(): string;
}

class Write extends Base {
  constructor(readonly name: string, readonly pos: number, readonly len: number, readonly seed: number) { super(); }
  step(m: Model, r: Real): void {
    const data = bytesFor(this.len, this.seed);
    const f = r.pool.open(this.name, { create: true });
    const n = f.write(data, this.pos);
    f.close();
    if (n !== this.len) throw new Error(`${this}: wrote ${n}`);
    let file = m.files.get(this.name);
    if (!file) m.files.set(this.name, (file = { content: Buffer.alloc(0) }));
    writeFile(m, file, data, this.pos);
  }
  toString(): string { return `write(${this.name}, ${this.pos}, ${this.len})`; }
}

class Read extends Base {
  constructor(readonly name: string, readonly pos: number, readonly len: number) { super(); }
  step(m: Model, r: Real): void {
    const file = m.files.get(this.name);
    const b = Buffer.alloc(this.len, 0xee);
    const n = expectOutcome(String(this), file ? null : 'ENOENT', () => {
      const f = r.pool.open(this.name);
      try {
        return f.read(b, this.pos);
      } finally {
        f.close();
      }
    });
    if (!file) return;
    const want = Math.max(0, Math.min(this.len, file.content.length - this.pos));
    if (n !== want || !b.subarray(0, want).equals(file.content.subarray(this.pos, this.pos + want))) throw new Error(`${this}: read ${n} bytes, wrong data`);
  }
  toString(): string { return `read(${this.name}, ${this.pos}, ${this.len})`; }
}

class Layout extends Base {
  constructor(readonly op: 'truncate' | 'allocate' | 'punch' | 'zero', readonly name: string, readonly off: number, readonly len: number) { super(); }
  step(m: Model, r: Real): void {
    const file = m.files.get(this.name);
    if (this.op === 'allocate' && this.len === 0) return;
    expectOutcome(String(this), file ? null : 'ENOENT', () => {
      const f = r.pool.open(this.name);
      try {
        if (this.op === 'truncate') f.truncate(this.off);
        else if (this.op === 'allocate') f.allocate(this.off, this.len);
        else if (this.op === 'punch') f.punchHole(this.off, this.len);
        else f.zeroRange(this.off, this.len);
      } finally {
        f.close();
      }
    });
    if (!file) return;
    const size = file.content.length;
    if (this.op === 'truncate') resize(file, this.off, m);
    else if (this.op === 'allocate') {
      if (this.off + this.len > size) resize(file, this.off + this.len, m);
    } else if (this.op === 'punch') file.content.fill(0, Math.min(this.off, size), Math.min(this.off + this.len, size));
    else if (this.len > 0) {
      // an empty zero range changes nothing, as an empty punch hole (not even the size)
      if (this.off + this.len > size) resize(file, this.off + this.len, m);
      file.content.fill(0, this.off, this.off + this.len);
    }
  }
  toString(): string { return `${this.op}(${this.name}, ${this.off}, ${this.len})`; }
}

class Rename extends Base {
  constructor(readonly from: string, readonly to: string) { super(); }
  step(m: Model, r: Real): void {
    const file = m.files.get(this.from);
    expectOutcome(String(this), file ? null : 'ENOENT', () => r.pool.rename(this.from, this.to));
    if (!file || this.from === this.to) return;
    m.files.delete(this.from);
    m.files.set(this.to, file);
  }
  toString(): string { return `rename(${this.from}, ${this.to})`; }
}

class Unlink extends Base {
  constructor(readonly name: string) { super(); }
  step(m: Model, r: Real): void {
    const file = m.files.get(this.name);
    expectOutcome(String(this), file ? null : 'ENOENT', () => r.pool.unlink(this.name));
    m.files.delete(this.name);
  }
  toString(): string { return `unlink(${this.name})`; }
}

class Map_ extends Base {
  constructor(readonly name: string, readonly page: number, readonly pages: number, readonly shared: boolean, readonly write: boolean) { super(); }
  override check(m: Readonly<Model>): boolean { return m.mappings.length < 6; }
  step(m: Model, r: Real): void {
    const file = m.files.get(this.name);
    const mapping = expectOutcome(String(this), file ? null : 'ENOENT', () => {
      const f = r.pool.open(this.name);
      try {
        return f.map({ offset: this.page * PAGE, length: this.pages * PAGE, shared: this.shared, write: this.write });
      } finally {
        f.close();
      }
    });
    if (!file || !mapping) return;
    r.mappings.push(mapping);
    m.mappings.push({ file, offset: this.page * PAGE, length: this.pages * PAGE, shared: this.shared, write: this.write, copies: new Map() });
  }
  toString(): string { return `map(${this.name}, page ${this.page}, ${this.pages} pages, ${this.shared ? 'shared' : 'private'}${this.write ? ', write' : ''})`; }
}

/** Resolves a generated index to a live mapping. */
abstract class OnMapping extends Base {
  constructor(readonly index: number) { super(); }
  override check(m: Readonly<Model>): boolean { return m.mappings.length > 0; }
  step(m: Model, r: Real): void {
    const i = this.index % m.mappings.length;
    this.onMapping(m, m.mappings[i]!, r.mappings[i]!, r, i);
  }
  abstract onMapping(m: Model, mm: MMapping, real: FileMapping, r: Real, i: number): void;
}

class Unmap extends OnMapping {
  onMapping(m: Model, _mm: MMapping, real: FileMapping, r: Real, i: number): void {
    real.unmap();
    if (real.buffer.byteLength !== 0) throw new Error('unmap left the buffer attached');
    m.mappings.splice(i, 1);
    r.mappings.splice(i, 1);
  }
  toString(): string { return `unmap(#${this.index})`; }
}

/** Span within the mapping, from two fractions. */
function span(mm: MMapping, a: number, b: number): [number, number] {
  const off = Math.floor(a * mm.length);
  return [off, Math.max(1, Math.floor(b * (mm.length - off)))];
}

function sigbus(mm: MMapping, off: number, len: number): boolean {
  return Math.floor((off + len - 1) / PAGE) >= eofPages(mm);
}

class MapRead extends OnMapping {
  constructor(index: number, readonly a: number, readonly b: number) { super(index); }
  onMapping(_m: Model, mm: MMapping, real: FileMapping): void {
    const [off, len] = span(mm, this.a, this.b);
    const out = Buffer.alloc(len);
    const n = expectOutcome(String(this), sigbus(mm, off, len) ? 'SIGBUS' : null, () => real.read(off, out));
    if (n === undefined) return;
    const want = shown(mm, off, len);
    if (!out.equals(want)) throw new Error(`${this}: mapping bytes differ from the model at ${out.findIndex((x, i) => x !== want[i])}`);
  }
  toString(): string { return `mapRead(#${this.index}, ${this.a.toFixed(3)}, ${this.b.toFixed(3)})`; }
}

class MapWrite extends OnMapping {
  constructor(index: number, readonly a: number, readonly b: number, readonly seed: number) { super(index); }
  onMapping(m: Model, mm: MMapping, real: FileMapping): void {
    const [off, len] = span(mm, this.a, this.b);
    const data = bytesFor(len, this.seed);
    // A shared store past EOF (inside the last page) lands beyond the file's
    // size, which the model does not track: not generated.
    if (mm.shared && mm.write && !sigbus(mm, off, len) && mm.offset + off + len > mm.file.content.length) return;
    const code = !mm.write ? 'EACCES' : sigbus(mm, off, len) ? 'SIGBUS' : null;
    expectOutcome(String(this), code, () => real.write(off, data));
    if (code) return;
    if (mm.shared) writeFile(m, mm.file, data, mm.offset + off);
    else copyOnWrite(mm, off, data);
  }
  toString(): string { return `mapWrite(#${this.index}, ${this.a.toFixed(3)}, ${this.b.toFixed(3)})`; }
}

/** Plain loads on the buffer, no call first (pages inside EOF only: past it the process would end with SIGBUS). */
class PlainLoad extends OnMapping {
  constructor(index: number, readonly a: number, readonly b: number) { super(index); }
  onMapping(_m: Model, mm: MMapping, real: FileMapping): void {
    const [off, len] = span(mm, this.a, this.b);
    if (sigbus(mm, off, len)) return;
    const view = new Uint8Array(real.buffer, off, len);
    const out = Buffer.alloc(len);
    for (let i = 0; i < len; i++) out[i] = view[i]!;
    const want = shown(mm, off, len);
    if (!out.equals(want)) throw new Error(`${this}: loads differ from the model at ${out.findIndex((x, i) => x !== want[i])}`);
  }
  toString(): string { return `plainLoad(#${this.index}, ${this.a.toFixed(3)}, ${this.b.toFixed(3)})`; }
}

/** Plain stores on the buffer of a writable mapping, no call first (inside EOF, as MapWrite). */
class PlainStore extends OnMapping {
  constructor(index: number, readonly a: number, readonly b: number, readonly seed: number) { super(index); }
  onMapping(m: Model, mm: MMapping, real: FileMapping): void {
    const [off, len] = span(mm, this.a, this.b);
    if (!mm.write || sigbus(mm, off, len)) return; // SIGSEGV / SIGBUS: the child-process tests cover those
    if (mm.shared && mm.offset + off + len > mm.file.content.length) return; // past the size, inside the last page
    const data = bytesFor(len, this.seed);
    const view = new Uint8Array(real.buffer, off, len);
    for (let i = 0; i < len; i++) view[i] = data[i]!;
    if (mm.shared) writeFile(m, mm.file, data, mm.offset + off);
    else copyOnWrite(mm, off, data);
  }
  toString(): string { return `plainStore(#${this.index}, ${this.a.toFixed(3)}, ${this.b.toFixed(3)})`; }
}

function copyOnWrite(mm: MMapping, off: number, data: Buffer): void {
  for (let i = 0; i < data.length; i++) {
    const at = off + i;
    const page = Math.floor(at / PAGE);
    let copy = mm.copies.get(page);
    if (!copy) {
      copy = Buffer.alloc(PAGE);
      for (let j = 0; j < PAGE; j++) copy[j] = shownByte(mm, page * PAGE + j);
      mm.copies.set(page, copy);
    }
    copy[at % PAGE] = data[i]!;
  }
}

class Discard extends OnMapping {
  constructor(index: number, readonly a: number, readonly b: number) { super(index); }
  onMapping(_m: Model, mm: MMapping, real: FileMapping): void {
    const first = Math.floor((this.a * mm.length) / PAGE);
    const pages = Math.max(1, Math.floor(this.b * (mm.length / PAGE - first)));
    real.discard(first * PAGE, pages * PAGE);
    for (let p = first; p < first + pages; p++) mm.copies.delete(p);
  }
  toString(): string { return `discard(#${this.index}, ${this.a.toFixed(3)}, ${this.b.toFixed(3)})`; }
}

/** file.write from a mapped range (the pages are faulted in first), or EFAULT. */
class WriteFromMapping extends OnMapping {
  constructor(index: number, readonly a: number, readonly b: number, readonly name: string, readonly pos: number) { super(index); }
  onMapping(m: Model, mm: MMapping, real: FileMapping, r: Real): void {
    const [off, len] = span(mm, this.a, this.b);
    const code = sigbus(mm, off, len) ? 'EFAULT' : null;
    const data = code ? undefined : shown(mm, off, len);
    expectOutcome(String(this), code, () => {
      const f = r.pool.open(this.name, { create: true });
      try {
        return f.write(new Uint8Array(real.buffer, off, len), this.pos);
      } finally {
        f.close();
      }
    });
    let file = m.files.get(this.name);
    if (!file) m.files.set(this.name, (file = { content: Buffer.alloc(0) }));
    if (data) writeFile(m, file, data, this.pos);
  }
  toString(): string { return `writeFromMapping(#${this.index}, ${this.a.toFixed(3)}, ${this.b.toFixed(3)} → ${this.name} @${this.pos})`; }
}

/** file.read into a mapped range (faulted for writing first), or EFAULT. */
class ReadIntoMapping extends OnMapping {
  constructor(index: number, readonly a: number, readonly b: number, readonly name: string, readonly pos: number) { super(index); }
  onMapping(m: Model, mm: MMapping, real: FileMapping, r: Real): void {
    const [off, len] = span(mm, this.a, this.b);
    const src = m.files.get(this.name);
    if (!src) return;
    if (mm.shared && mm.write && !sigbus(mm, off, len) && mm.offset + off + len > mm.file.content.length) return; // as in MapWrite
    const code = !mm.write || sigbus(mm, off, len) ? 'EFAULT' : null;
    const n = Math.max(0, Math.min(len, src.content.length - this.pos));
    const data = Buffer.from(src.content.subarray(this.pos, this.pos + n));
    const got = expectOutcome(String(this), code, () => {
      const f = r.pool.open(this.name);
      try {
        return f.read(new Uint8Array(real.buffer, off, len), this.pos);
      } finally {
        f.close();
      }
    });
    if (code) return;
    if (got !== n) throw new Error(`${this}: read ${got}, expected ${n}`);
    if (mm.shared) writeFile(m, mm.file, data, mm.offset + off);
    else {
      // the whole target range was faulted for writing: every page copied
      forceCopies(mm, off, len);
      copyOnWrite(mm, off, data);
    }
  }
  toString(): string { return `readIntoMapping(${this.name} @${this.pos} → #${this.index}, ${this.a.toFixed(3)}, ${this.b.toFixed(3)})`; }
}

/** A write fault over [off, off + len) of a private mapping copies every page, written or not. */
function forceCopies(mm: MMapping, off: number, len: number): void {
  for (let p = Math.floor(off / PAGE); p <= Math.floor((off + len - 1) / PAGE); p++) {
    if (mm.copies.has(p)) continue;
    const copy = Buffer.alloc(PAGE);
    for (let j = 0; j < PAGE; j++) copy[j] = shownByte(mm, p * PAGE + j);
    mm.copies.set(p, copy);
  }
}

/** An append through a handle kept open: the size-word path, block appends preallocate. */
class Append extends Base {
  constructor(readonly name: string, readonly blocks: number, readonly bytes: number, readonly seed: number) { super(); }
  step(m: Model, r: Real): void {
    const file = m.files.get(this.name);
    if (!file) return;
    const pos = file.content.length;
    const len = Math.min(pos % PAGE === 0 ? this.blocks * PAGE : this.bytes, MAX - pos);
    if (len <= 0) return;
    let h = r.handles.get(file);
    if (!h) r.handles.set(file, (h = r.pool.open(this.name)));
    const data = bytesFor(len, this.seed);
    if (h.write(data, pos) !== len) throw new Error(`${this}: short write`);
    writeFile(m, file, data, pos);
  }
  toString(): string { return `append(${this.name}, ${this.blocks} blocks or ${this.bytes} bytes)`; }
}

/** Closes a kept handle (its preallocation is trimmed). */
class CloseKept extends Base {
  constructor(readonly index: number) { super(); }
  override check(_m: Readonly<Model>): boolean { return true; }
  step(_m: Model, r: Real): void {
    const entries = [...r.handles];
    if (entries.length === 0) return;
    const [file, h] = entries[this.index % entries.length]!;
    h.close();
    r.handles.delete(file);
    if (!r.pool.check().ok) throw new Error(`${this}: check after the trim is not clean`);
  }
  toString(): string { return `closeKept(#${this.index})`; }
}

class Reopen extends Base {
  step(m: Model, r: Real): void {
    r.handles.clear(); // closing the pool ends them; their preallocation is freed at the next mount
    r.pool.close();
    for (const mapping of r.mappings) if (!mapping.unmapped || mapping.buffer.byteLength !== 0) throw new Error('close left a mapping attached');
    r.pool = Pool.open(r.path);
    r.mappings = [];
    m.mappings = [];
    if (!r.pool.check().ok) throw new Error('check after reopen is not clean');
  }
  toString(): string { return 'reopen()'; }
}

// ------------------------------------------------------------ generators

const name = fc.constantFrom(...NAMES);
const pos = fc.integer({ min: 0, max: MAX - 1 });
const frac = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

const write = fc.tuple(name, pos, fc.integer({ min: 1, max: 12 * 1024 }), fc.nat()).map(([n, p, l, s]) => new Write(n, p, Math.min(l, MAX - p), s));
const read = fc.tuple(name, pos, fc.integer({ min: 1, max: 16 * 1024 })).map(([n, p, l]) => new Read(n, p, l));
const layout = fc
  .tuple(fc.constantFrom('truncate', 'allocate', 'punch', 'zero'), name, pos, fc.integer({ min: 0, max: 16 * 1024 }))
  .map(([op, n, o, l]) => new Layout(op as 'truncate', n, o, Math.min(l, MAX - o)));
const map = fc.tuple(name, fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 8 }), fc.boolean(), fc.boolean()).map(([n, p, c, s, w]) => new Map_(n, p, c, s, w));
const mapRead = fc.tuple(fc.nat(), frac, frac).map(([i, a, b]) => new MapRead(i, a, b));
const mapWrite = fc.tuple(fc.nat(), frac, frac, fc.nat()).map(([i, a, b, s]) => new MapWrite(i, a, b, s));
const plainLoad = fc.tuple(fc.nat(), frac, frac).map(([i, a, b]) => new PlainLoad(i, a, b));
const plainStore = fc.tuple(fc.nat(), frac, frac, fc.nat()).map(([i, a, b, s]) => new PlainStore(i, a, b, s));
const fromMapping = fc.tuple(fc.nat(), frac, frac, name, pos).map(([i, a, b, n, p]) => new WriteFromMapping(i, a, b, n, p));
const intoMapping = fc.tuple(fc.nat(), frac, frac, name, pos).map(([i, a, b, n, p]) => new ReadIntoMapping(i, a, b, n, p));

/** The commands, repeated to weight them: data and mapping traffic most, reopenings least. */
export const commands = [
  write, write, write,
  read,
  layout, layout,
  fc.tuple(name, name).map(([a, b]) => new Rename(a, b)),
  name.map((n) => new Unlink(n)),
  map, map,
  fc.nat().map((i) => new Unmap(i)),
  mapRead, mapRead, mapRead,
  mapWrite, mapWrite, mapWrite,
  plainLoad, plainLoad,
  plainStore, plainStore, plainStore,
  fc.tuple(fc.nat(), frac, frac).map(([i, a, b]) => new Discard(i, a, b)),
  fromMapping, fromMapping,
  intoMapping, intoMapping,
  fc.tuple(name, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6000 }), fc.nat()).map(([n, b, l, s]) => new Append(n, b, l, s)),
  fc.tuple(name, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6000 }), fc.nat()).map(([n, b, l, s]) => new Append(n, b, l, s)),
  fc.tuple(name, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6000 }), fc.nat()).map(([n, b, l, s]) => new Append(n, b, l, s)),
  fc.nat().map((i) => new CloseKept(i)),
  fc.constant(new Reopen()),
];
