import { randomBytes } from 'node:crypto';
import { dropNamespace } from '../test/helpers/cluster.js';
import { ENGINES } from '../test/helpers/engines.js';
import { pgQuery } from '../test/helpers/postgres.js';
import { startOrderflow, type Child } from './child.js';

async function admin(sql: string): Promise<void> {
  await pgQuery(ENGINES.postgres, sql);
}

export interface BenchCluster {
  readonly api: Child;
  /** Prefixes its Redis keys and NATS streams. */
  readonly namespace: string;
  /** Its PostgreSQL database. */
  readonly database: string;
  /** Every process: the api first, then the scheduler and the workers. */
  readonly processes: readonly Child[];
  stop(): Promise<void>;
}

/**
 * An `api`, a `scheduler` and `workers` worker processes on a fresh namespace (Redis keys,
 * NATS streams) and a fresh PostgreSQL database, all dropped on stop.
 */
export async function startCluster(
  workers: number,
  cpus?: string,
  extraEnv: Record<string, string> = {},
): Promise<BenchCluster> {
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
    ...extraEnv,
  };
  const started: Child[] = [];
  const cleanUp = async (): Promise<void> => {
    await Promise.all(started.map((child) => child.stop()));
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await dropNamespace(namespace);
  };
  try {
    // One at a time: the first creates the streams and runs the migrations.
    started.push(await startOrderflow({ ...env, ORDERFLOW_ROLE: 'api' }, cpus));
    started.push(await startOrderflow({ ...env, ORDERFLOW_ROLE: 'scheduler' }, cpus));
    for (let i = 0; i < workers; i += 1)
      started.push(await startOrderflow({ ...env, ORDERFLOW_ROLE: 'worker' }, cpus));
  } catch (error) {
    await cleanUp();
    throw error;
  }
  const [api] = started;
  if (!api) throw new Error('no api process');
  return { api, namespace, database, processes: started, stop: cleanUp };
}
