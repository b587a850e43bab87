import type pg from 'pg';
import { onHandEffect } from '../../domain/on-hand.js';
import {
  quantitiesBySku,
  type ArchivedOrder,
  type Order,
  type StatusChange,
  type OrderFacts,
} from '../../domain/order.js';
import { leadsTo, ORDER_STATUSES, type OrderStatus } from '../../domain/status.js';
import type { Clock } from '../../ports/clock.js';
import type { SourceOfTruth } from '../../ports/source-of-truth.js';
import type { CatalogProduct } from '../../ports/stock-store.js';
import {
  toArchivedOrder,
  type ArchivedItem,
  type ArchivedOrderRow,
} from '../shared/archived-order.js';
import { migrate, SOURCE_OF_TRUTH_MIGRATIONS } from './postgres-migrations.js';
import {
  createPostgresPool,
  inTransaction,
  type PostgresPoolOptions,
  type TimedQuery,
} from './postgres-pool.js';

const PRODUCTS = `SELECT sku, name, price_cents, currency, on_hand FROM products
  ORDER BY sku COLLATE "C"`;
const PRODUCT = 'SELECT sku, name, price_cents, currency, on_hand FROM products WHERE sku = $1';
const PUT_PRODUCT = `INSERT INTO products (sku, name, price_cents, currency, on_hand, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents,
    currency = excluded.currency, on_hand = excluded.on_hand, updated_at = excluded.updated_at`;
const INSERT_ORDERS = `INSERT INTO orders (order_id, customer_id, email, status, total_cents,
    currency, payment_ref, created_at, finalized_at, owner, reason, updated_at)
  SELECT n.*, n.finalized_at FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
      $5::bigint[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::text[],
      $11::text[])
    AS n (order_id, customer_id, email, status, total_cents, currency, payment_ref, created_at,
      finalized_at, owner, reason)
  ON CONFLICT (order_id) DO NOTHING
  RETURNING order_id`;
const INSERT_ITEMS = `INSERT INTO order_items (order_id, sku, qty, unit_price_cents, position)
  SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::bigint[], $5::integer[])
  ON CONFLICT (order_id, sku) DO NOTHING`;
const DELETE_HISTORY = 'DELETE FROM order_history WHERE order_id = ANY($1::text[])';
const INSERT_HISTORY = `INSERT INTO order_history (order_id, position, status, at)
  SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::timestamptz[])`;
/** ISO 8601 in UTC with milliseconds, as the orders carry their times. */
const ISO = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/** One statement, so one snapshot: the items and history are those of the row read. */
const ORDER = `SELECT o.order_id, o.customer_id, o.email, o.status, o.total_cents, o.currency,
    o.payment_ref, o.owner, o.reason, ${ISO('o.created_at')} AS created_at,
    ${ISO('COALESCE(o.updated_at, o.finalized_at, o.created_at)')} AS updated_at,
    COALESCE((SELECT json_agg(json_build_object('sku', i.sku, 'qty', i.qty,
        'unitCents', i.unit_price_cents) ORDER BY i.position, i.sku COLLATE "C")
      FROM order_items i WHERE i.order_id = o.order_id), '[]') AS items,
    COALESCE((SELECT json_agg(json_build_object('status', h.status, 'at', ${ISO('h.at')})
        ORDER BY h.position)
      FROM order_history h WHERE h.order_id = o.order_id), '[]') AS history
  FROM orders o WHERE o.order_id = $1`;
/**
 * Moves existing orders forward. `was` holds the rows locked (FOR UPDATE returns their latest
 * committed version), so `was.status` is the status this statement replaced: two processes
 * applying the same refund cannot both see COMPLETED.
 */
const ADVANCE_ORDERS = `UPDATE orders o SET status = n.status, finalized_at = n.finalized_at,
    updated_at = n.finalized_at, payment_ref = COALESCE(n.payment_ref, o.payment_ref),
    reason = n.reason
  FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $6::text[])
      AS n (order_id, status, payment_ref, finalized_at, reason),
    (SELECT order_id, status FROM orders WHERE order_id = ANY($1::text[])
      ORDER BY order_id FOR UPDATE) AS was
  WHERE o.order_id = n.order_id AND was.order_id = n.order_id AND o.status = was.status
    AND was.status || '>' || n.status = ANY($5::text[])
  RETURNING o.order_id, was.status AS was, o.status`;
/** Concurrent batches lock the products they move in one order, so they cannot deadlock. */
const LOCK_PRODUCTS = `SELECT sku FROM products
  WHERE sku IN (SELECT sku FROM order_items WHERE order_id = ANY($1::text[]))
  ORDER BY sku FOR UPDATE`;
