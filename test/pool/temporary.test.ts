// Temporary files: filled under a reserved name, published by one atomic
// rename, removed by a read-write mount once the process that made them is
// gone — and only then.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/native.js';
import { Pool } from '../../lib/index.js';
import { expectCode, pattern } from '../helpers.js';
import { newPool } from './helpers.js';

describe('temporary files', () => {
  it('are invisible and unreachable by name until published, which replaces atomically', () => {
    const { pool } = newPool();
    const free = pool.info().freeBlocks;
    const old = pool.open('data', { create: true });
    old.write(Buffer.from('old'), 0);
    const tmp = pool.createTemporary();
    const name = tmp.stat().name;
    expect(name).toMatch(new RegExp(`^\\.daxfs-tmp\\.[0-9a-f]{8}\\.${process.pid}\\.\\d+\\.\\d+$`));
    tmp.write(pattern(100_000), 0);
    expect(pool.list().map((f) => f.name)).toEqual(['data']);
    expect(pool.info().files).toBe(1);
    for (const call of [() => pool.open(name), () => pool.stat(name), () => pool.unlink(name), () => pool.rename(name, 'x'), () => pool.rename('data', name)])
      expectCode(call, 'EINVAL', /must not start with '\.daxfs-tmp\.'/);
    pool.publishTemporary(tmp, 'data');
    tmp.close();
    expect(pool.list().map((f) => [f.name, f.size])).toEqual([['data', 100_000]]);
    // the replaced file lives on for the handle that still has it open
    const back = Buffer.alloc(3);
    expect(old.read(back, 0)).toBe(3);
    expect(back.toString()).toBe('old');
    old.close();
    const gone = pool.createTemporary();
    gone.write(pattern(50_000), 0);
    pool.discardTemporary(gone);
    expectCode(() => pool.publishTemporary(gone, 'x'), 'EBADF');
    const plain = pool.open('data');
    expectCode(() => pool.publishTemporary(plain, 'x'), 'EINVAL', /not a temporary/);
    plain.close();
    expect(pool.check().problems).toEqual([]);
    expect(pool.info().freeBlocks).toBe(free - Math.ceil(100_000 / 4096));
    pool.close();
  });

  it('a read-write mount removes those of a process that is gone, and keeps those of a live one', () => {
    const { pool, path: poolPath } = newPool();
    const free = pool.info().freeBlocks;
    const mine = pool.createTemporary();
    mine.write(pattern(10_000), 0);
    const myName = mine.stat().name;
    pool.close();
    // this process is alive: its temporary stays, and is no problem
    const again = Pool.open(poolPath);
    expect(again.info().temporariesRemovedAtMount).toBe(0);
    expect(again.check().problems).toEqual([]);
    again.close();
    // another process makes one and exits without publishing it
    const script = `import { Pool } from ${JSON.stringify(path.join(packageRoot, 'dist/lib/index.js'))};
      const pool = Pool.open(process.argv[1]);
      pool.createTemporary().write(Buffer.alloc(200000, 7), 0);
      process.exit(0);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, poolPath], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    const ro = Pool.open(poolPath, { readOnly: true });
    expect(ro.check().problems.map((p) => [p.kind, p.repairable])).toEqual([['temporary', true]]);
    expect(ro.list()).toEqual([]);
    ro.close();
    const rw = Pool.open(poolPath);
    expect(rw.info().temporariesRemovedAtMount).toBe(1);
    expect(rw.check().problems).toEqual([]);
    // what is left is this process's own, still there
    expect(rw.info().freeBlocks).toBe(free - Math.ceil(10_000 / 4096));
    expect(rw.info().inodes.used).toBe(1);
    rw.close();
    expect(myName).toMatch(/^\.daxfs-tmp\./);
  });
});
