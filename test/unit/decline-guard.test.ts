import { describe, expect, it } from 'vitest';
import { newOrder } from '../../src/domain/order.js';
import { DECLINE_WINDOW_MS } from '../../src/ports/decline-counter.js';
import {
  DeclineGuard,
  MemoryDeclineCounter,
  type DeclineCounts,
  declineSubjectOf,
  type DeclineSubject,
} from '../../src/workflow/decline-guard.js';

/** Time that moves only when the test says so. */
function manualClock() {
  let now = 1_700_000_000_000;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const subject = (overrides: Partial<DeclineSubject> = {}): DeclineSubject => ({
  customerId: 'c1',
  paymentMethod: 'pm_1',
  ip: '203.0.113.1',
  ...overrides,
});

describe('decline guard', () => {
  it('blocks the customer, the payment method and the IP of the declines, not the others', async () => {
    const guard = new DeclineGuard(2, manualClock());
    await guard.record(subject());
    expect(await guard.blocked(subject())).toBe(false);
    await guard.record(subject());
    expect(await guard.blocked(subject())).toBe(true);
    // Any one of them counts: the same customer elsewhere, the card elsewhere, the IP.
    const others = { customerId: 'c2', paymentMethod: 'pm_2', ip: '203.0.113.2' };
    expect(await guard.blocked(subject({ ...others, customerId: 'c1' }))).toBe(true);
    expect(await guard.blocked(subject({ ...others, paymentMethod: 'pm_1' }))).toBe(true);
    expect(await guard.blocked(subject({ ...others, ip: '203.0.113.1' }))).toBe(true);
    expect(await guard.blocked(subject(others))).toBe(false);
  });

  it('the issue: many honest customers behind one back end are not blocked by one card tester', async () => {
    // With the end user's IP from the trusted header, a tester's declines count against
    // the tester's IP, customer and card, never against the other customers.
    const guard = new DeclineGuard(3, manualClock());
    for (let i = 0; i < 10; i++) {
      await guard.record({ customerId: 'tester', paymentMethod: `pm_t${i}`, ip: '198.51.100.66' });
    }
    expect(await guard.blocked(subject({ customerId: 'tester', ip: '198.51.100.7' }))).toBe(true);
    for (let i = 0; i < 20; i++) {
      const honest = { customerId: `c${i}`, paymentMethod: `pm_c${i}`, ip: `203.0.113.${i}` };
      expect(await guard.blocked(honest)).toBe(false);
    }
  });

  it('counts one card across payment methods by its fingerprint', async () => {
    const guard = new DeclineGuard(2, manualClock());
    const card = (i: number) =>
      subject({
        customerId: `c${i}`,
        paymentMethod: `pm_${i}`,
        ip: `203.0.113.${i}`,
        cardFingerprint: 'fp_same',
      });
    await guard.record(card(1));
    await guard.record(card(2));
    expect(await guard.blocked(card(3))).toBe(true);
    // Without the fingerprint the third payment method is unknown to the guard.
    expect(await guard.blocked({ ...card(3), cardFingerprint: undefined })).toBe(false);
  });

  it('forgets declines older than the window', async () => {
    const clock = manualClock();
    const guard = new DeclineGuard(2, clock);
    await guard.record(subject());
    clock.advance(DECLINE_WINDOW_MS / 2);
    await guard.record(subject());
    expect(await guard.blocked(subject())).toBe(true);
    clock.advance(DECLINE_WINDOW_MS / 2);
    expect(await guard.blocked(subject())).toBe(false);
    clock.advance(DECLINE_WINDOW_MS);
    await guard.record(subject());
    expect(await guard.blocked(subject())).toBe(false);
  });

  it('is off at 0: nothing counted, nothing blocked', async () => {
    const calls: string[] = [];
    const counter: DeclineCounts = {
      add: () => {
        calls.push('add');
        return Promise.resolve();
      },
      counts: (keys) => {
        calls.push('counts');
        return Promise.resolve(keys.map(() => 1_000));
      },
    };
    const guard = new DeclineGuard(0, manualClock(), counter);
    await guard.record(subject());
    expect(await guard.blocked(subject())).toBe(false);
    expect(calls).toEqual([]);
  });

  it('counts through the counter it is given (a shared store implements the same two calls)', async () => {
    const added: string[][] = [];
    const counter: DeclineCounts = {
      add: (keys) => {
        added.push([...keys]);
        return Promise.resolve();
      },
      counts: (keys) => Promise.resolve(keys.map((key) => (key === 'ip:203.0.113.1' ? 5 : 0))),
    };
    const guard = new DeclineGuard(5, manualClock(), counter);
    await guard.record(subject({ cardFingerprint: 'fp_1' }));
    expect(added).toEqual([['customer:c1', 'method:pm_1', 'ip:203.0.113.1', 'card:fp_1']]);
    expect(await guard.blocked(subject({ customerId: 'c9', paymentMethod: 'pm_9' }))).toBe(true);
    expect(await guard.blocked(subject({ ip: '203.0.113.9' }))).toBe(false);
  });

  it("reads an order's customer, payment method and client IP", () => {
    const order = newOrder({
      orderId: 'o1',
      customerId: 'c1',
      email: 'c1@example.com',
      items: [{ sku: 'A123', qty: 1, unitPrice: { amount: 1999, currency: 'USD' } }],
      total: { amount: 1999, currency: 'USD' },
      paymentMethod: 'pm_card_visa',
      owner: 'client_1',
      clientIp: '203.0.113.5',
      createdAt: new Date(0).toISOString(),
    });
    expect(declineSubjectOf(order)).toEqual({
      customerId: 'c1',
      paymentMethod: 'pm_card_visa',
      ip: '203.0.113.5',
    });
  });
});

describe('in-memory decline counter', () => {
  it('keeps at most maxKeys keys, dropping those with the oldest latest decline', async () => {
    const clock = manualClock();
    const counter = new MemoryDeclineCounter({ clock, maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) {
      await counter.add([key]);
      clock.advance(1);
    }
    await counter.add(['a']);
    clock.advance(1);
    await counter.add(['d']);
    expect(counter.size).toBe(3);
    expect(await counter.counts(['a', 'b', 'c', 'd'])).toEqual([2, 0, 1, 1]);
  });

  it('keeps at most maxPerKey times per key, and drops a key whose declines expired', async () => {
    const clock = manualClock();
    const counter = new MemoryDeclineCounter({ clock, windowMs: 1000, maxPerKey: 5 });
    for (let i = 0; i < 20; i++) await counter.add(['k']);
    expect(await counter.counts(['k'])).toEqual([5]);
    clock.advance(1001);
    expect(await counter.counts(['k'])).toEqual([0]);
    expect(counter.size).toBe(0);
  });
});
