import {
  GRANT_ROLES,
  type GrantPasswords,
  type GrantRole,
} from '../adapters/shared/grant-roles.js';
import type { Clock } from '../ports/clock.js';
import { ConfigError, type Config } from './config.js';

/**
 * What a least-privilege deployment sets up outside the processes it runs: the schema and
 * the streams (created here, by `orderflow migrate`, with the owner's and an administrator's
 * credentials, since the runtime users may only bind to them), and the users' grants,
 * printed for an operator to apply. The adapters know what they use; this only calls them.
 */
export async function migrateEngines(config: Config, clock: Clock): Promise<string[]> {
  const done: string[] = [];
  if (config.databaseUrl === undefined && config.natsUrl === undefined) {
    throw new ConfigError('set ORDERFLOW_DATABASE_URL and/or ORDERFLOW_NATS_URL to migrate');
  }
  if (config.databaseUrl !== undefined) {
    const { openPostgresSourceOfTruth } =
      await import('../adapters/postgres/postgres-source-of-truth.js');
    const sot = await openPostgresSourceOfTruth({ url: config.databaseUrl, clock });
    await sot.close();
    done.push('PostgreSQL schema up to date');
  }
  if (config.natsUrl !== undefined) {
    const { openNatsEventLog } = await import('../adapters/nats/nats-event-log.js');
    const log = await openNatsEventLog({
      url: config.natsUrl,
      namespace: config.namespace,
      clock,
      retention: config.retention,
    });
    await log.close();
    done.push(`NATS streams of namespace ${config.namespace} up to date`);
  }
  return done;
}

export type GrantEngine = 'postgres' | 'redis' | 'nats';

/** The environment variable holding `role`'s password: `ORDERFLOW_API_PASSWORD`, … */
export function passwordVariable(role: GrantRole): string {
  return `ORDERFLOW_${role.toUpperCase()}_PASSWORD`;
}

/** Every role's password from the environment; names the ones missing. */
export function passwordsFromEnv(env: NodeJS.ProcessEnv = process.env): GrantPasswords {
  const missing = GRANT_ROLES.map(passwordVariable).filter((name) => !env[name]);
  if (missing.length > 0) throw new ConfigError(`set ${missing.join(', ')}`);
  const entries = GRANT_ROLES.map((role) => [role, env[passwordVariable(role)] ?? ''] as const);
  return Object.fromEntries(entries) as GrantPasswords;
}

/**
 * The grants of `engine` for the namespace: SQL for psql, `ACL SETUSER` lines for
 * redis-cli, or an `authorization` block for nats-server's configuration.
 */
export async function grantsFor(
  engine: GrantEngine,
  namespace: string,
  passwords: GrantPasswords,
  natsAdmin?: { readonly user: string; readonly password: string },
): Promise<string> {
  if (engine === 'postgres') {
    const { postgresGrants } = await import('../adapters/postgres/postgres-grants.js');
    return postgresGrants({ namespace, passwords });
  }
  if (engine === 'redis') {
    const { redisAclUsers } = await import('../adapters/redis/redis-acl.js');
    const lines = redisAclUsers({ namespace, passwords }).map(({ args }) =>
      ['ACL', 'SETUSER', ...args].join(' '),
    );
    return `${lines.join('\n')}\n`;
  }
  const { natsAuthorization } = await import('../adapters/nats/nats-permissions.js');
  return natsAuthorization({ namespace, passwords, ...(natsAdmin && { admin: natsAdmin }) });
}
