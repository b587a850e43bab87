import { describe, expect, it } from 'vitest';
import { eventIdOf } from '../../src/domain/events.js';
import { money, total } from '../../src/domain/money.js';
import { applyTransition, newOrder, quantitiesBySku } from '../../src/domain/order.js';
import {
  canTransition,
  isCancellable,
  isTerminal,
  ORDER_STATUSES,
} from '../../src/domain/status.js';

describe('money', () => {
  it('is integer minor units', () => {
    expect(() => money(19.99, 'USD')).toThrow(RangeError);
    expect(() => money(-1, 'USD')).toThrow(RangeError);
    expect(money(1999, 'USD')).toEqual({ amount: 1999, currency: 'USD' });
  });
  it('totals lines of one currency and refuses a mix', () => {
    const usd = { amount: 1999, currency: 'USD' };
    expect(total([{ unitPrice: usd, qty: 3 }])).toEqual({ amount: 5997, currency: 'USD' });
    expect(() =>
      total([
        { unitPrice: usd, qty: 1 },
        { unitPrice: { amount: 1, currency: 'EUR' }, qty: 1 },
      ]),
    ).toThrow();
    expect(() => total([])).toThrow();
  });
});

describe('status machine', () => {
  it('has five terminal statuses', () => {
    expect(ORDER_STATUSES.filter(isTerminal)).toEqual([
      'COMPLETED',
      'FAILED_NO_STOCK',
      'PAYMENT_FAILED',
      'CANCELLED',
      'REFUNDED',
    ]);
  });
  it('moves only forward along the saga', () => {
    expect(canTransition('PENDING', 'RESERVED')).toBe(true);
    expect(canTransition('RESERVED', 'PAID')).toBe(true);
    expect(canTransition('PAID', 'COMPLETED')).toBe(true);
    expect(canTransition('COMPLETED', 'REFUNDED')).toBe(true);
    expect(canTransition('COMPLETED', 'CANCELLED')).toBe(false);
    expect(canTransition('PENDING', 'PAID')).toBe(false);
    expect(canTransition('REFUNDED', 'COMPLETED')).toBe(false);
  });
  it('allows a cancel until the order is final', () => {
    expect(
      ['PENDING', 'RESERVED', 'PAID', 'COMPLETED'].every((s) => isCancellable(s as never)),
    ).toBe(true);
    expect(
      ['FAILED_NO_STOCK', 'PAYMENT_FAILED', 'CANCELLED', 'REFUNDED'].some((s) =>
        isCancellable(s as never),
      ),
    ).toBe(false);
  });
});

describe('order', () => {
  const order = newOrder({
    orderId: 'o1',
    customerId: 'c',
    email: 'c@example.com',
    items: [{ sku: 'A', qty: 1, unitPrice: { amount: 100, currency: 'USD' } }],
    total: { amount: 100, currency: 'USD' },
    paymentMethod: 'pm_card_visa',
    owner: 'client_x',
    clientIp: '127.0.0.1',
    createdAt: '2026-01-01T00:00:00.000Z',
  });
  it('starts PENDING with its history', () => {
    expect(order.status).toBe('PENDING');
    expect(order.history).toEqual([{ status: 'PENDING', at: '2026-01-01T00:00:00.000Z' }]);
  });
  it('records each transition in its history', () => {
    const reserved = applyTransition(order, 'RESERVED', '2026-01-01T00:00:01.000Z');
    const paid = applyTransition(reserved, 'PAID', '2026-01-01T00:00:02.000Z', {
      paymentRef: 'pi_1',
    });
    expect(paid.history.map((h) => h.status)).toEqual(['PENDING', 'RESERVED', 'PAID']);
    expect(paid.paymentRef).toBe('pi_1');
    expect(paid.updatedAt).toBe('2026-01-01T00:00:02.000Z');
  });
  it('sums lines of one SKU', () => {
    expect(
      quantitiesBySku([
        { sku: 'A', qty: 2 },
        { sku: 'B', qty: 1 },
        { sku: 'A', qty: 3 },
      ]),
    ).toEqual(
      new Map([
        ['A', 5],
        ['B', 1],
      ]),
    );
  });
  it('gives events deterministic ids', () => {
    expect(eventIdOf({ type: 'OrderPlaced', order })).toBe('o1.placed');
    expect(eventIdOf({ type: 'OrderStatusChanged', orderId: 'o1', status: 'PAID', at: '' })).toBe(
      'o1.status.PAID',
    );
  });
});
