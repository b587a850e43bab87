import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { dropNamespace } from '../test/helpers/cluster.js';
import { ENGINES } from '../test/helpers/engines.js';
import { startOrderflow, type Child } from './child.js';

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
