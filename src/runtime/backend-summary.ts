import { join, resolve } from 'node:path';
import { displayUrl } from '../adapters/shared/display-url.js';
import { SQLITE_FILES } from '../adapters/sqlite/sqlite-files.js';
import type { Config } from './config.js';

/** What each role is served by, as the ready line names it. */
export interface BackendSummary {
  readonly eventLog: string;
  readonly hotStore: string;
  readonly sourceOfTruth: string;
  /** `simulated`, or the provider's URL. */
  readonly payments: string;
  /** `outbox <dir>`, or the SMTP server's URL. */
  readonly mail: string;
}

/**
 * The backends this configuration uses, by role, as `openBackends`, `openPayments` and
 * `openMailer` pick them: engine URLs without credentials, the embedded files' absolute
 * paths. Safe to log.
 */
export function backendSummary(config: Config): BackendSummary {
  const dataDir = resolve(config.dataDir);
  const hotFile = join(dataDir, SQLITE_FILES.hot);
  return {
    eventLog: config.natsUrl === undefined ? hotFile : displayUrl(config.natsUrl),
    hotStore: config.redisUrl === undefined ? hotFile : displayUrl(config.redisUrl),
    sourceOfTruth:
      config.databaseUrl === undefined
        ? join(dataDir, SQLITE_FILES.sourceOfTruth)
        : displayUrl(config.databaseUrl),
    payments: config.stripe === undefined ? 'simulated' : displayUrl(config.stripe.url),
    mail:
      config.smtpUrl === undefined
        ? `outbox ${join(dataDir, 'outbox')}`
        : displayUrl(config.smtpUrl),
  };
}
