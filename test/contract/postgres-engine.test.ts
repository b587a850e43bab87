import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  migrate,
  SOURCE_OF_TRUTH_MIGRATIONS,
} from '../../src/adapters/postgres/postgres-migrations.js';
import { createPostgresPool } from '../../src/adapters/postgres/postgres-pool.js';
import {
  openPostgresSourceOfTruth,
  PostgresSourceOfTruth,
} from '../../src/adapters/postgres/postgres-source-of-truth.js';
import type { Order } from '../../src/domain/order.js';
import { postgresSotFixture, type PostgresSotFixture } from '../helpers/backends-postgres.js';
import { ENGINES, enginesUp, randomNamespace } from '../helpers/engines.js';
import { ManualClock } from './fixture.js';
import { eventually, makeOrder } from './support.js';

const up = await enginesUp('postgres');
const clock = new ManualClock();
const NOBODY_LISTENS = 'postgres://postgres@127.0.0.1:1/test';

function completed(count: number): Order[] {
  return Array.from({ length: count }, () =>
    makeOrder({ status: 'COMPLETED', paymentRef: 'pi_1', updatedAt: '2030-01-01T12:03:00.000Z' }),
  );
}

const refunded = (orders: readonly Order[]): Order[] =>
  orders.map((order) => ({ ...order, status: 'REFUNDED' }));

