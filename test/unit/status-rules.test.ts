/**
 * The status and stock rules both sources of truth go by: which status follows which
 * (`leadsTo`) and what a status change does to on_hand (`onHandEffect`), checked for every
 * pair of statuses against DESIGN.md's flow.
 */
import { describe, expect, it } from 'vitest';
import { onHandEffect, takesOnHand, type OnHandEffect } from '../../src/domain/on-hand.js';
import {
  canTransition,
  isTerminal,
  leadsTo,
  ORDER_STATUSES,
  type OrderStatus,
} from '../../src/domain/status.js';

/** What follows each status, in one step or several, as DESIGN.md's flow has it. */
const FOLLOWS: Record<OrderStatus, readonly OrderStatus[]> = {
  // reserve → RESERVED, no stock → FAILED_NO_STOCK, cancel before payment → CANCELLED
  PENDING: [
    'RESERVED',
    'PAID',
    'COMPLETED',
    'FAILED_NO_STOCK',
    'PAYMENT_FAILED',
    'CANCELLED',
    'REFUNDED',
  ],
  // charge → PAID, declined → PAYMENT_FAILED, cancel or expiry before payment → CANCELLED
  RESERVED: ['PAID', 'COMPLETED', 'PAYMENT_FAILED', 'CANCELLED', 'REFUNDED'],
  // commit → COMPLETED, cancel after payment → REFUNDED
  PAID: ['COMPLETED', 'REFUNDED'],
  // terminal unless cancelled, which refunds it
  COMPLETED: ['REFUNDED'],
  FAILED_NO_STOCK: [],
  PAYMENT_FAILED: [],
  CANCELLED: [],
  REFUNDED: [],
};

const PAIRS = ORDER_STATUSES.flatMap((from) =>
  ORDER_STATUSES.map((to) => ({ from, to, follows: FOLLOWS[from].includes(to) })),
);

describe('leadsTo', () => {
  it.each(PAIRS)('$from → $to: $follows', ({ from, to, follows }) => {
    expect(leadsTo(from, to)).toBe(follows);
  });

  it('follows the happy path PENDING → RESERVED → PAID → COMPLETED one step at a time', () => {
    const steps = [
      ['PENDING', 'RESERVED'],
      ['RESERVED', 'PAID'],
      ['PAID', 'COMPLETED'],
    ] as const;
    for (const [from, to] of steps) {
      expect(canTransition(from, to)).toBe(true);
      expect(leadsTo(from, to)).toBe(true);
      expect(leadsTo(to, from)).toBe(false);
    }
  });

  it('leads from a terminal status nowhere but COMPLETED → REFUNDED', () => {
    const fromTerminal = PAIRS.filter(({ from, to }) => isTerminal(from) && leadsTo(from, to));
    expect(fromTerminal.map(({ from, to }) => `${from}>${to}`)).toEqual(['COMPLETED>REFUNDED']);
  });

  it('is the status machine taken in one or more steps: no cycles, transitive', () => {
    for (const { from, to } of PAIRS) {
      if (canTransition(from, to)) expect(leadsTo(from, to)).toBe(true);
      const via = ORDER_STATUSES.some((mid) => leadsTo(from, mid) && leadsTo(mid, to));
      if (via) expect(leadsTo(from, to)).toBe(true);
      if (leadsTo(from, to) && !canTransition(from, to)) expect(via).toBe(true);
    }
    for (const status of ORDER_STATUSES) expect(leadsTo(status, status)).toBe(false);
  });
});

describe('takesOnHand', () => {
  it.each(ORDER_STATUSES.map((status) => ({ status, takes: status === 'COMPLETED' })))(
    '$status: $takes',
    ({ status, takes }) => {
      expect(takesOnHand(status)).toBe(takes);
    },
  );
});

describe('onHandEffect', () => {
  /** The non-zero effects; every other recorded change leaves on_hand alone. */
  const EFFECTS: Record<string, OnHandEffect> = {
    // a COMPLETED order seen for the first time, or moved to COMPLETED, takes its stock
    '(new)>COMPLETED': -1,
    'PENDING>COMPLETED': -1,
    'RESERVED>COMPLETED': -1,
    'PAID>COMPLETED': -1,
    // cancelled after payment: refunded, the stock comes back
    'COMPLETED>REFUNDED': 1,
  };
  const CHANGES = [
    ...ORDER_STATUSES.map((to) => ({ from: undefined, to })),
    ...PAIRS.filter(({ follows }) => follows),
  ].map(({ from, to }) => {
    const key = `${from ?? '(new)'}>${to}`;
    return { from, to, key, effect: EFFECTS[key] ?? 0 };
  });

  it.each(CHANGES)('$key: $effect', ({ from, to, effect }) => {
    expect(onHandEffect(from, to)).toBe(effect);
  });

  it('lists effects only for changes the rules allow', () => {
    const keys = new Set(CHANGES.map(({ key }) => key));
    for (const key of Object.keys(EFFECTS)) expect(keys.has(key)).toBe(true);
  });

  it("takes an order's stock once and gives it back once, whichever copies a reader sees", () => {
    // Every way a reader can record an order: first at any status, then at any later ones.
    const chains: OrderStatus[][] = ORDER_STATUSES.map((status) => [status]);
    for (let i = 0; i < chains.length; i++) {
      const chain = chains[i] as OrderStatus[];
      const last = chain[chain.length - 1] as OrderStatus;
      for (const next of ORDER_STATUSES) if (leadsTo(last, next)) chains.push([...chain, next]);
    }
    expect(chains.length).toBeGreaterThan(ORDER_STATUSES.length);
    for (const chain of chains) {
      let onHand = 0;
      let recorded: OrderStatus | undefined;
      for (const status of chain) {
        onHand += onHandEffect(recorded, status);
        recorded = status;
        // on_hand is without the order's quantities exactly while it is recorded COMPLETED
        expect(onHand, chain.join(' → ')).toBe(takesOnHand(status) ? -1 : 0);
      }
    }
  });
});
