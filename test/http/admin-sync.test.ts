import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryableError } from '../../src/domain/errors.js';
import { buildApp } from '../../src/http/app.js';
import { AdminService } from '../../src/workflow/admin-service.js';
import { superseded } from '../../src/workflow/sync-lock.js';
import { AS, connectionRefused, startTestService, type TestService } from './context.js';

describe('admin sync routes when the sync cannot run', () => {
  let service: TestService;
  let app: FastifyInstance;
  let failure: Error = new Error('not set');

  beforeAll(async () => {
    service = await startTestService();
    const fail = () => Promise.reject(failure);
    const sync = { syncIn: fail, syncOut: fail, lastSyncAt: undefined };
    const admin = new AdminService({ ...service.backends, sync, clock: service.ctx.clock });
    app = await buildApp({ ...service.ctx, admin });
  });
  afterAll(async () => {
    await app.close();
    await service.close();
  });

  const post = (url: string) => app.inject({ method: 'POST', url, headers: AS.admin });

  it('answers 503 + Retry-After naming the other run that holds the sync lease', async () => {
    for (const [url, error] of [
      [
        '/v1/admin/sync/stock',
        new RetryableError('sync_busy', 'another sync run is still running'),
      ],
      ['/v1/admin/sync/orders', superseded()],
    ] as const) {
      failure = error;
      const res = await post(url);
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json()).toEqual({
        error: { code: 'service_unavailable', message: `${error.message}; retry shortly` },
      });
    }
  });

  it('answers 503 for a source of truth that is down, as before', async () => {
    failure = connectionRefused();
    const res = await post('/v1/admin/sync/stock');
    expect(res.statusCode).toBe(503);
    const body = res.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe('service_unavailable');
    expect(body.error.message).toContain('source of truth');
  });
});
