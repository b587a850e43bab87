import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { ENGINES } from './engines.js';
import { pgQuery } from './postgres.js';
import { startService, type Env, type Service } from './service.js';

export type Role = 'all' | 'api' | 'worker' | 'scheduler';

/** Several orderflow processes on one namespace, one Redis, one NATS and a database of their own. */
export interface Cluster {
  readonly namespace: string;
  readonly databaseUrl: string;
  readonly env: Env;
  readonly services: Service[];
  /** Starts one more process of `role` on the cluster (`args` for `orderflow start`). */
  add(role: Role, env?: Env, args?: readonly string[]): Promise<Service>;
  /** Rows of the cluster's source of truth. */
  sql<T>(text: string, params?: unknown[]): Promise<T[]>;
  /** Stops the processes and drops the database, the streams and the keys. */
  destroy(): Promise<void>;
}

async function adminQuery(text: string): Promise<void> {
  await pgQuery(ENGINES.postgres, text);
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A scale-out deployment's shared ground: a namespace, a database of its own, the engines. */
export interface ScaleOutGround {
  readonly namespace: string;
  readonly databaseUrl: string;
  /** ORDERFLOW_REDIS_URL, _NATS_URL, _DATABASE_URL, _NAMESPACE and a fast sync-out. */
  readonly env: Env;
  /** Drops the database, the streams and the keys. */
  destroy(): Promise<void>;
}

/** A fresh namespace and PostgreSQL database on the test engines, for processes to share. */
export async function scaleOutGround(env: Env = {}): Promise<ScaleOutGround> {
  const suffix = randomBytes(5).toString('hex');
  const namespace = `it_${suffix}`;
  const database = `orderflow_it_${suffix}`;
  await adminQuery(`CREATE DATABASE ${database}`);
  const databaseUrl = withDatabase(ENGINES.postgres, database);
  return {
    namespace,
    databaseUrl,
    env: {
      ORDERFLOW_REDIS_URL: ENGINES.redis,
      ORDERFLOW_NATS_URL: ENGINES.nats,
      ORDERFLOW_DATABASE_URL: databaseUrl,
      ORDERFLOW_NAMESPACE: namespace,
      ORDERFLOW_RATE_LIMIT: '0',
      ORDERFLOW_SYNC_OUT_INTERVAL: '200ms',
      ...env,
    },
    destroy: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
      await dropNamespace(namespace);
    },
  };
}

export async function startCluster(roles: readonly Role[], env: Env = {}): Promise<Cluster> {
  const ground = await scaleOutGround(env);
  const { namespace, databaseUrl, env: shared } = ground;
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  pool.on('error', () => undefined);
  const services: Service[] = [];
  const add = async (
    role: Role,
    extra: Env = {},
    args: readonly string[] = [],
  ): Promise<Service> => {
    const service = await startService({
      env: { ...shared, ORDERFLOW_ROLE: role, ...extra },
      args,
    });
    services.push(service);
    return service;
  };
  // One at a time: the first creates the streams and runs the migrations.
  for (const role of roles) await add(role);
  return {
    namespace,
    databaseUrl,
    env: shared,
    services,
    add,
    sql: async <T>(text: string, params: unknown[] = []) =>
      (await pool.query(text, params)).rows as T[],
    destroy: async () => {
      await Promise.all(
        services.map((service) => service.stop(15_000).catch(() => service.killNow())),
      );
      await pool.end();
      await ground.destroy();
    },
  };
}

/** Removes a namespace's streams from NATS and its keys from Redis. */
export async function dropNamespace(namespace: string): Promise<void> {
  const nc = await connect({ servers: ENGINES.nats, timeout: 2000 }).catch(() => undefined);
  if (nc) {
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
  }
  const redis = new Redis(ENGINES.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } catch {
    // Redis is down: nothing to clean.
  } finally {
    redis.disconnect();
  }
}
