#!/usr/bin/env node
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import type { Logger } from 'pino';
import { ConfigError } from '../runtime/config.js';
import { createLogger } from '../runtime/logger.js';
import { startTelemetry, type Telemetry } from '../runtime/telemetry.js';
import type { ConsumerDefinition } from '../workflow/define-consumer.js';
import { registerDlq } from './commands/dlq.js';
import { registerDoctor } from './commands/doctor.js';
import { registerKeys } from './commands/keys.js';
import { registerGrants } from './commands/grants.js';
import { registerOrders } from './commands/orders.js';
import { registerReplay } from './commands/replay.js';
import { registerStats } from './commands/stats.js';
import { registerStock } from './commands/stock.js';
import { registerSync } from './commands/sync.js';
import { startOrderflow, type Running, type StartOptions } from './start.js';
import { packageVersion } from './version.js';

async function loadPlugins(paths: readonly string[]): Promise<ConsumerDefinition[]> {
  const consumers: ConsumerDefinition[] = [];
  for (const path of paths) {
    const module = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
    const exported = module.default;
    const list = Array.isArray(exported) ? exported : [exported];
    for (const item of list) consumers.push(item as ConsumerDefinition);
  }
  return consumers;
}

const program = new Command()
  .name('orderflow')
  .description(
    'Event-driven order processing: configured by ORDERFLOW_* environment variables.\n' +
      'The operator commands talk to a running instance over HTTP (--url, the admin key from ' +
      'ORDERFLOW_ADMIN_KEY).\nExit codes: 0 done; 1 doctor found a problem, or a wrong command ' +
      'line; 2 the service refused the request (4xx); 3 unreachable, no answer in time, or a ' +
      'failure of the service (5xx).',
  )
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError('(orderflow help <command> shows its options)');

interface Started {
  readonly running: Running;
  readonly telemetry: Telemetry;
}

/** Drains on SIGTERM / SIGINT, exports the spans still pending and exits; a second signal exits at once. */
function exitOnSignals({ running, telemetry }: Started, logger: Logger): void {
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'draining');
    running
      .stop()
      .then(() => telemetry.shutdown())
      .then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'stop failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** Tracing first (before the service opens), then the service; a failure of either exits 1. */
async function startOrExit(
  options: StartOptions,
  logger: Logger,
  command: 'start' | 'pipeline',
): Promise<Started> {
  try {
    const telemetry = await startTelemetry({
      logger,
      resource: { 'service.version': packageVersion(), 'orderflow.process': command },
    });
    return { running: await startOrderflow({ ...options, logger }), telemetry };
  } catch (error) {
    // A configuration mistake is told in its own words; anything else with its stack.
    if (error instanceof ConfigError)
      logger.fatal({ reason: error.message }, 'orderflow could not start');
    else logger.fatal({ err: error }, 'orderflow could not start');
    process.exit(1);
  }
}

const consumerArgs = (modules: readonly string[] = []): string[] =>
  modules.length === 0 ? [] : ['--consumer', ...modules];

program
  .command('start')
  .description('serve the API and run the workflow, consumers and schedules of ORDERFLOW_ROLE')
  .option(
    '--consumer <module...>',
    'modules whose default export is a consumer (defineConsumer) or a list of them',
  )
  .action(async (options: { consumer?: string[] }) => {
    const logger = createLogger('orderflow');
    const started = await startOrExit(
      {
        consumers: await loadPlugins(options.consumer ?? []),
        pipeline: { entry: fileURLToPath(import.meta.url), args: consumerArgs(options.consumer) },
      },
      logger,
      'start',
    );
    exitOnSignals(started, logger);
  });

program
  .command('pipeline', { hidden: true })
  .description('the embedded pipeline process that `start` runs beside its API')
  .option('--consumer <module...>', 'as for start')
  .action(async (options: { consumer?: string[] }) => {
    const logger = createLogger('orderflow-pipeline');
    const started = await startOrExit(
      { consumers: await loadPlugins(options.consumer ?? []), serve: false },
      logger,
      'pipeline',
    );
    // The API process is gone (killed, crashed): the pipeline goes too, at once.
    process.on('disconnect', () => process.exit(0));
    exitOnSignals(started, logger);
  });

registerDlq(program);
registerReplay(program);
registerStock(program);
registerSync(program);
registerOrders(program);
registerStats(program);
registerKeys(program);
registerDoctor(program);
registerGrants(program);

await program.parseAsync(process.argv);
