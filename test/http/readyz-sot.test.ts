/**
 * `/readyz` with the source of truth on the real PostgreSQL (`ORDERFLOW_DATABASE_URL`): a
 * database that does not exist is a configuration error — 503, the check named, the reason
 * in plain words — and creating it makes the process ready without a restart; a PostgreSQL
 * that does not answer at all is an outage the process rides out (200, as before).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, enginesUp, randomNamespace } from '../helpers/engines.js';
import { deadPort } from '../helpers/net.js';
import { pgQuery } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';
import { startTestService, type TestService } from './context.js';

const up = await enginesUp('postgres');

interface ReadyBody {
  readonly ready: boolean;
  readonly checks: Record<string, boolean | 'warning'>;
  readonly failures?: Record<string, string>;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Runs one statement on the server's `postgres` database (CREATE / DROP DATABASE). */
async function onServer(sql: string): Promise<void> {
  const url = new URL(ENGINES.postgres);
  url.pathname = '/postgres';
  await pgQuery(url.href, sql);
}

describe.skipIf(!up)('readiness with a source-of-truth database that does not exist', () => {
  const database = randomNamespace('nodb');
  let service: TestService;
  let created = false;

  beforeAll(async () => {
    const url = new URL(ENGINES.postgres);
    url.pathname = `/${database}`;
    service = await startTestService({ env: { ORDERFLOW_DATABASE_URL: url.href } });
  });
  afterAll(async () => {
    await service?.close();
    if (created) await onServer(`DROP DATABASE IF EXISTS ${database}`);
  });

  const readyz = () => service.app.inject({ method: 'GET', url: '/readyz' });

  it('answers 503 naming the source of truth and why', async () => {
    const res = await readyz();
    expect(res.statusCode).toBe(503);
    const body = res.json<ReadyBody>();
    expect(body.ready).toBe(false);
    expect(body.checks).toMatchObject({ sqlite: true, accepting: true, sourceOfTruth: false });
    expect(body.failures?.['sourceOfTruth']).toContain(`database "${database}" does not exist`);
    expect(body.failures?.['sourceOfTruth']).toContain('orderflow doctor');
    expect(body.error).toEqual({
      code: 'service_unavailable',
      message: expect.stringContaining(
        `sourceOfTruth: PostgreSQL: database "${database}"`,
      ) as unknown,
    });
  });

  it('becomes ready once the database is created, without a restart', async () => {
    await onServer(`CREATE DATABASE ${database}`);
    created = true;
    const body = await waitFor(
      async () => {
        const res = await readyz();
        return res.statusCode === 200 ? res.json<ReadyBody>() : undefined;
      },
      { timeoutMs: 15_000, what: '/readyz to answer 200' },
    );
    expect(body.checks['sourceOfTruth']).toBeUndefined();
    expect(body.failures).toBeUndefined();
  });
});

describe.skipIf(!up)('readiness while PostgreSQL does not answer (an outage)', () => {
  let service: TestService;

  beforeAll(async () => {
    const port = await deadPort();
    service = await startTestService({
      env: { ORDERFLOW_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test` },
    });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('stays 200: orders are taken while the source of truth is down', async () => {
    const res = await service.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    const body = res.json<ReadyBody>();
    expect(body.checks).toEqual({ sqlite: true, accepting: true });
    expect(body.failures).toBeUndefined();
  });
});
