import type { Delivery, EventLog, NewEvent } from '../../src/ports/event-log.js';
import type { Order } from '../../src/domain/order.js';
import { newOrder } from '../../src/domain/order.js';
import type { OrderStatus } from '../../src/domain/status.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `condition` holds; fails with `what` after `timeoutMs`. */
export async function until(
  condition: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Records deliveries; acks them at once unless told otherwise. */
export class Collector {
  readonly deliveries: Delivery[] = [];

  constructor(
    private readonly onDelivery: (delivery: Delivery) => void = (delivery) => delivery.ack(),
  ) {}

  readonly deliver = (delivery: Delivery): void => {
    this.deliveries.push(delivery);
    this.onDelivery(delivery);
  };

  get ids(): string[] {
    return this.deliveries.map((delivery) => delivery.event.id);
  }

  async waitFor(count: number, timeoutMs = 5_000): Promise<Delivery[]> {
    await until(
      () => this.deliveries.length >= count,
      `${count} deliveries (have ${this.deliveries.length})`,
      timeoutMs,
    );
    return this.deliveries;
  }

  /** Resolves once the event `id` has been delivered. */
  async waitForId(id: string, timeoutMs = 5_000): Promise<Delivery[]> {
    await until(
      () => this.deliveries.some((delivery) => delivery.event.id === id),
      `a delivery of ${id} (have ${this.ids.join(', ') || 'none'})`,
      timeoutMs,
    );
    return this.deliveries;
  }
}

let sentinels = 0;

/** A sentinel event of `type`: a fresh id, on a key of its own (`sentinel`). */
export function sentinelEvent(type = 'T'): NewEvent {
  sentinels += 1;
  return { id: `sentinel-${process.pid}-${sentinels}`, type, key: 'sentinel', data: {} };
}

/**
 * Appends a sentinel after everything the test did and waits until each collector has it.
 * A log delivers in append order, so whatever it would hand those groups before the
 * sentinel it has handed by then: "nothing else was delivered" is checked against the
 * sentinel instead of after a sleep. Answers the sentinel's id.
 */
export async function appendSentinel(
  log: EventLog,
  collectors: readonly Collector[],
  type = 'T',
  timeoutMs = 5_000,
): Promise<string> {
  const sentinel = sentinelEvent(type);
  await log.append([sentinel]);
  for (const collector of collectors) await collector.waitForId(sentinel.id, timeoutMs);
  return sentinel.id;
}

let counter = 0;

/** A fresh order id, unique within the test run. */
export function orderId(prefix = 'ord'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
}

export function makeOrder(fields: Partial<Order> & { status?: OrderStatus } = {}): Order {
  const base = newOrder({
    orderId: fields.orderId ?? orderId(),
    customerId: 'cus_1',
    email: 'buyer@example.com',
    items: [
      { sku: 'A123', qty: 2, unitPrice: { amount: 1999, currency: 'USD' } },
      { sku: 'B456', qty: 1, unitPrice: { amount: 4900, currency: 'USD' } },
    ],
    total: { amount: 2 * 1999 + 4900, currency: 'USD' },
    paymentMethod: 'pm_card_visa',
    owner: 'client',
    clientIp: '127.0.0.1',
    createdAt: '2030-01-01T12:00:00.000Z',
  });
  return { ...base, ...fields };
}

/** Retries `check` (an assertion) until it passes or `timeoutMs` is over. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(10);
    }
  }
}
