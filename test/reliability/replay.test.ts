// Saved crash images (test/reliability/images): each was once a failing
// image of the crash simulator, kept with the operation log that produced
// it. Replayed here: it must mount, check clean and match the operations
// acknowledged at its crash point. Add one by copying a failure the
// simulator saved (DAXFS_SIM_FAILURES, /tmp/daxfs-crash-failures by
// default: the .img gzipped, the .json as it is).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import { describe as group, expect, it } from 'vitest';

import { packageRoot } from '../../lib/native.js';
import { tmpfsDir, uniquePath } from '../helpers.js';
import { applySim, checkImage, type SimOp } from './crash-sim.js';
import type { State } from '../pool/crash-model.js';

const dir = tmpfsDir();
const IMAGES = path.join(packageRoot, 'test/reliability/images');

interface Saved {
  name: string;
  acked: number;
  inFlight: number | null;
  ops: SimOp[];
  written: (number | null)[];
}

group('saved crash images replay clean', () => {
  const saved = readdirSync(IMAGES).filter((f) => f.endsWith('.json'));
  it('there is at least one', () => expect(saved.length).toBeGreaterThan(0));
  for (const file of saved) {
    const info = JSON.parse(readFileSync(path.join(IMAGES, file), 'utf8')) as Saved;
    it(`${info.name}`, () => {
      let state: State = new Map();
      for (let i = 0; i < info.acked; i++) state = applySim(state, info.ops[i]!, info.written[i] ?? undefined);
      const image = gunzipSync(readFileSync(path.join(IMAGES, file.replace(/\.json$/, '.img.gz'))));
      const at = uniquePath(dir, 'replay');
      writeFileSync(at, image);
      expect(checkImage(at, state, info.inFlight === null ? undefined : info.ops[info.inFlight])).toBeNull();
    });
  }
});
