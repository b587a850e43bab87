import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startOrderflow, type Child } from './child.js';

/** The engines the distributed benchmark uses (the standard local ports unless set). */
export const ENGINES = {
  redis: process.env['ORDERFLOW_BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379',
  nats: process.env['ORDERFLOW_BENCH_NATS_URL'] ?? 'nats://127.0.0.1:4222',
  postgres:
    process.env['ORDERFLOW_BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test',
};

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ENGINES.postgres });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface BenchCluster {
  readonly api: Child;
  stop(): Promise<void>;
}

/** An `api`, a `scheduler` and `workers` worker processes on a fresh namespace and database. */
export async function startCluster(workers: number): Promise<BenchCluster> {
  const suffix = randomBytes(5).toString('hex');
  const namespace = `bench_${suffix}`;
  const database = `orderflow_bench_${suffix}`;
  await admin(`CREATE DATABASE ${database}`);
  const url = new URL(ENGINES.postgres);
  url.pathname = `/${database}`;
  const env = {
    ORDERFLOW_REDIS_URL: ENGINES.redis,
    ORDERFLOW_NATS_URL: ENGINES.nats,
    ORDERFLOW_DATABASE_URL: url.toString(),
    ORDERFLOW_NAMESPACE: namespace,
  };
  const api = await startOrderflow({ ...env, ORDERFLOW_ROLE: 'api' });
  const others = [await startOrderflow({ ...env, ORDERFLOW_ROLE: 'scheduler' })];
  for (let i = 0; i < workers; i += 1)
    others.push(await startOrderflow({ ...env, ORDERFLOW_ROLE: 'worker' }));
  return {
    api,
    stop: async () => {
      await Promise.all([api, ...others].map((child) => child.stop()));
      await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await dropNamespace(namespace);
    },
  };
}

async function dropNamespace(namespace: string): Promise<void> {
  const nc = await connect({ servers: ENGINES.nats });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const stream of jsm.streams.list()) {
      if (stream.config.name.toLowerCase().startsWith(namespace.toLowerCase())) {
        await jsm.streams.delete(stream.config.name);
      }
    }
  } finally {
    await nc.close();
  }
  const redis = new Redis(ENGINES.redis);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
