// The daxfs command's grammar: its subcommands, their help, and the parsing
// of a command line into one of them. Anything that does not fit is a
// UsageError (exit 2); nothing here touches a pool.
import { parseArgs } from 'node:util';

import { DaxfsError } from '../errors.js';
import { parseSize } from '../units.js';

type CommandOption = 'size' | 'zero' | 'sparse' | 'force' | 'mode' | 'repair';

interface CommandSpec {
  /** The positional arguments, as shown in help: `<x>` required, `[x]` optional. */
  synopsis: string;
  min: number;
  max: number;
  options: CommandOption[];
  summary: string;
  details: string;
}

const OPTION_HELP: Record<CommandOption | 'json' | 'help', string> = {
  size: '--size SIZE   create the file with this size (4096, 256M, 1G, 2TiB); it must not exist',
  zero: '--zero        zero the whole pool, not only its metadata',
  sparse: '--sparse      leave the file sparse: space is taken as blocks are allocated',
  force: '--force       format even over an existing pool, file with data, or device',
  mode: '--mode MODE   permission bits of the pool file, octal (default 0600: private)',
  repair: '--repair      repair what can be repaired (opens the pool read-write)',
  json: '--json        print the result as JSON on stdout; errors as JSON on stderr',
  help: '-h, --help    show this help',
};

