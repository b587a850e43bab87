import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiErrorBody } from '../helpers/api.js';
import { RetryableError, TerminalError } from '../../src/domain/errors.js';
import { ERROR_CATALOG, type ErrorCode } from '../../src/http/errors.js';
import {
  AS,
  connectionRefused,
  orderBody,
  startTestService,
  type TestService,
  match,
} from './context.js';

type ErrorReply = ApiErrorBody;

describe('operations', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.close());

  it('GET /healthz answers 200 {status:"ok"}', async () => {
    const res = await service.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 {ready:true, checks}', async () => {
    const res = await service.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ready: true, checks: { sqlite: true, accepting: true } });
  });

  it('GET /metrics answers Prometheus text with the HTTP metrics', async () => {
    await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: AS.client,
      payload: orderBody(),
    });
    await service.app.inject({ method: 'GET', url: '/v1/orders/nope', headers: AS.client });
    const res = await service.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(service.ctx.metrics.contentType);
    expect(res.body).toContain(
      'orderflow_http_request_duration_seconds_bucket{le="0.001",method="POST",route="/v1/orders",status="202"}',
    );
    expect(res.body).toContain('method="GET",route="/v1/orders/:id",status="404"');
    expect(res.body).toMatch(/^orderflow_orders_accepted_total 1$/m);
  });

  it('an app built twice on one registry shares its metrics', async () => {
    const { buildApp } = await import('../../src/http/app.js');
    const accepted = async (): Promise<number> => {
      const res = await service.app.inject({ method: 'GET', url: '/metrics' });
      const value = /^orderflow_orders_accepted_total (\d+)$/m.exec(res.body)?.[1];
      return Number(value ?? NaN);
    };
    const before = await accepted();
    const again = await buildApp(service.ctx);
    try {
      const placed = await again.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: AS.client,
        payload: orderBody(),
      });
      expect(placed.statusCode).toBe(202);
      // Counted once, in the one registry both apps share: the first app's /metrics sees it.
      expect(await accepted()).toBe(before + 1);
      const res = await again.inject({ method: 'GET', url: '/metrics' });
      expect(res.body.match(/^orderflow_orders_accepted_total /gm)).toHaveLength(1);
    } finally {
      await again.close();
    }
  });

  it('/docs/json is the OpenAPI 3 document with every route and the bearer scheme', async () => {
    const res = await service.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<{
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          { security?: unknown; requestBody?: unknown; parameters?: { name: string; in: string }[] }
        >
      >;
      components: { securitySchemes: Record<string, { type: string; scheme?: string }> };
    }>();
    expect(doc.openapi).toMatch(/^3\./);
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /v1/orders',
        'GET /v1/orders/{id}',
        'GET /v1/orders/{id}/events',
        'POST /v1/orders/{id}/cancel',
        'GET /v1/products/{sku}',
        'PUT /v1/admin/products/{sku}',
        'GET /v1/admin/products/{sku}',
        'GET /v1/admin/dlq',
        'POST /v1/admin/dlq/{id}/redrive',
        'GET /v1/admin/stats',
        'GET /v1/admin/orders/{id}/timeline',
        'POST /v1/admin/replay',
        'GET /v1/admin/replay/{jobId}',
        'GET /v1/admin/orders',
        'POST /v1/admin/sync/stock',
        'POST /v1/admin/sync/orders',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
      ]),
    );
    expect(routes.some((route) => route.includes('/docs'))).toBe(false);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    const placeOrder = doc.paths['/v1/orders']?.post;
    expect(placeOrder?.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
    expect(placeOrder?.requestBody).toBeDefined();
    expect(placeOrder?.parameters).toContainEqual(
      match.object({ name: 'idempotency-key', in: 'header' }),
    );
    const listed = (path: string): string[] =>
      (doc.paths[path]?.get?.parameters ?? [])
        .filter((parameter) => parameter.in === 'query')
        .map((parameter) => parameter.name)
        .sort();
    expect(listed('/v1/admin/orders')).toEqual(['cursor', 'limit', 'status']);
    expect(listed('/v1/admin/dlq')).toEqual(['consumer', 'cursor', 'error', 'limit']);
  });

  it('/docs serves the Swagger UI', async () => {
    const res = await service.app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Swagger UI');
  });

  it('an unknown route is 404 not_found in the error shape', async () => {
    const res = await service.app.inject({ method: 'GET', url: '/v2/nothing?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: { code: 'not_found', message: 'no route GET /v2/nothing' },
    });
  });
});

describe('readiness when a backend is down', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({
      override: () => ({ ping: () => Promise.resolve({ sqlite: false }) }),
    });
  });
  afterAll(() => service.close());

  it('GET /readyz answers 503 with Retry-After and the checks', async () => {
    const res = await service.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toMatchObject({
      ready: false,
      checks: { sqlite: false },
      error: { code: 'service_unavailable' },
    });
  });
});

describe('backend failures', () => {
  let service: TestService;
  let failure: Error | undefined;
  const failing = <T>(work: () => Promise<T>): Promise<T> =>
    failure ? Promise.reject(failure) : work();

  beforeAll(async () => {
    service = await startTestService({
      override: ({ orders, stock }) => ({
        orders: Object.assign(Object.create(orders) as typeof orders, {
          create: (order: Parameters<typeof orders.create>[0]) =>
            failing(() => orders.create(order)),
          get: (id: string) => failing(() => orders.get(id)),
        }),
        stock: Object.assign(Object.create(stock) as typeof stock, {
          items: (skus: readonly string[]) => failing(() => stock.items(skus)),
        }),
      }),
    });
  });
  afterAll(() => service.close());

  const placeOrder = () =>
    service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: AS.client,
      payload: orderBody(),
    });

  it('a refused connection on the write path is 503 service_unavailable with Retry-After: 1', async () => {
    failure = connectionRefused();
    const res = await placeOrder();
    failure = undefined;
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toEqual({ error: { code: 'service_unavailable', message: match.string() } });
  });

  it('any backend error while placing an order is 503, and frees the Idempotency-Key', async () => {
    failure = new Error('disk on fire');
    const headers = { ...AS.client, 'idempotency-key': 'backend-down' };
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers,
      payload: orderBody(),
    });
    failure = undefined;
    expect(res.statusCode).toBe(503);
    const retry = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers,
      payload: orderBody(),
    });
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
  });

  it('a RetryableError says when to retry', async () => {
    failure = new RetryableError('busy', 'backend busy', 2500);
    const res = await service.app.inject({
      method: 'GET',
      url: '/v1/orders/any',
      headers: AS.client,
    });
    failure = undefined;
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('3');
  });

  it('an unexpected error on a read is 500 internal_error without a stack', async () => {
    failure = new TypeError('cannot read properties of undefined (secret internals)');
    const res = await service.app.inject({
      method: 'GET',
      url: '/v1/orders/any',
      headers: AS.client,
    });
    failure = undefined;
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
    expect(res.body).not.toContain('secret');
  });

  it.each(Object.keys(ERROR_CATALOG) as ErrorCode[])(
    'a TerminalError %s is answered with its catalog status',
    async (code) => {
      failure = new TerminalError(code, `because ${code}`, { details: { why: code } });
      const res = await service.app.inject({
        method: 'GET',
        url: '/v1/products/A123',
        headers: AS.client,
      });
      failure = undefined;
      expect(res.statusCode).toBe(ERROR_CATALOG[code]);
      expect(res.json<ErrorReply>()).toEqual({
        error: { code, message: `because ${code}`, details: { why: code } },
      });
    },
  );
});
