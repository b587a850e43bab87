import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { NatsNames } from '../../src/adapters/nats/nats-subjects.js';
import { SQLITE_FILES } from '../../src/adapters/sqlite/sqlite-files.js';
import { ENGINES } from '../../test/helpers/engines.js';
import { pgQuery } from '../../test/helpers/postgres.js';
import { scanKeys } from '../../test/helpers/redis-keys.js';
import type { StorageSample } from './target.js';

/** Bytes of a file, 0 when it is not there (a WAL checkpointed away). */
async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

/** The embedded default's files: the hot file, its WAL, and the source of truth. */
export async function embeddedStorage(dataDir: string): Promise<StorageSample> {
  const hot = join(dataDir, SQLITE_FILES.hot);
  const [main, wal, sot] = await Promise.all([
    sizeOf(hot),
    sizeOf(`${hot}-wal`),
    sizeOf(join(dataDir, SQLITE_FILES.sourceOfTruth)),
  ]);
  return { hotBytes: main, walBytes: wal, sotBytes: sot };
}

/**
 * What a scaled-out deployment holds: Redis memory (the whole server's `used_memory`) and
 * the namespace's key count, the events stream's bytes and messages, the PostgreSQL
 * database's size.
 */
export async function clusterStorage(namespace: string, database: string): Promise<StorageSample> {
  const redis = new Redis(ENGINES.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const nc = await connect({ servers: ENGINES.nats, timeout: 5_000 });
  try {
    await redis.connect();
    const memory = await redis.info('memory');
    const usedMemory = Number(/^used_memory:(\d+)/m.exec(memory)?.[1] ?? Number.NaN);
    const jsm = await jetstreamManager(nc);
    const stream = await jsm.streams.info(new NatsNames(namespace).eventsStream);
    const [size] = await pgQuery<{ bytes: string }>(
      ENGINES.postgres,
      'SELECT pg_database_size($1) AS bytes',
      [database],
    );
    return {
      redisBytes: usedMemory,
      redisKeys: (await scanKeys(redis, `${namespace}:*`)).length,
      streamBytes: stream.state.bytes,
      streamMessages: stream.state.messages,
      sotBytes: Number(size?.bytes ?? Number.NaN),
    };
  } finally {
    redis.disconnect();
    await nc.close();
  }
}
