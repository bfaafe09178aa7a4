import { main } from '../lib/cli/daxfs.js';

/** Runs the daxfs command in this process: its exit status, stdout and stderr. */
export function daxfs(...argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}
