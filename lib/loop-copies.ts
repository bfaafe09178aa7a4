// Which asynchronous copies the calling thread makes itself.
//
// A copy of at most LOOP_COPY_LIMIT bytes is left to the thread that asked
// for it, which makes it just before its event loop would wait for events
// (native/copy_queue.h) and settles it in the same turn: a thread wake-up
// each way costs about as much as copying 1 MiB on a busy machine, and the
// promise could not settle sooner anyway. A larger copy goes to the copy
// threads, so that no single copy holds the loop for more than ~40 µs at
// DRAM speed.

/** The largest copy left to the calling thread. */
export const LOOP_COPY_LIMIT = 1 << 20;

/** Whether a copy of `length` bytes is left to the calling thread. */
export function copiesOnLoop(length: number): boolean {
  return length > 0 && length <= LOOP_COPY_LIMIT;
}
