// How the daxfs command shows text it does not control (file names, paths,
// error messages) and how it reports a failure, for people and for programs.
import { isDaxfsError } from '../errors.js';
import { UsageError } from './daxfs-usage.js';

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

/**
 * `text` with every character that could move the cursor, rewrite the
 * terminal or reorder the line shown as an escape: C0 and C1 controls and
 * DEL (`\n`, `\x1b`), line separators and bidirectional overrides
 * (`\u202e`); a backslash doubles, so that the result reads one way only.
 */
export function escapeForTerminal(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/gu, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const n = c.codePointAt(0)!;
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

export interface Failure {
  /** The process exit status: 2 for a usage error, 1 for anything else. */
  status: number;
  code: string;
  /** The message without its code. */
  message: string;
  /** For a usage error: the usage line, and the command `daxfs help` explains. */
  usage?: string;
  help?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/** What went wrong, from anything run() threw. */
export function describeFailure(e: unknown): Failure {
  if (e instanceof UsageError) {
    const help = e.command && e.command !== 'help' && e.command !== 'version' ? `daxfs help ${e.command}` : 'daxfs help';
    return { status: 2, code: e.code, message: e.message, usage: e.usage, help };
  }
  if (isDaxfsError(e)) {
    const { errno, syscall, path } = e;
    return { status: 1, code: e.code, message: e.message, ...(errno !== undefined ? { errno } : {}), ...(syscall ? { syscall } : {}), ...(path !== undefined ? { path } : {}) };
  }
  if (e instanceof Error) {
    // node:fs errors (put and get read and write ordinary files) carry an
    // errno name in `code` and repeat it at the start of the message.
    const own = (e as { code?: unknown }).code;
    const code = typeof own === 'string' ? own : e.name;
    const message = e.message.startsWith(`${code}: `) ? e.message.slice(code.length + 2) : e.message;
    const { errno, syscall, path } = e as { errno?: unknown; syscall?: unknown; path?: unknown };
    return {
      status: 1,
      code,
      message,
      ...(typeof errno === 'number' ? { errno } : {}),
      ...(typeof syscall === 'string' ? { syscall } : {}),
      ...(typeof path === 'string' ? { path } : {}),
    };
  }
  return { status: 1, code: 'Error', message: String(e) };
}

/** The failure as written to stderr: one JSON line, or `daxfs: CODE: message` (and the usage). */
export function formatFailure(f: Failure, json: boolean): string {
  if (json) {
    const { status: _status, ...error } = f;
    return `${JSON.stringify({ error })}\n`;
  }
  const usage = f.usage ? `${f.usage}\n(run '${f.help}' for more)\n` : '';
  return `daxfs: ${f.code}: ${escapeForTerminal(f.message)}\n${usage}`;
}
