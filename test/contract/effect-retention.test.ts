/**
 * The `once` ledger (done effects: an e-mail sent for an order's status) is remembered as
 * long as the retention lets an event repeat it, then forgotten: it no longer grows with
 * every order for good (the SQLite table kept every row).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { RedisConnection } from '../../src/adapters/redis/redis-connection.js';
import { RedisIdempotencyStore } from '../../src/adapters/redis/redis-idempotency-store.js';
import { effectTtlMs } from '../../src/adapters/shared/effect-retention.js';
import { SqliteIdempotencyStore } from '../../src/adapters/sqlite/sqlite-idempotency-store.js';
import { deleteNamespace, openRedis } from '../helpers/backends-redis.js';
import { enginesUp, randomNamespace } from '../helpers/engines.js';
import { ManualClock, systemClock } from './fixture.js';

const up = await enginesUp('redis');
const policy = { logMs: 1_000, orderMs: 2_000, deadLettersPerGroup: 10, logMaxBytes: 0 };

describe('the effect ledger under a retention', () => {
  it('lasts the longer retention, or 30 days when events or orders are kept for good', () => {
    expect(effectTtlMs(policy)).toBe(2_000);
    expect(effectTtlMs({ ...policy, logMs: 0 })).toBe(30 * 86_400_000);
    expect(effectTtlMs(undefined)).toBe(30 * 86_400_000);
  });

  describe('SQLite', () => {
    let dir: string | undefined;
    afterEach(async () => {
      if (dir) await fs.rm(dir, { recursive: true, force: true });
    });

    it('forgets an effect past its time and removes its row with the next marks', async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-effects-'));
      const file = path.join(dir, 'hot.db');
      const clock = new ManualClock();
      const store = new SqliteIdempotencyStore(file, clock, 1_000);
      await store.markDone('mail:o1:COMPLETED');
      expect(await store.wasDone('mail:o1:COMPLETED')).toBe(true);
      clock.advance(1_001);
      expect(await store.wasDone('mail:o1:COMPLETED')).toBe(false);
      await store.markDone('mail:o2:COMPLETED');
      await store.close();
      const db = new Database(file, { readonly: true });
      try {
        expect(db.prepare('SELECT key FROM effects').all()).toEqual([{ key: 'mail:o2:COMPLETED' }]);
      } finally {
        db.close();
      }
    });
  });

  describe.skipIf(!up)('Redis', () => {
    let connection: RedisConnection | undefined;
    const namespace = randomNamespace('effects');
    afterEach(async () => {
      if (!connection) return;
      await deleteNamespace(connection, namespace);
      await connection.close();
    });

    it('keeps an effect key for the ledger time only', async () => {
      connection = await openRedis();
      const store = new RedisIdempotencyStore(connection, namespace, systemClock, 300);
      await store.markDone('mail:o1:COMPLETED');
      expect(await store.wasDone('mail:o1:COMPLETED')).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 450));
      expect(await store.wasDone('mail:o1:COMPLETED')).toBe(false);
    });
  });
});
