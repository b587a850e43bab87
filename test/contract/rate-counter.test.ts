/**
 * The RateCounter contract, run against the in-memory adapter (embedded) and Redis (scale
 * out, when it answers): a bucket per key that refuses when full and lets one more in per
 * drained request (no window boundary that refills it at once), shared by two adapters on
 * one Redis namespace (two API processes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRateCounter } from '../../src/adapters/memory/memory-rate-counter.js';
import type { RedisConnection } from '../../src/adapters/redis/redis-connection.js';
import { RedisRateCounter } from '../../src/adapters/redis/redis-rate-counter.js';
import type { RateCounter } from '../../src/ports/rate-counter.js';
import { deleteNamespace, openRedis } from '../helpers/backends-redis.js';
import { enginesUp, randomNamespace } from '../helpers/engines.js';
import { waitFor } from '../helpers/wait.js';

interface CounterBackend {
  readonly name: string;
  /** Two counters over the same counts (in memory: the same one). */
  pair(): Promise<[RateCounter, RateCounter]>;
  dispose(): Promise<void>;
}

const redisUp = await enginesUp('redis');

function memoryBackend(): CounterBackend {
  return {
    name: 'memory',
    pair: () => {
      const counter = new MemoryRateCounter({ now: () => Date.now() });
      return Promise.resolve([counter, counter]);
    },
    dispose: () => Promise.resolve(),
  };
}

function redisBackend(): CounterBackend {
  const namespace = randomNamespace('rate');
  let connection: RedisConnection | undefined;
  return {
    name: 'redis',
    pair: async () => {
      connection ??= await openRedis();
      return [
        new RedisRateCounter(connection, namespace),
        new RedisRateCounter(connection, namespace),
      ];
    },
    dispose: async () => {
      if (!connection) return;
      await deleteNamespace(connection, namespace);
      await connection.close();
    },
  };
}

const BACKENDS = [memoryBackend, ...(redisUp ? [redisBackend] : [])];

for (const make of BACKENDS) {
  const backend = make();
  describe(`RateCounter (${backend.name})`, () => {
    let a: RateCounter;
    let b: RateCounter;
    beforeAll(async () => {
      [a, b] = await backend.pair();
    });
    afterAll(() => backend.dispose());

    it('fills each key on its own, shared by every counter on the same store', async () => {
      expect((await a.hit('k1', 10_000, 5)).count).toBe(1);
      expect((await b.hit('k1', 10_000, 5)).count).toBe(2);
      expect((await a.hit('k2', 10_000, 5)).count).toBe(1);
      const third = await b.hit('k1', 10_000, 5);
      expect(third.count).toBe(3);
      // Three of five, draining one every 2 s: empty in about 6 s.
      expect(third.resetMs).toBeGreaterThan(4_000);
      expect(third.resetMs).toBeLessThanOrEqual(6_000);
    });

    it('refuses once the bucket is full, and says when one fits again', async () => {
      for (let i = 1; i <= 3; i++) expect((await a.hit('full', 30_000, 3)).count).toBe(i);
      const refused = await b.hit('full', 30_000, 3);
      expect(refused.count).toBe(4);
      // One drains every 10 s.
      expect(refused.resetMs).toBeGreaterThan(8_000);
      expect(refused.resetMs).toBeLessThanOrEqual(10_000);
      // A refusal takes nothing: the next one is refused the same.
      expect((await a.hit('full', 30_000, 3)).count).toBe(4);
    });

    it('lets one more in as each drains, never a second full bucket at once', async () => {
      // A bucket of 4 draining one every 50 ms.
      for (let i = 0; i < 4; i++) await a.hit('drain', 200, 4);
      expect((await a.hit('drain', 200, 4)).count).toBe(5);
      await waitFor(async () => ((await a.hit('drain', 200, 4)).count <= 4 ? true : undefined), {
        timeoutMs: 5_000,
        intervalMs: 20,
        what: 'one request to drain',
      });
      // Just after one fit, the bucket is full again: at most one more within a few ms.
      const burst = await Promise.all(Array.from({ length: 4 }, () => a.hit('drain', 200, 4)));
      expect(burst.filter((hit) => hit.count <= 4).length).toBeLessThanOrEqual(1);
    });

    it('empties once it has drained', async () => {
      for (let i = 0; i < 3; i++) await a.hit('short', 150, 3);
      await waitFor(async () => ((await a.hit('short', 150, 3)).count === 1 ? true : undefined), {
        timeoutMs: 5_000,
        intervalMs: 200,
        what: 'the bucket to drain',
      });
    });

    it('takes concurrent requests exactly', async () => {
      const hits = await Promise.all(Array.from({ length: 60 }, () => a.hit('busy', 60_000, 50)));
      const counts = hits.map((hit) => hit.count).sort((x, y) => x - y);
      expect(counts.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(counts.slice(50)).toEqual(Array.from({ length: 10 }, () => 51));
    });
  });
}
