// Native I/O given a buffer that lies inside a mapping (file.write from a
// mapped range, file.read into one) must not meet a page that would fault:
// like the kernel's get_user_pages, the pages are faulted in first. The
// mapping owning an ArrayBuffer is found by identity.

export interface BufferOwner {
  /** Faults [byteOffset, byteOffset + length) of the buffer for a read or a write by I/O (EFAULT when it cannot). */
  faultForIO(byteOffset: number, length: number, write: boolean): void;
}

interface Registry {
  owners: WeakMap<ArrayBufferLike, BufferOwner>;
  /** Live mapping buffers: with none (the common case) I/O skips the lookup entirely. */
  live: number;
}

// One registry per process, not per copy of this module: a process that
// loads both the ESM and the CommonJS build has two copies, and a buffer
// mapped through one may be handed to I/O of the other, which must still
// fault its pages first (else native code touches an unfaulted page).
const KEY = Symbol.for('daxfs.mappedBuffers.v1');
const shared = globalThis as { [KEY]?: Registry };
const registry: Registry = (shared[KEY] ??= { owners: new WeakMap(), live: 0 });

export function registerBuffer(buffer: ArrayBuffer, owner: BufferOwner): void {
  registry.owners.set(buffer, owner);
  registry.live++;
}

/** The mapping is gone (its buffer detached). */
export function unregisterBuffer(buffer: ArrayBuffer): void {
  if (registry.owners.delete(buffer)) registry.live--;
}

/**
 * Before native I/O reads (`write` false) or writes (`write` true) bytes
 * [offset, offset + length) of `view`: faults them in if they lie in a
 * mapping (and says so: a fault may have changed the file). A no-op for
 * ordinary memory.
 */
export function faultUserBuffer(view: ArrayBufferView, offset: number, length: number, write: boolean): boolean {
  if (registry.live === 0 || length === 0) return false;
  const owner = registry.owners.get(view.buffer);
  if (!owner) return false;
  owner.faultForIO(view.byteOffset + offset, length, write);
  return true;
}