describe.skipIf(!up)('PostgreSQL source of truth, engine specifics', () => {
  let fixture: PostgresSotFixture;
  let sot: PostgresSourceOfTruth;

  const count = async (table: string) =>
    (await fixture.rows(`SELECT COUNT(*) AS n FROM ${table}`))[0];
  const onHand = async (sku: string) => (await sot.product(sku))?.onHand;

  beforeEach(async () => {
    fixture = await postgresSotFixture();
    sot = fixture.open(clock);
    for (const sku of ['A123', 'B456']) {
      await sot.putProduct({
        sku,
        name: sku,
        price: { amount: 100, currency: 'USD' },
        onHand: 10_000,
      });
    }
  });

  afterEach(async () => {
    await fixture.dispose();
  });

  it('migrates once when five pools migrate one fresh schema at the same time', async () => {
    const schema = randomNamespace('mig');
    const pools = Array.from({ length: 5 }, () =>
      createPostgresPool({ url: ENGINES.postgres, schema }),
    );
    try {
      const applied = await Promise.all(
        pools.map((pool) => migrate(pool, SOURCE_OF_TRUTH_MIGRATIONS, schema)),
      );
      const ids = SOURCE_OF_TRUTH_MIGRATIONS.map((migration) => migration.id);
      expect(applied.flat()).toEqual(ids);
      expect(await migrate(pools[0]!, SOURCE_OF_TRUTH_MIGRATIONS, schema)).toEqual([]);
      const { rows } = await pools[0]!.query('SELECT id FROM schema_migrations ORDER BY id');
      expect(rows).toEqual(ids.map((id) => ({ id })));
    } finally {
      await pools[0]!.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('opens from five instances at once on an already migrated schema', async () => {
    const opened = await Promise.all(
      Array.from({ length: 5 }, () =>
        openPostgresSourceOfTruth({ url: fixture.url, clock, schema: fixture.schema }),
      ),
    );
    try {
      expect(await Promise.all(opened.map((instance) => instance.ping()))).toEqual(
        Array(5).fill(true),
      );
      expect(await fixture.rows('SELECT id FROM schema_migrations')).toHaveLength(
        SOURCE_OF_TRUTH_MIGRATIONS.length,
      );
    } finally {
      await Promise.all(opened.map((instance) => instance.close()));
    }
  });

  it('applies a batch of 1,000 orders with its refunds in one transaction', async () => {
    const earlier = completed(10);
    await sot.applyOrders(earlier);
    const batch = [...completed(1_000), ...refunded(earlier)];
    await sot.applyOrders(batch);
    expect(await count('orders')).toEqual({ n: 1_010 });
    expect(await count('order_items')).toEqual({ n: 2_020 });
    expect(await onHand('A123')).toBe(10_000 - 2 * 1_000);
    expect(await onHand('B456')).toBe(10_000 - 1_000);
  });

  describe.each([
    [
      'an item row PostgreSQL rejects',
      (order: Order): Order => ({
        ...order,
        items: [{ sku: 'A123', qty: 3_000_000_000, unitPrice: { amount: 1, currency: 'USD' } }],
      }),
    ],
    [
      'a stock update that overflows, the last statement',
      (order: Order): Order => ({
        ...order,
        items: [{ sku: 'MIN', qty: 10_000, unitPrice: { amount: 1, currency: 'USD' } }],
      }),
    ],
  ])('fails a batch as a whole on %s', (_, spoil) => {
    it('writes nothing of it', async () => {
      // Near the bigint minimum: taking 10,000 more is out of range.
      await sot.putProduct({
        sku: 'MIN',
        name: 'min',
        price: { amount: 1, currency: 'USD' },
        onHand: -(2 ** 63) + 6_144,
      });
      const earlier = completed(10);
      await sot.applyOrders(earlier);
      const fresh = completed(1_000);
      fresh[600] = spoil(fresh[600]!);
      await expect(sot.applyOrders([...refunded(earlier), ...fresh])).rejects.toThrow(
        /out of range/,
      );
      expect(await count('orders')).toEqual({ n: 10 });
      expect(await count('order_items')).toEqual({ n: 20 });
      expect(await fixture.rows('SELECT DISTINCT status FROM orders')).toEqual([
        { status: 'COMPLETED' },
      ]);
      expect(await onHand('A123')).toBe(10_000 - 2 * 10);
      expect(await onHand('B456')).toBe(10_000 - 10);
      await sot.applyOrders(fresh.filter((_, index) => index !== 600));
      expect(await count('orders')).toEqual({ n: 1_009 });
    });
  });

  it('applies the same batch from two instances at once: each order once, stock taken once', async () => {
    const other = fixture.open(clock);
    const batch = completed(1_000);
    const shuffled = [...batch].reverse();
    await Promise.all([sot.applyOrders(batch), other.applyOrders(shuffled)]);
    expect(await count('orders')).toEqual({ n: 1_000 });
    expect(await count('order_items')).toEqual({ n: 2_000 });
    expect(await onHand('A123')).toBe(10_000 - 2_000);
    expect(await onHand('B456')).toBe(10_000 - 1_000);

    await Promise.all([sot.applyOrders(refunded(batch)), other.applyOrders(refunded(shuffled))]);
    expect(await onHand('A123')).toBe(10_000);
    expect(await onHand('B456')).toBe(10_000);
    expect(await fixture.rows('SELECT DISTINCT status FROM orders')).toEqual([
      { status: 'REFUNDED' },
    ]);
  });

  it('applies overlapping batches from two instances without deadlocking', async () => {
    const other = fixture.open(clock);
    const orders = completed(600);
    await Promise.all([
      sot.applyOrders(orders.slice(0, 400)),
      other.applyOrders(orders.slice(200).reverse()),
      sot.applyOrders(orders.slice(100, 500)),
    ]);
    expect(await count('orders')).toEqual({ n: 600 });
    expect(await onHand('A123')).toBe(10_000 - 2 * 600);
  });

  it('recovers by itself when the server drops its connections', async () => {
    const errors: Error[] = [];
    const watched = new PostgresSourceOfTruth({
      url: fixture.url,
      clock,
      schema: fixture.schema,
      onError: (error) => errors.push(error),
    });
    try {
      expect(await watched.products()).toHaveLength(2);
      await fixture.rows(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ? AND pid <> pg_backend_pid()',
        `orderflow/${fixture.schema}`,
      );
      await eventually(() => expect(errors).not.toHaveLength(0));
      expect(await watched.products()).toHaveLength(2);
      expect(await watched.ping()).toBe(true);
    } finally {
      await watched.close();
    }
  });
});

describe('PostgreSQL source of truth where nothing listens', () => {
  it('rejects opening, and rejects calls instead of hanging', async () => {
    await expect(openPostgresSourceOfTruth({ url: NOBODY_LISTENS, clock })).rejects.toThrow();
    const sot = new PostgresSourceOfTruth({ url: NOBODY_LISTENS, clock });
    try {
      await expect(sot.products()).rejects.toThrow();
      await expect(sot.applyOrders(completed(3))).rejects.toThrow();
      await expect(sot.recordSale(completed(1)[0]!, 'COMPLETED', clock.now())).rejects.toThrow();
      expect(await sot.ping()).toBe(false);
    } finally {
      await sot.close();
    }
  });
});
