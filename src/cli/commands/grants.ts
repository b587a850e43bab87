import type { Command } from 'commander';
import { loadConfig } from '../../runtime/config.js';
import {
  grantsFor,
  migrateEngines,
  passwordsFromEnv,
  type GrantEngine,
} from '../../runtime/provision.js';
import { CliError, EXIT, usageError } from '../cli-error.js';

const ENGINES: readonly GrantEngine[] = ['postgres', 'redis', 'nats'];

/**
 * `orderflow migrate` (schema and streams, run with the owner's credentials) and
 * `orderflow grants <engine>` (the least-privilege users, printed for psql, redis-cli and
 * nats-server's configuration).
 */
export function registerGrants(program: Command): void {
  program
    .command('migrate')
    .description(
      'create or update the PostgreSQL schema and the NATS streams of ORDERFLOW_NAMESPACE ' +
        '(run it with the owner’s ORDERFLOW_DATABASE_URL and an administrator’s ORDERFLOW_NATS_URL)',
    )
    .action(() =>
      reported(async () => {
        const done = await migrateEngines(loadConfig(), { now: () => Date.now() });
        for (const line of done) process.stdout.write(`${line}\n`);
      }, EXIT.unavailable),
    );
  program
    .command('grants')
    .argument('<engine>', ENGINES.join(' | '))
    .description(
      'print the least-privilege users of ORDERFLOW_NAMESPACE for an engine (passwords from ' +
        'ORDERFLOW_API_PASSWORD, ORDERFLOW_WORKER_PASSWORD, ORDERFLOW_SCHEDULER_PASSWORD, ' +
        'ORDERFLOW_ADMIN_PASSWORD)',
    )
    .option('--nats-admin <user:password>', 'for nats: also an administrator user (for migrate)')
    .action((engine: string, options: { natsAdmin?: string }) =>
      reported(async () => {
        if (!ENGINES.includes(engine as GrantEngine))
          throw usageError(`engine must be one of ${ENGINES.join(', ')}`);
        const admin = options.natsAdmin?.split(/:(.*)/s);
        const text = await grantsFor(
          engine as GrantEngine,
          loadConfig().namespace,
          passwordsFromEnv(),
          admin && admin[0] && admin[1] ? { user: admin[0], password: admin[1] } : undefined,
        );
        process.stdout.write(text);
      }, EXIT.problem),
    );
}

/** Runs `work`; a failure is one line on stderr and the exit code (a CliError's own, else `code`). */
async function reported(work: () => Promise<void>, code: number): Promise<void> {
  try {
    await work();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`orderflow: ${message}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : code;
  }
}
