import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineConsumer } from '../../src/workflow/define-consumer.js';
import {
  eventually,
  placeOrder,
  startInProcess,
  type InProcessService,
} from '../helpers/in-process.js';
import { waitFor } from '../helpers/wait.js';

interface OrderView {
  status: string;
}
interface ConsumerStats {
  lag: number;
  inFlight: number;
  dlq: number;
}
interface DeadLetterView {
  id: string;
  consumer: string;
  attempts: number;
  lastError: string;
  event: { key: string };
}

/**
 * A shop consumer that fails on one order: that event goes to the dead-letter queue
 * after 3 attempts while every other event flows; once the fault is half fixed (two more
 * failures, then it works), a redrive gives it a fresh set of attempts and it is handled
 * once. A replay of one group re-delivers to it alone and changes nothing.
 */
describe('dead letters, redrive and replay', () => {
  let service: InProcessService;
  const handled: string[] = [];
  const attempts = new Map<string, number>();
  let poisonOrder: string | undefined;
  /** How many more times the poison order fails: until the fault is (half) fixed, always. */
  let failuresLeft = Number.POSITIVE_INFINITY;

  const flaky = defineConsumer({
    name: 'flaky',
    on: ['COMPLETED'],
    handle: ({ order }) => {
      attempts.set(order.orderId, (attempts.get(order.orderId) ?? 0) + 1);
      if (order.orderId === poisonOrder && failuresLeft > 0) {
        failuresLeft -= 1;
        return Promise.reject(new Error('downstream refused this order'));
      }
      handled.push(order.orderId);
      return Promise.resolve();
    },
  });
  const counting: string[] = [];
  const bystander = defineConsumer({
    name: 'bystander',
    on: ['COMPLETED'],
    handle: ({ order }) => {
      counting.push(order.orderId);
      return Promise.resolve();
    },
  });

  beforeAll(async () => {
    service = await startInProcess({ consumers: [flaky, bystander] });
  });
  afterAll(async () => {
    await service?.close();
  });

  const place = (): Promise<string> => placeOrder(service);
  const statusOf = async (orderId: string): Promise<string> =>
    (await service.request<OrderView>('GET', `/v1/orders/${orderId}`)).json.status;

  /**
   * Waits until each group has caught up: nothing appended it was not handed, nothing in
   * flight. What a redrive or a replay gave a group it has then handled: the sentinel for
   * "and nothing more", instead of watching for a while.
   */
  const caughtUp = (...groups: string[]): Promise<Record<string, ConsumerStats>> => {
    let last = 'no stats yet';
    return waitFor(
      async () => {
        const { json } = await service.request<{ consumers: Record<string, ConsumerStats> }>(
          'GET',
          '/v1/admin/stats',
          { key: 'admin' },
        );
        last = JSON.stringify(json.consumers);
        const idle = groups.every((group) => {
          const stats = json.consumers[group];
          return stats !== undefined && stats.lag === 0 && stats.inFlight === 0;
        });
        return idle ? json.consumers : undefined;
      },
      {
        timeoutMs: 15_000,
        intervalMs: 50,
        what: `${groups.join(' and ')} to catch up`,
        describe: () => `last seen ${last}`,
      },
    );
  };

  it('dead-letters the failing event after 3 attempts while the others flow', async () => {
    poisonOrder = await place();
    const others = [await place(), await place(), await place()];
    await eventually(async () =>
      (await statusOf(poisonOrder as string)) === 'COMPLETED' ? true : undefined,
    );
    await eventually(
      () => (others.every((id) => handled.includes(id)) ? true : undefined),
      15_000,
      'the other orders to flow',
    );
    const letter = await eventually(
      async () => {
        const { json } = await service.request<{ deadLetters: DeadLetterView[] }>(
          'GET',
          '/v1/admin/dlq',
          {
            key: 'admin',
          },
        );
        return json.deadLetters.find((l) => l.consumer === 'flaky' && l.event.key === poisonOrder);
      },
      20_000,
      'the dead letter',
    );
    expect(letter.attempts).toBe(3);
    expect(letter.lastError).toContain('downstream refused this order');
    expect(attempts.get(poisonOrder)).toBe(3);
    expect(handled).not.toContain(poisonOrder);
    // The fault belongs to one consumer: the others saw the order once.
    expect(counting.filter((id) => id === poisonOrder)).toHaveLength(1);

    const stats = await service.request<{ consumers: Record<string, { dlq: number }> }>(
      'GET',
      '/v1/admin/stats',
      { key: 'admin' },
    );
    expect(stats.json.consumers['flaky']?.dlq).toBe(1);

    failuresLeft = 2;
    const redrive = await service.request('POST', `/v1/admin/dlq/${letter.id}/redrive`, {
      key: 'admin',
    });
    expect(redrive.status).toBe(202);
    await eventually(() => (handled.includes(poisonOrder as string) ? true : undefined));
    // Attempts 1 and 2 of the fresh set failed, the third succeeded: not dead-lettered again.
    expect(attempts.get(poisonOrder)).toBe(6);
    const consumers = await caughtUp('flaky', 'bystander');
    expect(consumers['flaky']?.dlq).toBe(0);
    expect(handled.filter((id) => id === poisonOrder)).toHaveLength(1);
    expect(counting.filter((id) => id === poisonOrder)).toHaveLength(1);
    const after = await service.request<{ deadLetters: DeadLetterView[] }>('GET', '/v1/admin/dlq', {
      key: 'admin',
    });
    expect(after.json.deadLetters.filter((l) => l.consumer === 'flaky')).toHaveLength(0);
    const again = await service.request('POST', `/v1/admin/dlq/${letter.id}/redrive`, {
      key: 'admin',
    });
    expect(again.status).toBe(404);
  });

  it('replays one group from a sequence number: that group alone, nothing changes', async () => {
    const before = await service.request<{ available: number }>('GET', '/v1/products/A123');
    const bystanderSeen = counting.length;
    const flakySeen = handled.length;
    const replay = await service.request('POST', '/v1/admin/replay', {
      key: 'admin',
      body: { consumer: 'flaky', fromSeq: 1 },
    });
    expect(replay.status).toBe(202);
    await eventually(
      () => (handled.length >= flakySeen + 4 ? true : undefined),
      15_000,
      'the replay',
    );
    await caughtUp('flaky', 'bystander');
    // Every COMPLETED order once more to the replayed group, nothing to the other.
    expect([...handled.slice(flakySeen)].sort()).toEqual([...new Set(counting)].sort());
    expect(counting.length).toBe(bystanderSeen);
    const after = await service.request<{ available: number }>('GET', '/v1/products/A123');
    expect(after.json.available).toBe(before.json.available);
    const stats = await service.request<{ orders: Record<string, number> }>(
      'GET',
      '/v1/admin/stats',
      {
        key: 'admin',
      },
    );
    expect(stats.json.orders['COMPLETED']).toBe(4);
  });

  it('replays a group from a time', async () => {
    const flakySeen = handled.length;
    const bystanderSeen = counting.length;
    const replay = await service.request('POST', '/v1/admin/replay', {
      key: 'admin',
      body: { consumer: 'flaky', fromTime: new Date(Date.now() - 60_000).toISOString() },
    });
    expect(replay.status).toBe(202);
    await eventually(
      () => (handled.length >= flakySeen + 4 ? true : undefined),
      15_000,
      'the replay',
    );
    await caughtUp('flaky', 'bystander');
    // A minute back covers the whole run: every COMPLETED order once more, to flaky alone.
    expect([...handled.slice(flakySeen)].sort()).toEqual([...new Set(counting)].sort());
    expect(counting.length).toBe(bystanderSeen);
  });

  it('shows an order timeline with each consumer outcome', async () => {
    const { status, json } = await service.request<{
      events: {
        type: string;
        data: { status?: string };
        outcomes: Record<string, { state: string; attempts: number }>;
      }[];
    }>('GET', `/v1/admin/orders/${poisonOrder}/timeline`, { key: 'admin' });
    expect(status).toBe(200);
    const types = json.events.map((event) => event.type);
    expect(types[0]).toBe('OrderPlaced');
    expect(types).toContain('OrderStatusChanged.COMPLETED');
    const completed = json.events.find((event) => event.data.status === 'COMPLETED');
    // Acked on the third attempt of the set the redrive gave it.
    expect(completed?.outcomes['flaky']).toMatchObject({ state: 'acked', attempts: 3 });
    expect(completed?.outcomes['bystander']).toMatchObject({ state: 'acked', attempts: 1 });
  });
});