export const COMMANDS = {
  mkfs: {
    synopsis: '<path>',
    min: 1,
    max: 1,
    options: ['size', 'zero', 'sparse', 'force', 'mode'],
    summary: 'format a pool (creating the file when --size is given)',
    details:
      'Formats <path> as an empty pool. Without --size, <path> must exist and keeps its size. An existing pool, file with data or device is refused without --force. The whole file is reserved on its file system first (refused, saying how much is free, when it does not fit) unless --sparse asks for a sparse pool, which takes space as blocks are allocated and fails those operations with ENOSPC when its file system is full. A file mkfs creates is mode 0600 unless --mode says otherwise; a failed mkfs removes it again.',
  },
  info: {
    synopsis: '<pool>',
    min: 1,
    max: 1,
    options: [],
    summary: 'geometry, usage, persistence mode',
    details: 'Opens <pool> read-only and shows its size, block use, files and persistence mode.',
  },
  check: {
    synopsis: '<pool>',
    min: 1,
    max: 1,
    options: ['repair'],
    summary: 'verify (and repair what can be repaired)',
    details:
      'Verifies every structure of <pool>. With --repair, also lists what the read-write mount itself repaired. Exit status: 0 clean, 1 problems found and all repaired, 4 problems left, 8 could not check (the pool could not be opened or read).',
  },
  ls: {
    synopsis: '<pool>',
    min: 1,
    max: 1,
    options: [],
    summary: 'list files',
    details: 'Lists the files of <pool>: size, modification time, name.',
  },
  stat: {
    synopsis: '<pool> <name>',
    min: 2,
    max: 2,
    options: [],
    summary: 'one file',
    details: 'Shows the size, allocation, extent count and modification time of one file.',
  },
  put: {
    synopsis: '<pool> <file> [name]',
    min: 2,
    max: 3,
    options: [],
    summary: 'copy a file into the pool',
    details:
      "Copies <file> into <pool> as [name] (default: the file's base name), replacing a file of that name atomically: the copy is made under a temporary name and renamed over the old file only once complete, so a failure leaves the old file as it was.",
  },
  get: {
    synopsis: '<pool> <name> [file]',
    min: 2,
    max: 3,
    options: [],
    summary: "copy a file out of the pool ('-' for stdout)",
    details:
      "Copies <name> out of <pool> to [file] (default: <name>; '-' writes to stdout). The copy goes to a temporary file beside [file], renamed over it once complete; [file] must not be the pool itself.",
  },
  rm: {
    synopsis: '<pool> <name>',
    min: 2,
    max: 2,
    options: [],
    summary: 'remove a file',
    details: 'Removes one file from <pool>.',
  },
  salvage: {
    synopsis: '<pool> <dir>',
    min: 2,
    max: 2,
    options: [],
    summary: 'copy every readable file out of a damaged pool',
    details:
      "Opens <pool> read-only in salvage mode and copies every file it can read into <dir> (created if missing; no file there is overwritten), damaged files as far as they can be recovered. Names '.', '..' and '%' are written percent-encoded. Exit status: 0 every file whole, 4 some damage (listed).",
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

function specOf(name: CommandName): CommandSpec {
  return COMMANDS[name];
}

/** The command line was wrong: exit 2, with the usage of the command concerned. */
export class UsageError extends DaxfsError {
  /** The usage line of the command concerned (of daxfs itself when none is). */
  readonly usage: string;

  constructor(
    message: string,
    /** The command whose usage applies, if any. */
    readonly command?: CommandName | 'help' | 'version',
  ) {
    super('EUSAGE', message);
    this.usage =
      command === 'help' ? 'usage: daxfs help [command]' : command === 'version' ? 'usage: daxfs --version' : command ? commandUsage(command) : 'usage: daxfs <command> [options]';
  }
}

function commandUsage(name: CommandName): string {
  const spec = specOf(name);
  const options = spec.options.map((o) => (o === 'size' ? '[--size SIZE]' : o === 'mode' ? '[--mode MODE]' : `[--${o}]`));
  return ['usage: daxfs', name, spec.synopsis, ...options, '[--json]'].join(' ');
}

export function generalHelp(): string {
  const rows = Object.entries(COMMANDS).map(([name, spec]) => `  ${`${name} ${spec.synopsis}`.padEnd(28)}${spec.summary}`);
  return [
    'usage: daxfs <command> [options]',
    '       daxfs help [command] | -h | --help | --version',
    '',
    ...rows,
    '',
    `  ${OPTION_HELP.json}`,
    `  ${OPTION_HELP.help} (after a command: that command's help)`,
    '  --version     print the version',
    '',
    'exit status: 0 done; 1 failed (the message gives the error code); 2 usage error;',
    'check: 0 clean, 1 problems repaired, 4 problems left, 8 could not check.',
    'error codes: docs/errors.md',
  ].join('\n');
}

export function commandHelp(name: CommandName): string {
  const spec = specOf(name);
  const options = [...spec.options, 'json', 'help'] as const;
  return [commandUsage(name), '', spec.details, '', 'options:', ...options.map((o) => `  ${OPTION_HELP[o]}`)].join('\n');
}

export type Parsed =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | {
      kind: 'run';
      command: CommandName;
      args: string[];
      size: number | undefined;
      zero: boolean;
      sparse: boolean;
      force: boolean;
      mode: number | undefined;
      repair: boolean;
    };

/** Whether the caller asked for JSON: known even when the rest fails to parse. */
export function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * `--size X` as `--size=X`: a value that starts with a dash (`--size -5M`)
 * is then a size to refuse as such, not an ambiguity of the option syntax.
 */
function joinSizeValue(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') return [...out, ...argv.slice(i)];
    if (argv[i] === '--size' && i + 1 < argv.length) out.push(`--size=${argv[++i]}`);
    else out.push(argv[i]!);
  }
  return out;
}

export function parseCommandLine(argv: string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinSizeValue(argv),
      allowPositionals: true,
      tokens: true,
      options: {
        size: { type: 'string' },
        zero: { type: 'boolean' },
        sparse: { type: 'boolean' },
        force: { type: 'boolean' },
        mode: { type: 'string' },
        repair: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (e) {
    // node:util's ERR_PARSE_ARGS_* errors (unknown option, missing or
    // ambiguous value such as `--size -5M`): the command line is wrong.
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      const first = argv.find((a) => !a.startsWith('-'));
      throw new UsageError((e as Error).message.replace(/\s*\n\s*/g, ' '), isCommand(first) ? first : undefined);
    }
    throw e;
  }
  const { values, positionals, tokens } = parsed;
  const [command, ...args] = positionals;

  if (command === 'help') {
    if (args.length > 1) throw new UsageError(`unexpected argument '${args[1]}'`, 'help');
    if (args.length === 0) return { kind: 'help', text: generalHelp() };
    if (!isCommand(args[0])) throw new UsageError(`unknown command '${args[0]}'`);
    return { kind: 'help', text: commandHelp(args[0]) };
  }
  if (command !== undefined && !isCommand(command)) throw new UsageError(`unknown command '${command}'`);
  if (values.help) return { kind: 'help', text: command ? commandHelp(command) : generalHelp() };
  if (values.version) {
    if (command !== undefined) throw new UsageError('--version takes no command', 'version');
    return { kind: 'version' };
  }
  if (command === undefined) throw new UsageError('no command given');

  const spec = specOf(command);
  for (const token of tokens) {
    if (token.kind === 'option' && !(['json', 'help', 'version'] as string[]).includes(token.name) && !(spec.options as string[]).includes(token.name))
      throw new UsageError(`${command} takes no ${token.rawName} option`, command);
  }
  if (args.length < spec.min) throw new UsageError(`${command} needs ${spec.synopsis.split(' ').slice(0, spec.min).join(' ')}`, command);
  if (args.length > spec.max) throw new UsageError(`unexpected argument '${args[spec.max]}'`, command);
  let size: number | undefined;
  if (values.size !== undefined) {
    try {
      size = parseSize(values.size);
    } catch (e) {
      throw new UsageError(`--size: ${(e as Error).message}`, command);
    }
  }
  let mode: number | undefined;
  if (values.mode !== undefined) {
    if (!/^0*[0-7]{1,3}$/.test(values.mode)) throw new UsageError(`--mode: not an octal mode: '${values.mode}' (examples: 0600, 0640)`, command);
    mode = parseInt(values.mode, 8);
  }
  return { kind: 'run', command, args, size, zero: values.zero ?? false, sparse: values.sparse ?? false, force: values.force ?? false, mode, repair: values.repair ?? false };
}
