import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RedisConnection } from '../../src/adapters/redis/redis-connection.js';
import { RedisIdempotencyStore } from '../../src/adapters/redis/redis-idempotency-store.js';
import { deleteNamespace, openRedis } from '../helpers/backends-redis.js';
import { enginesUp, randomNamespace } from '../helpers/engines.js';
import { systemClock } from './fixture.js';

const up = await enginesUp('redis');
describe.skipIf(!up)('redis', () => {
  describe('RedisIdempotencyStore in two processes', () => {
    let connections: RedisConnection[];
    let namespace: string;

    beforeEach(async () => {
      connections = await Promise.all([openRedis(), openRedis()]);
      namespace = randomNamespace('idem');
    });

    afterEach(async () => {
      const [first] = connections;
      if (first) await deleteNamespace(first, namespace);
      await Promise.all(connections.map((connection) => connection.close()));
    });

    it('gives one of 40 concurrent begins across two processes the start', async () => {
      const stores = connections.map(
        (connection) => new RedisIdempotencyStore(connection, namespace, systemClock),
      );
      const claims = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (stores[i % 2] as RedisIdempotencyStore).begin('client', 'k1', 'fp', 60_000, `ord_${i}`),
        ),
      );
      expect(claims.filter((claim) => claim.state === 'started')).toHaveLength(1);
      expect(claims.filter((claim) => claim.state === 'in_flight')).toHaveLength(39);
    });
  });
});