/** on_hand moves by `sign` (an `OnHandEffect`) × each order's quantities as recorded here. */
const MOVE_STOCK = `UPDATE products p SET on_hand = p.on_hand + d.delta, updated_at = $3
  FROM (SELECT i.sku, SUM(i.qty * m.sign) AS delta
      FROM unnest($1::text[], $2::integer[]) AS m (order_id, sign)
      JOIN order_items i ON i.order_id = m.order_id
      GROUP BY i.sku) AS d
  WHERE p.sku = d.sku`;
const INSERT_SHIPMENT = `INSERT INTO shipments (order_id, items, requested_at) VALUES ($1, $2, $3)
  ON CONFLICT (order_id) DO NOTHING`;
/** One statement, so one transaction: the sale counts only if its (order, status) is new. */
const RECORD_SALE = `WITH first AS (
    INSERT INTO sales_applied (order_id, status) VALUES ($1, $2)
    ON CONFLICT (order_id, status) DO NOTHING RETURNING status
  )
  INSERT INTO sales_by_minute (minute, status, orders, revenue_cents)
  SELECT $3::timestamptz, status, 1, $4::bigint FROM first
  ON CONFLICT (minute, status) DO UPDATE SET orders = sales_by_minute.orders + 1,
    revenue_cents = sales_by_minute.revenue_cents + excluded.revenue_cents`;
const PING: TimedQuery = { text: 'SELECT 1', query_timeout: 2_000 };

/** Every `from>to` where `to` follows `from` (`leadsTo`), as ADVANCE_ORDERS matches them. */
const FORWARD: readonly string[] = ORDER_STATUSES.flatMap((from) =>
  ORDER_STATUSES.filter((to) => leadsTo(from, to)).map((to) => `${from}>${to}`),
);

interface OrderRow extends ArchivedOrderRow {
  readonly items: readonly ArchivedItem[];
  readonly history: readonly StatusChange[];
}

interface ProductRow {
  readonly sku: string;
  readonly name: string;
  readonly price_cents: number;
  readonly currency: string;
  readonly on_hand: number;
}

export interface PostgresSourceOfTruthOptions extends PostgresPoolOptions {
  readonly clock: Clock;
}

/**
 * The shop's database on PostgreSQL. Each call is one transaction; a batch of orders is one
 * transaction whatever its size, written with a few multi-row statements.
 */
export class PostgresSourceOfTruth implements SourceOfTruth {
  private readonly pool: pg.Pool;
  private readonly clock: Clock;
  private readonly schema: string | undefined;
  private closed = false;

  /** Connects lazily and migrates nothing: `openPostgresSourceOfTruth` also migrates. */
  constructor({ clock, ...poolOptions }: PostgresSourceOfTruthOptions) {
    this.pool = createPostgresPool(poolOptions);
    this.clock = clock;
    this.schema = poolOptions.schema;
  }

  /** Creates what the schema lacks; safe from several processes at once. */
  async migrate(): Promise<void> {
    await migrate(this.pool, SOURCE_OF_TRUTH_MIGRATIONS, this.schema);
  }

  async products(): Promise<CatalogProduct[]> {
    const { rows } = await this.pool.query<ProductRow>(PRODUCTS);
    return rows.map(toProduct);
  }

  async product(sku: string): Promise<CatalogProduct | undefined> {
    const { rows } = await this.pool.query<ProductRow>(PRODUCT, [sku]);
    return rows[0] && toProduct(rows[0]);
  }

  async putProduct(product: CatalogProduct): Promise<void> {
    await this.pool.query(PUT_PRODUCT, [
      product.sku,
      product.name,
      product.price.amount,
      product.price.currency,
      product.onHand,
      this.isoNow(),
    ]);
  }

  /** Records new orders, moves recorded ones forward, and on_hand with them (`onHandEffect`). */
  async applyOrders(orders: readonly Order[]): Promise<void> {
    const batch = latestPerOrder(orders);
    if (batch.length === 0) return;
    await inTransaction(this.pool, async (client) => {
      const inserted = await insertOrders(client, batch);
      const existing = batch.filter((order) => !inserted.has(order.orderId));
      const advanced = await advanceOrders(client, existing);
      const moved = new Set([...inserted, ...advanced.map((row) => row.order_id)]);
      await replaceHistories(
        client,
        batch.filter((order) => moved.has(order.orderId)),
      );
      const moves = [
        ...batch
          .filter((order) => inserted.has(order.orderId))
          .map((order) => ({
            orderId: order.orderId,
            sign: onHandEffect(undefined, order.status),
          })),
        ...advanced.map((row) => ({
          orderId: row.order_id,
          sign: onHandEffect(row.was, row.status),
        })),
      ].filter((move) => move.sign !== 0);
      if (moves.length === 0) return;
      const ids = moves.map((move) => move.orderId);
      await client.query(LOCK_PRODUCTS, [ids]);
      await client.query(MOVE_STOCK, [ids, moves.map((move) => move.sign), this.isoNow()]);
    });
  }

