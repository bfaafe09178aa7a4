// Runs one benchmark file in a process of its own and returns what it
// printed: its code is compiled for its own workload, not shaped by whatever
// ran before it in the caller (in one process a quick pool overwrite measured
// ~1.0 µs, alone ~0.7 µs).
//
// While the child runs, an interrupt (SIGINT, SIGTERM, SIGHUP) of this
// process is passed on to it; once it has exited, whatever it left named in
// the emulated directory is removed, and this process then ends by the same
// signal. (Its backings have no names by then; a directory of small files
// for a node:fs comparison may.)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { removeLeftoversOf } from '../lib/emulated.js';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The compiled benchmark `file` (e.g. 'pool.js') beside this module. */
export function benchmarkScript(file: string): string {
  return fileURLToPath(new URL(`./${file}`, import.meta.url));
}

export function runChild(script: string, args: string[], nodeFlags: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let interrupted: NodeJS.Signals | null = null;
    const onSignal = (signal: NodeJS.Signals) => {
      interrupted = signal;
      child.kill(signal);
    };
    for (const s of FORWARDED) process.on(s, onSignal);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.on('error', (e) => {
      for (const s of FORWARDED) process.off(s, onSignal);
      reject(e);
    });
    child.on('close', (code, signal) => {
      for (const s of FORWARDED) process.off(s, onSignal);
      if (interrupted !== null) {
        if (child.pid !== undefined) removeLeftoversOf(child.pid);
        // With no listener left, the signal now ends this process as it
        // would have without us.
        process.kill(process.pid, interrupted);
        return;
      }
      if (code === 0) resolve(out);
      else reject(new Error(`${script} ${code === null ? `was ended by ${signal}` : `exited with code ${code}`}`));
    });
  });
}
