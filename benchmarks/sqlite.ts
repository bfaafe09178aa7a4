// node:sqlite when the running Node has it: 24 and later always, 22.13 and
// later unflagged, 22.5–22.12 behind --experimental-sqlite (the bench runner
// passes that flag where Node knows it), Node 20 never. Typed here by hand:
// the project's Node types are those of Node 20, which has no node:sqlite.

export interface SqliteStatement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): Record<string, unknown> | undefined;
}

export interface SqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
}

export interface SqliteModule {
  DatabaseSync: new (path: string) => SqliteDatabase;
}

function versionAtLeast(major: number, minor: number): boolean {
  const [ma, mi] = process.versions.node.split('.').map(Number) as [number, number];
  return ma > major || (ma === major && mi >= minor);
}

/** The module, or why this Node cannot give it. */
export async function loadSqlite(): Promise<{ sqlite: SqliteModule } | { reason: string }> {
  const name = 'node:sqlite'; // not a literal import: Node 20's types have no such module
  try {
    return { sqlite: (await import(name)) as SqliteModule };
  } catch (e) {
    if (!versionAtLeast(22, 5)) return { reason: `Node ${process.version} has no node:sqlite (it came in 22.5)` };
    if (!versionAtLeast(22, 13)) return { reason: `node:sqlite needs --experimental-sqlite on Node ${process.version} (npm run bench passes it)` };
    return { reason: `node:sqlite failed to load on Node ${process.version}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Node flags that make node:sqlite available and quiet where this Node knows them. */
export function sqliteNodeFlags(): string[] {
  const flags: string[] = [];
  if (process.allowedNodeEnvironmentFlags.has('--experimental-sqlite')) flags.push('--experimental-sqlite');
  if (flags.length > 0 && process.allowedNodeEnvironmentFlags.has('--disable-warning')) flags.push('--disable-warning=ExperimentalWarning');
  return flags;
}
