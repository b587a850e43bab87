import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  startInProcess,
  type InProcessService,
} from '../../test/helpers/in-process.js';
import { createLoyalty, type Loyalty } from './loyalty.js';

describe('loyalty points: a consumer added without touching checkout', () => {
  let service: InProcessService;
  let loyalty: Loyalty;
  /** Events the loyalty consumer was handed: a replay must hand them again. */
  let handled = 0;

  beforeAll(async () => {
    const probe = await startInProcess();
    const dataDir = probe.dataDir;
    await probe.running.stop();
    loyalty = createLoyalty(join(dataDir, 'loyalty.db'));
    const counted = {
      ...loyalty.consumer,
      handle: (ctx: Parameters<typeof loyalty.consumer.handle>[0]) => {
        handled += 1;
        return loyalty.consumer.handle(ctx);
      },
    };
    service = await startInProcess({ dataDir, consumers: [counted] });
  });
  afterAll(async () => {
    await service?.close();
    loyalty?.close();
    if (service) rmSync(service.dataDir, { recursive: true, force: true });
  });

  const order = async (qty: number): Promise<string> => {
    const response = await service.request<{ orderId: string }>('POST', '/v1/orders', {
      body: {
        customerId: 'ada',
        email: 'ada@example.com',
        items: [{ sku: 'A123', qty }],
        paymentMethod: 'pm_card_visa',
      },
    });
    expect(response.status).toBe(202);
    return response.json.orderId;
  };
  const statusOf = async (id: string): Promise<string> =>
    (await service.request<{ status: string }>('GET', `/v1/orders/${id}`)).json.status;

  it('credits one point per whole dollar of a COMPLETED order, once, even after a replay', async () => {
    const id = await order(2); // 2 × 19.99 = 39.98 → 39 points
    await eventually(async () => ((await statusOf(id)) === 'COMPLETED' ? true : undefined));
    await eventually(() => (loyalty.pointsOf('ada') === 39 ? true : undefined), 10_000, 'points');
    const handledBefore = handled;
    const replay = await service.request('POST', '/v1/admin/replay', {
      key: 'admin',
      body: { consumer: 'loyalty', fromSeq: 1 },
    });
    expect(replay.status).toBe(202);
    await eventually(async () => {
      const stats = await service.request<{
        consumers: Record<string, { lag: number; inFlight: number }>;
      }>('GET', '/v1/admin/stats', { key: 'admin' });
      const group = stats.json.consumers['loyalty'];
      return group && group.lag === 0 && group.inFlight === 0 ? true : undefined;
    });
    expect(handled).toBeGreaterThan(handledBefore); // the replay did hand the event again
    expect(loyalty.pointsOf('ada')).toBe(39);
  });

  it('takes the points back when the order is refunded', async () => {
    const id = await order(1); // 19 points
    await eventually(async () => ((await statusOf(id)) === 'COMPLETED' ? true : undefined));
    await eventually(() => (loyalty.pointsOf('ada') === 58 ? true : undefined), 10_000, 'points');
    const cancel = await service.request('POST', `/v1/orders/${id}/cancel`);
    expect(cancel.status).toBe(202);
    await eventually(async () => ((await statusOf(id)) === 'REFUNDED' ? true : undefined));
    await eventually(
      () => (loyalty.pointsOf('ada') === 39 ? true : undefined),
      10_000,
      'points back',
    );
  });
});
