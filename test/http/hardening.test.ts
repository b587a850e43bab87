/**
 * Hardening of the HTTP surface: security headers on every answer, the JSON depth limit,
 * `/metrics` and `/docs` behind the admin key (ORDERFLOW_PROTECT_OPS), the client address
 * behind load balancers (ORDERFLOW_TRUST_PROXY), load shedding, and the rate limits failing
 * open when their counts cannot be reached.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RateCounter } from '../../src/ports/rate-counter.js';
import { ConfigError, loadConfig } from '../../src/runtime/config.js';
import { AS, connectionRefused, orderBody, startTestService, type TestService } from './context.js';

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

const nested = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('security headers', () => {
  it('are on answers, refusals and unknown routes, with a CSP that allows nothing', async () => {
    service = await startTestService({ env: { ORDERFLOW_RATE_LIMIT: '1' } });
    const answers = [
      await service.app.inject({ method: 'GET', url: '/v1/products/A123', headers: AS.client }),
      await service.app.inject({ method: 'GET', url: '/v1/products/A123', headers: AS.client }),
      await service.app.inject({ method: 'GET', url: '/v1/products/A123', headers: AS.client }),
      await service.app.inject({ method: 'GET', url: '/nowhere', remoteAddress: '10.9.9.9' }),
      await service.app.inject({ method: 'GET', url: '/healthz' }),
    ];
    expect(answers.map((res) => res.statusCode)).toEqual([200, 200, 429, 404, 200]);
    for (const res of answers) {
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['strict-transport-security']).toBeDefined();
    }
  });

  it('leave /docs working: its page and scripts are served under a CSP that allows them', async () => {
    service = await startTestService();
    const page = await service.app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    const script = await service.app.inject({
      method: 'GET',
      url: '/docs/static/swagger-initializer.js',
    });
    expect(script.statusCode).toBe(200);
    expect((await service.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
  });
});

describe('JSON depth limit', () => {
  it('refuses a body nested deeper than 32 levels with 400 validation_error', async () => {
    service = await startTestService();
    const post = (payload: string) =>
      service!.app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: { ...AS.client, 'content-type': 'application/json' },
        payload,
      });
    const deep = await post(nested(33));
    expect(deep.statusCode).toBe(400);
    const { error } = deep.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('validation_error');
    expect(error.message).toContain('32 levels');
    // 32 levels parse (and then fail the schema, not the depth check).
    const ok = await post(nested(32));
    expect(ok.statusCode).toBe(400);
    expect(ok.body).not.toContain('32 levels');
    // Brackets inside strings are text, not depth.
    const inString = await post(JSON.stringify(orderBody({ customerId: '['.repeat(100) })));
    expect(inString.statusCode).toBe(202);
  });
});

describe('ORDERFLOW_PROTECT_OPS', () => {
  it('puts /metrics and /docs behind the admin key; the probes stay open', async () => {
    service = await startTestService({ env: { ORDERFLOW_PROTECT_OPS: 'true' } });
    const get = (url: string, headers: Record<string, string> = {}) =>
      service!.app.inject({ method: 'GET', url, headers });
    for (const url of ['/metrics', '/docs', '/docs/json', '/docs/static/index.html']) {
      expect((await get(url)).statusCode, url).toBe(401);
      expect((await get(url, AS.client)).statusCode, url).toBe(403);
      expect([200, 302]).toContain((await get(url, AS.admin)).statusCode);
    }
    expect((await get('/healthz')).statusCode).toBe(200);
    expect((await get('/readyz')).statusCode).toBe(200);
  });

  it('leaves them open by default', async () => {
    service = await startTestService();
    expect((await service.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
  });
});

describe('ORDERFLOW_TRUST_PROXY', () => {
  async function clientIp(env: Record<string, string>, xff: string, peer: string) {
    service ??= await startTestService({ env });
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      remoteAddress: peer,
      headers: { ...AS.client, 'x-forwarded-for': xff },
      payload: orderBody(),
    });
    expect(res.statusCode).toBe(202);
    return (await service.backends.orders.get(res.json<{ orderId: string }>().orderId))?.clientIp;
  }

  it('with a hop count, takes the address that many proxies in', async () => {
    const env = { ORDERFLOW_TRUST_PROXY: '2' };
    expect(await clientIp(env, '198.51.100.1, 203.0.113.5, 10.0.0.7', '10.0.0.1')).toBe(
      '203.0.113.5',
    );
  });

  it('with addresses and CIDRs, walks past the trusted proxies only', async () => {
    const env = { ORDERFLOW_TRUST_PROXY: '10.0.0.0/8, 192.0.2.1' };
    expect(await clientIp(env, '198.51.100.1, 203.0.113.5, 10.1.2.3', '192.0.2.1')).toBe(
      '203.0.113.5',
    );
    // A peer that is not a trusted proxy is the client, whatever it forwards.
    expect(await clientIp(env, '203.0.113.5', '198.51.100.9')).toBe('198.51.100.9');
  });

  it('is off by default, as are the protected ops routes; shedding starts at a 1 s delay', () => {
    expect(loadConfig({})).toMatchObject({
      trustProxy: undefined,
      protectOps: false,
      shedding: { maxEventLoopDelayMs: 1000, maxEventLoopUtilization: 0, maxHeapUsedBytes: 0 },
    });
    expect(loadConfig({ ORDERFLOW_SHED_EVENT_LOOP_DELAY: '0' }).shedding.maxEventLoopDelayMs).toBe(
      0,
    );
    expect(() => loadConfig({ ORDERFLOW_PROTECT_OPS: 'yes please' })).toThrow(ConfigError);
  });

  it('is refused with the trusted header, and when it is not an address', () => {
    expect(() =>
      loadConfig({ ORDERFLOW_TRUST_PROXY: '1', ORDERFLOW_TRUSTED_PROXY_HEADER: 'x-real-ip' }),
    ).toThrow(ConfigError);
    expect(() => loadConfig({ ORDERFLOW_TRUST_PROXY: 'proxy.example' })).toThrow(ConfigError);
    expect(() => loadConfig({ ORDERFLOW_TRUST_PROXY: '10.0.0.0/33' })).toThrow(ConfigError);
    expect(loadConfig({ ORDERFLOW_TRUST_PROXY: 'loopback,::1' }).trustProxy).toEqual([
      'loopback',
      '::1',
    ]);
  });
});

describe('load shedding', () => {
  it('answers 503 service_unavailable + Retry-After over a threshold; /healthz, /readyz and /metrics still answer', async () => {
    // Any heap is over 1 MiB: the process counts as overloaded from its first sample on.
    service = await startTestService({ env: { ORDERFLOW_SHED_HEAP_USED_MB: '1' } });
    const app = service.app;
    let shed = await app.inject({ method: 'GET', url: '/v1/products/A123', headers: AS.client });
    for (let i = 0; i < 50 && shed.statusCode === 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      shed = await app.inject({ method: 'GET', url: '/v1/products/A123', headers: AS.client });
    }
    expect(shed.statusCode).toBe(503);
    expect(shed.json()).toMatchObject({ error: { code: 'service_unavailable' } });
    expect(Number(shed.headers['retry-after'])).toBeGreaterThan(0);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('rate limits over a shared store', () => {
  it('ask the store once per key and window after a refusal, not once per request', async () => {
    const hits: string[] = [];
    service = await startTestService({
      env: { ORDERFLOW_RATE_LIMIT: '1' },
      override: (backends) => ({
        rateCounts: {
          hit: (key, windowMs, max) => {
            hits.push(key);
            return backends.rateCounts.hit(key, windowMs, max);
          },
        },
      }),
    });
    const statuses = [];
    for (let i = 0; i < 10; i++) {
      const res = await service.app.inject({
        method: 'GET',
        url: '/v1/products/A123',
        headers: AS.client,
        remoteAddress: `10.7.0.${i}`,
      });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429, 429, 429, 429, 429]);
    // Each request's IP once; the key three times: two passed, one refused, then memory.
    expect(hits.filter((key) => key.startsWith('key:'))).toHaveLength(3);
    expect(hits.filter((key) => key.startsWith('ip:'))).toHaveLength(10);
  });
});

describe('rate limits when their counts are unreachable', () => {
  it('fail open: requests pass, and the limiter keeps working once the store is back', async () => {
    let down = true;
    const failing = (real: RateCounter): RateCounter => ({
      hit: (key, windowMs, max) =>
        down ? Promise.reject(connectionRefused()) : real.hit(key, windowMs, max),
    });
    service = await startTestService({
      env: { ORDERFLOW_RATE_LIMIT: '1' },
      override: (backends) => ({ rateCounts: failing(backends.rateCounts) }),
    });
    const get = () =>
      service!.app.inject({ method: 'GET', url: '/v1/products/A123', headers: AS.client });
    for (let i = 0; i < 5; i++) expect((await get()).statusCode).toBe(200);
    down = false;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get()).statusCode);
    expect(statuses).toEqual([200, 200, 429, 429]);
  });
});
