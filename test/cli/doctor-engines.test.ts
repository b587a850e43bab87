/**
 * `orderflow doctor` against real engines of this test's own (PostgreSQL, NATS JetStream,
 * Redis on free ports): every check passes, and a database that does not exist is named with
 * the command that creates it. Skipped where the engines' binaries are not installed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateEnginesAvailable, startPrivateBackends } from '../helpers/private-engines.js';
import type { PrivateBackends } from '../helpers/private-engines.js';
import { describeRun, jsonOf, runCli } from './run-cli.js';

interface Report {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string }[];
}

describe.runIf(privateEnginesAvailable())('orderflow doctor on real engines', () => {
  let backends: PrivateBackends;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'orderflow-doctor-'));
    backends = await startPrivateBackends();
  }, 120_000);

  afterAll(async () => {
    await backends?.dispose();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const env = (): Record<string, string> => ({
    ORDERFLOW_DATA_DIR: dataDir,
    ORDERFLOW_REDIS_URL: backends.redis.url,
    ORDERFLOW_NATS_URL: backends.nats.url,
    ORDERFLOW_DATABASE_URL: backends.postgres.url,
  });

  it('passes when Redis, NATS JetStream and PostgreSQL answer', async () => {
    const run = await runCli(['doctor', '--json'], env());
    expect(run.code, describeRun(run)).toBe(0);
    const report = jsonOf<Report>(run);
    expect(report.checks.map(({ name, ok }) => [name, ok])).toEqual([
      ['configuration', true],
      ['data directory', true],
      ['redis', true],
      ['nats', true],
      ['postgresql', true],
    ]);
    expect(report.checks.find(({ name }) => name === 'nats')?.detail).toContain('JetStream on');
  });

  it('names a missing database and says how to create it', async () => {
    const missing = new URL(backends.postgres.url);
    missing.pathname = '/no_such_db';
    const run = await runCli(['doctor'], { ...env(), ORDERFLOW_DATABASE_URL: missing.href });
    expect(run.code, describeRun(run)).toBe(1);
    expect(run.stdout).toMatch(/^FAIL\s+postgresql\s+.*database "no_such_db" does not exist/m);
    expect(run.stdout).toContain(
      `createdb -h 127.0.0.1 -p ${backends.postgres.port} -U postgres no_such_db`,
    );
    expect(run.stdout).toMatch(/^ok\s+redis\s+/m);
  });
});