  async order(orderId: string): Promise<ArchivedOrder | undefined> {
    const { rows } = await this.pool.query<OrderRow>(ORDER, [orderId]);
    return rows[0] && toArchivedOrder(rows[0], rows[0].items, rows[0].history);
  }

  async requestShipment(order: OrderFacts, at: number): Promise<void> {
    const items = [...quantitiesBySku(order.items)].map(([sku, qty]) => ({ sku, qty }));
    await this.pool.query(INSERT_SHIPMENT, [
      order.orderId,
      JSON.stringify(items),
      new Date(at).toISOString(),
    ]);
  }

  async recordSale(order: OrderFacts, status: string, at: number): Promise<void> {
    const minute = new Date(at - (at % 60_000)).toISOString();
    await this.pool.query(RECORD_SALE, [order.orderId, status, minute, order.total.amount]);
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query(PING);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

/** Opens the pool and brings the schema up to date; rejects (pool closed) if it cannot. */
export async function openPostgresSourceOfTruth(
  options: PostgresSourceOfTruthOptions,
): Promise<PostgresSourceOfTruth> {
  const sot = new PostgresSourceOfTruth(options);
  try {
    await sot.migrate();
  } catch (error) {
    await sot.close();
    throw error;
  }
  return sot;
}

/** Inserts the orders not recorded yet, with their items; returns their ids. */
async function insertOrders(client: pg.PoolClient, batch: readonly Order[]): Promise<Set<string>> {
  const { rows } = await client.query<{ order_id: string }>(INSERT_ORDERS, [
    batch.map((order) => order.orderId),
    batch.map((order) => order.customerId),
    batch.map((order) => order.email),
    batch.map((order) => order.status),
    batch.map((order) => order.total.amount),
    batch.map((order) => order.total.currency),
    batch.map((order) => order.paymentRef ?? null),
    batch.map((order) => order.createdAt),
    batch.map((order) => order.updatedAt),
    batch.map((order) => order.owner),
    batch.map((order) => order.reason ?? null),
  ]);
  const inserted = new Set(rows.map((row) => row.order_id));
  if (inserted.size === 0) return inserted;
  const items: [string[], string[], number[], number[], number[]] = [[], [], [], [], []];
  for (const order of batch) {
    if (!inserted.has(order.orderId)) continue;
    const unitPrices = new Map(order.items.map((line) => [line.sku, line.unitPrice.amount]));
    let position = 0;
    for (const [sku, qty] of quantitiesBySku(order.items)) {
      items[0].push(order.orderId);
      items[1].push(sku);
      items[2].push(qty);
      items[3].push(unitPrices.get(sku) ?? 0);
      items[4].push(position++);
    }
  }
  await client.query(INSERT_ITEMS, items);
  return inserted;
}

interface AdvancedRow {
  readonly order_id: string;
  readonly was: OrderStatus;
  readonly status: OrderStatus;
}

/** Moves recorded orders forward (never back); returns those that moved. */
async function advanceOrders(
  client: pg.PoolClient,
  orders: readonly Order[],
): Promise<AdvancedRow[]> {
  if (orders.length === 0) return [];
  const { rows } = await client.query<AdvancedRow>(ADVANCE_ORDERS, [
    orders.map((order) => order.orderId),
    orders.map((order) => order.status),
    orders.map((order) => order.paymentRef ?? null),
    orders.map((order) => order.updatedAt),
    FORWARD,
    orders.map((order) => order.reason ?? null),
  ]);
  return rows;
}

/**
 * The history of each order written or moved on by this batch, as that version of it has
 * it (a refund's is the longer one): replaced whole, in the batch's transaction.
 */
async function replaceHistories(client: pg.PoolClient, orders: readonly Order[]): Promise<void> {
  if (orders.length === 0) return;
  await client.query(DELETE_HISTORY, [orders.map((order) => order.orderId)]);
  const rows: [string[], number[], string[], string[]] = [[], [], [], []];
  for (const order of orders) {
    order.history.forEach(({ status, at }, position) => {
      rows[0].push(order.orderId);
      rows[1].push(position);
      rows[2].push(status);
      rows[3].push(at);
    });
  }
  await client.query(INSERT_HISTORY, rows);
}

/**
 * One entry per order, as applying the batch in its order would leave it (a later entry
 * counts only if it moves the order forward), sorted by id so that concurrent batches take
 * their row locks in the same order.
 */
function latestPerOrder(orders: readonly Order[]): Order[] {
  const latest = new Map<string, Order>();
  for (const order of orders) {
    const seen = latest.get(order.orderId);
    if (!seen || leadsTo(seen.status, order.status)) latest.set(order.orderId, order);
  }
  return [...latest.values()].sort((a, b) =>
    a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0,
  );
}

function toProduct(row: ProductRow): CatalogProduct {
  return {
    sku: row.sku,
    name: row.name,
    price: { amount: row.price_cents, currency: row.currency },
    onHand: row.on_hand,
  };
}
