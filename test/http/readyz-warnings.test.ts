import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import type { ReadyReport } from '../../src/runtime/context.js';
import { startTestService, type TestService } from './context.js';

const PERSISTENCE = 'Redis has no persistence (appendonly no, save "")';

describe('readiness with a warning', () => {
  let service: TestService;
  let app: FastifyInstance;
  let report: ReadyReport;

  beforeAll(async () => {
    service = await startTestService();
    app = await buildApp({ ...service.ctx, ready: () => Promise.resolve(report) });
  });
  afterAll(async () => {
    await app.close();
    await service.close();
  });

  it('GET /readyz stays 200 and shows the warning among the checks, with its reason', async () => {
    report = {
      ready: true,
      checks: { log: true, redis: true, accepting: true, redisPersistence: 'warning' },
      warnings: { redisPersistence: PERSISTENCE },
    };
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(report);
  });

  it('GET /readyz keeps the warnings when it answers 503', async () => {
    report = {
      ready: false,
      checks: { log: false, redisPersistence: 'warning' },
      warnings: { redisPersistence: PERSISTENCE },
    };
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ ...report, error: { code: 'service_unavailable' } });
  });
});
