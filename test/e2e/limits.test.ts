/**
 * The two request limits of the contract: ORDERFLOW_RATE_LIMIT (429 rate_limited +
 * Retry-After, health probes never limited) and ORDERFLOW_DECLINE_LIMIT (429
 * too_many_declines, the card-testing defence). Neither creates an order when it refuses.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DECLINED, errorCode, orderBody, totalOrders } from '../helpers/api.js';
import { startService, stopAllServices } from '../helpers/service.js';

afterAll(async () => {
  await stopAllServices();
});

describe('rate limit', () => {
  it('over the rate → 429 rate_limited with Retry-After; /healthz and /readyz are never limited', async () => {
    const svc = await startService({ env: { ORDERFLOW_RATE_LIMIT: '5' } });
    // 5 requests/s with bursts to 10: 40 requests at once cannot all pass.
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => svc.request('GET', '/v1/products/A123', { key: 'client' })),
    );
    const limited = answers.filter((res) => res.status === 429);
    expect(answers.filter((res) => res.status !== 200 && res.status !== 429)).toEqual([]);
    expect(limited.length).toBeGreaterThan(0);
    for (const res of limited) {
      expect(errorCode(res.json)).toBe('rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }

    const probes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        svc.request('GET', i % 2 === 0 ? '/healthz' : '/readyz', { key: 'none' }),
      ),
    );
    expect(probes.map((res) => res.status)).toEqual(probes.map(() => 200));
  });
});

describe('card-testing defence', () => {
  it('after ORDERFLOW_DECLINE_LIMIT declines a customer gets 429 too_many_declines, and no order', async () => {
    const limit = 3;
    const svc = await startService({
      env: { ORDERFLOW_DECLINE_LIMIT: String(limit), ORDERFLOW_RATE_LIMIT: '0' },
    });
    const customer = orderBody({ paymentMethod: DECLINED });
    for (let i = 0; i < limit; i++) {
      const { orderId } = await svc.placeAccepted({ ...customer });
      expect((await svc.waitForTerminal(orderId)).status).toBe('PAYMENT_FAILED');
    }
    const before = totalOrders(await svc.stats());
    const res = await svc.placeOrder({ ...customer });
    expect(res.status).toBe(429);
    expect(errorCode(res.json)).toBe('too_many_declines');
    // A refusal by a limit that resets says when to ask again: the decline window's 10 minutes.
    expect(res.headers['retry-after']).toBe('600');
    expect(totalOrders(await svc.stats())).toBe(before);
  });
});
