/**
 * A least-privilege deployment of a test's own: a temporary database on the shared
 * PostgreSQL with the namespace's roles (dropped afterwards: roles are cluster-wide), a
 * private Redis with the namespace's ACL users and a private NATS whose configuration holds
 * the namespace's users and an administrator. The schema and the streams are created by
 * `orderflow migrate` with the owner's and the administrator's credentials, the grants are
 * those `orderflow grants` prints; each role's Env then carries its own user.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { postgresGrants, postgresRoleName } from '../../src/adapters/postgres/postgres-grants.js';
import { redisAclUsers } from '../../src/adapters/redis/redis-acl.js';
import { natsAuthorization } from '../../src/adapters/nats/nats-permissions.js';
import {
  GRANT_ROLES,
  grantUser,
  type GrantPasswords,
  type GrantRole,
} from '../../src/adapters/shared/grant-roles.js';
import { ENGINES } from './engines.js';
import { pgQuery } from './postgres.js';
import { startPrivateNats, startPrivateRedis, type PrivateEngine } from './private-engines.js';
import { ENTRY, type Env } from './service.js';

const run = promisify(execFile);

export interface LeastPrivilegeDeployment {
  readonly namespace: string;
  /** The database as its owner (the superuser that ran `orderflow migrate`). */
  readonly ownerDatabaseUrl: string;
  readonly redis: PrivateEngine;
  readonly nats: PrivateEngine;
  readonly natsAdminUrl: string;
  /** What an orderflow process of `role` runs with: the engines' URLs with its users. */
  env(role: GrantRole): Env;
  /** One query as the owner. */
  sql<T>(text: string, params?: unknown[]): Promise<T[]>;
  dispose(): Promise<void>;
}

function withCredentials(url: string, user: string, password: string, database?: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  if (database !== undefined) parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function startLeastPrivilege(): Promise<LeastPrivilegeDeployment> {
  const suffix = randomBytes(5).toString('hex');
  const namespace = `lp_${suffix}`;
  const database = `orderflow_lp_${suffix}`;
  const passwords = Object.fromEntries(
    GRANT_ROLES.map((role) => [role, randomBytes(12).toString('hex')]),
  ) as Record<GrantRole, string>;
  const admin = { user: 'nats_admin', password: randomBytes(12).toString('hex') };
  const superUrl = ENGINES.postgres;
  const ownerDatabaseUrl = (() => {
    const parsed = new URL(superUrl);
    parsed.pathname = `/${database}`;
    return parsed.toString();
  })();
  await pgQuery(superUrl, `CREATE DATABASE ${database}`);
  const cleanups: Array<() => Promise<unknown>> = [
    () => pgQuery(superUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
  ];
  const dispose = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const [redis, nats] = await Promise.all([
      startPrivateRedis(),
      startPrivateNats(natsAuthorization({ namespace, passwords, admin })),
    ]);
    cleanups.push(
      () => redis.dispose(),
      () => nats.dispose(),
    );
    const natsAdminUrl = withCredentials(nats.url, admin.user, admin.password);
    await migrate(namespace, ownerDatabaseUrl, natsAdminUrl);
    cleanups.push(() => dropRoles(superUrl, ownerDatabaseUrl, namespace));
    await pgQuery(ownerDatabaseUrl, postgresGrants({ namespace, passwords }));
    await createRedisUsers(redis.url, namespace, passwords);
    return {
      namespace,
      ownerDatabaseUrl,
      redis,
      nats,
      natsAdminUrl,
      env: (role) => {
        const user = grantUser(namespace, role);
        const password = passwords[role];
        return {
          ORDERFLOW_NAMESPACE: namespace,
          ORDERFLOW_DATABASE_URL: withCredentials(
            superUrl,
            postgresRoleName(namespace, role),
            password,
            database,
          ),
          ORDERFLOW_REDIS_URL: withCredentials(redis.url, user, password),
          ORDERFLOW_NATS_URL: withCredentials(nats.url, user, password),
        };
      },
      sql: (text, params) => pgQuery(ownerDatabaseUrl, text, params),
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** `orderflow migrate`, as an operator runs it: the owner's database URL, NATS's administrator. */
async function migrate(namespace: string, databaseUrl: string, natsUrl: string): Promise<void> {
  await run(process.execPath, [ENTRY, 'migrate'], {
    env: {
      ...process.env,
      ORDERFLOW_NAMESPACE: namespace,
      ORDERFLOW_DATABASE_URL: databaseUrl,
      ORDERFLOW_NATS_URL: natsUrl,
      ORDERFLOW_REDIS_URL: '',
    },
    timeout: 30_000,
  });
}

async function createRedisUsers(
  url: string,
  namespace: string,
  passwords: GrantPasswords,
): Promise<void> {
  const redis = new Redis(url);
  try {
    for (const { args } of redisAclUsers({ namespace, passwords })) {
      await redis.call('ACL', 'SETUSER', ...args);
    }
  } finally {
    redis.disconnect();
  }
}

/** Roles outlive their database: their grants go with it, the roles are dropped here. */
async function dropRoles(superUrl: string, databaseUrl: string, namespace: string): Promise<void> {
  const roles = GRANT_ROLES.map((role) => `"${postgresRoleName(namespace, role)}"`).join(', ');
  await pgQuery(databaseUrl, `DROP OWNED BY ${roles}`).catch(() => undefined);
  await pgQuery(superUrl, `DROP ROLE IF EXISTS ${roles}`);
}
