import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Order } from '../../src/domain/order.js';
import type { EventLog, LogEvent, NewEvent } from '../../src/ports/event-log.js';
import type { OrderStore } from '../../src/ports/order-store.js';
import { ManualClock, type Fixture, type FixtureFactory } from './fixture.js';
import { makeOrder, sentinelEvent, until } from './support.js';

/** An order store with the event log it emits on, as the composition root pairs them. */
export interface OrdersAndLog {
  readonly orders: OrderStore;
  readonly log: EventLog;
  close(): Promise<void>;
}

const AT = '2030-01-01T12:00:05.000Z';

const event = (id: string, key: string): NewEvent => ({ id, type: 'Test', key, data: { id } });

/**
 * Every event of type `Test` in the log, read by a new group up to a sentinel appended
 * after what the test did: the log delivers in append order, so once the sentinel is in,
 * whatever the store emitted is in too (and whatever is missing was never emitted).
 */
async function readAll(log: OrdersAndLog['log'], group: string): Promise<LogEvent[]> {
  const sentinel = sentinelEvent('Test');
  await log.append([sentinel]);
  const seen: LogEvent[] = [];
  const subscription = log.consume({ group, types: ['Test'], maxInFlight: 100 }, (delivery) => {
    seen.push(delivery.event);
    delivery.ack();
  });
  await until(() => seen.some((event) => event.id === sentinel.id), `the sentinel ${sentinel.id}`);
  await subscription.stop();
  return seen.filter((event) => event.id !== sentinel.id);
}

/** An order store's writes emit their events: with the change, and never without it. */
export function describeOrderEventsContract(
  name: string,
  factory: FixtureFactory<OrdersAndLog>,
): void {
  describe(`${name} OrderStore events`, () => {
    let fixture: Fixture<OrdersAndLog>;
    let pair: OrdersAndLog;
    let order: Order;

    beforeEach(async () => {
      fixture = await factory();
      pair = fixture.open(new ManualClock());
      order = makeOrder();
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    it('emits the events of a create, once', async () => {
      await pair.orders.create(order, [event('e-placed', order.orderId)]);
      await pair.orders.create(order, [event('e-placed-again', order.orderId)]);
      expect((await readAll(pair.log, 'g1')).map((e) => e.id)).toEqual(['e-placed']);
    });

    it('emits the events of a transition that happened, and none of one that did not', async () => {
      await pair.orders.create(order);
      const moved = await pair.orders.transition(
        order.orderId,
        'PENDING',
        'RESERVED',
        AT,
        {},
        (o) => [event(`e-${o.status}`, o.orderId)],
      );
      expect(moved?.status).toBe('RESERVED');
      const lost = await pair.orders.transition(
        order.orderId,
        'PENDING',
        'CANCELLED',
        AT,
        {},
        () => [event('e-never', order.orderId)],
      );
      expect(lost).toBeUndefined();
      expect((await readAll(pair.log, 'g2')).map((e) => e.id)).toEqual(['e-RESERVED']);
    });
  });
}
