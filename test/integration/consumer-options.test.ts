import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineConsumer } from '../../src/workflow/define-consumer.js';
import {
  eventually,
  placeOrder,
  startInProcess,
  type InProcessService,
} from '../helpers/in-process.js';

interface DeadLetterView {
  consumer: string;
  attempts: number;
  event: { key: string };
}

/**
 * A shop's consumer says where it starts and how it is retried: one added to a shop that
 * already has orders hears only what comes next unless it asks for a backfill, and one
 * with `retry.attempts: 1` dead-letters a failing event after that one attempt.
 */
describe('defineConsumer: start position and retry policy', () => {
  let dataDir: string;
  let service: InProcessService | undefined;
  const seen = { late: [] as string[], backfill: [] as string[] };
  const tries = new Map<string, number>();

  const place = placeOrder;
  const completed = (svc: InProcessService, orderId: string) =>
    eventually(async () => {
      const { json } = await svc.request<{ status: string }>('GET', `/v1/orders/${orderId}`);
      return json.status === 'COMPLETED' ? true : undefined;
    });

  let before: string;
  let after: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'orderflow-consumer-options-'));
    const first = await startInProcess({ dataDir });
    before = await place(first);
    await completed(first, before);
    await first.close();
    service = await startInProcess({
      dataDir,
      consumers: [
        defineConsumer({
          name: 'late',
          on: ['COMPLETED'],
          handle: ({ order }) => Promise.resolve(void seen.late.push(order.orderId)),
        }),
        defineConsumer({
          name: 'backfill',
          on: ['COMPLETED'],
          from: 'beginning',
          handle: ({ order }) => Promise.resolve(void seen.backfill.push(order.orderId)),
        }),
        defineConsumer({
          name: 'impatient',
          on: ['COMPLETED'],
          retry: { attempts: 1 },
          handle: ({ order }) => {
            tries.set(order.orderId, (tries.get(order.orderId) ?? 0) + 1);
            return Promise.reject(new Error('downstream refused'));
          },
        }),
      ],
    });
    after = await place(service);
    await completed(service, after);
  });
  afterAll(async () => {
    await service?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a new consumer starts at now by default; from: beginning backfills', async () => {
    await eventually(() => (seen.late.includes(after) ? true : undefined));
    await eventually(() => (seen.backfill.includes(after) ? true : undefined));
    // Each group is handed its events in log order: `before` would have come first.
    expect(seen.late).toEqual([after]);
    expect(seen.backfill).toEqual([before, after]);
  });

  it('retry.attempts bounds the attempts before the dead-letter queue', async () => {
    const letter = await eventually(async () => {
      const { json } = await service!.request<{ deadLetters: DeadLetterView[] }>(
        'GET',
        '/v1/admin/dlq',
        { key: 'admin' },
      );
      return json.deadLetters.find((l) => l.consumer === 'impatient' && l.event.key === after);
    });
    expect(letter.attempts).toBe(1);
    expect(tries.get(after)).toBe(1);
    // It started at now too: the order from before was never its.
    expect(tries.has(before)).toBe(false);
  });

  it('refuses options that make no sense', () => {
    const base = { name: 'x', on: ['COMPLETED'] as const, handle: () => Promise.resolve() };
    expect(() => defineConsumer({ ...base, retry: { attempts: 0 } })).toThrow(TypeError);
    expect(() => defineConsumer({ ...base, retry: { baseDelayMs: -1 } })).toThrow(TypeError);
    expect(() => defineConsumer({ ...base, from: 'yesterday' as unknown as 'now' })).toThrow(
      TypeError,
    );
  });
});
