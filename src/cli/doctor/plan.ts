import { resolve } from 'node:path';
import type { Config } from '../../runtime/config.js';
import { Problem, type Check } from './check.js';
import { dataDirCheck } from './data-dir-check.js';
import { natsCheck } from './nats-check.js';
import { postgresCheck } from './postgres-check.js';
import { redisCheck } from './redis-check.js';
import { sqliteCheck } from './sqlite-check.js';

/**
 * Which engines this configuration uses, in words, or the problem with it. The same pairing
 * rules as `openBackends` (src/runtime/backends.ts), which refuses to start without them.
 */
function deployment(config: Config): string {
  const { redisUrl, natsUrl, databaseUrl } = config;
  if ((redisUrl === undefined) !== (natsUrl === undefined))
    throw new Problem(
      'ORDERFLOW_REDIS_URL and ORDERFLOW_NATS_URL are set together or not at all (the scale-out set)',
    );
  if (redisUrl !== undefined && databaseUrl === undefined)
    throw new Problem('with Redis and NATS, ORDERFLOW_DATABASE_URL (PostgreSQL) is required too');
  if (redisUrl !== undefined) return 'scale-out: Redis, NATS JetStream and PostgreSQL';
  const where = resolve(config.dataDir);
  return databaseUrl === undefined
    ? `embedded default: SQLite files in ${where}`
    : `embedded (SQLite files in ${where}) with PostgreSQL as the source of truth`;
}

/** Every check this configuration calls for, in the order they are printed. */
export function checksFor(config: Config): Check[] {
  const embedded = config.redisUrl === undefined && config.natsUrl === undefined;
  const outbox = config.smtpUrl === undefined;
  const uses = [
    ...(embedded ? ['the SQLite files'] : []),
    ...(outbox ? ['the email outbox'] : []),
  ].join(' and ');
  return [
    { name: 'configuration', run: () => Promise.resolve(deployment(config)) },
    ...(uses === '' ? [] : [dataDirCheck(config.dataDir, uses, outbox)]),
    ...(embedded ? [sqliteCheck(config.dataDir, 'orderflow.db', 'event log and caches')] : []),
    ...(embedded && config.databaseUrl === undefined
      ? [sqliteCheck(config.dataDir, 'sot.db', 'source of truth')]
      : []),
    ...(config.redisUrl === undefined ? [] : [redisCheck(config.redisUrl)]),
    ...(config.natsUrl === undefined ? [] : [natsCheck(config.natsUrl)]),
    ...(config.databaseUrl === undefined ? [] : [postgresCheck(config.databaseUrl)]),
  ];
}
