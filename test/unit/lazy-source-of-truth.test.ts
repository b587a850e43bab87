import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteSourceOfTruth } from '../../src/adapters/sqlite/sqlite-source-of-truth.js';
import { LazySourceOfTruth } from '../../src/runtime/lazy-source-of-truth.js';
import { systemClock } from '../contract/fixture.js';

describe('a source of truth opened lazily', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('fails calls while it cannot open, then opens on the first call that can, once', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-lazy-'));
    const file = path.join(dir, 'sot.db');
    let down = true;
    let opens = 0;
    const sot = new LazySourceOfTruth(() => {
      opens += 1;
      if (down) return Promise.reject(new Error('connection refused'));
      return Promise.resolve(new SqliteSourceOfTruth(file, systemClock));
    });
    await sot.warmUp();
    expect(await sot.ping()).toBe(false);
    await expect(sot.products()).rejects.toThrow('connection refused');

    down = false;
    await sot.putProduct({
      sku: 'S1',
      name: 'one',
      price: { amount: 1, currency: 'USD' },
      onHand: 3,
    });
    expect(await sot.ping()).toBe(true);
    expect((await sot.product('S1'))?.onHand).toBe(3);
    expect(opens).toBe(4); // warm-up, ping and products failed; putProduct opened it
    await sot.close();
  });
});
