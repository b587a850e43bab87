import { onHandEffect, type OnHandEffect } from '../../domain/on-hand.js';
import {
  quantitiesBySku,
  type ArchivedOrder,
  type Order,
  type StatusChange,
  type OrderFacts,
} from '../../domain/order.js';
import { leadsTo, type OrderStatus } from '../../domain/status.js';
import type { Clock } from '../../ports/clock.js';
import type { SourceOfTruth } from '../../ports/source-of-truth.js';
import type { CatalogProduct } from '../../ports/stock-store.js';
import { toArchivedOrder, type ArchivedOrderRow } from '../shared/archived-order.js';
import { openOrShare, type SqliteDatabase, type SqliteMigration } from './sqlite-database.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'source-of-truth/1-schema',
    sql: `
      CREATE TABLE products (
        sku TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        price_cents INTEGER NOT NULL,
        currency TEXT NOT NULL,
        on_hand INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE orders (
        order_id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        email TEXT NOT NULL,
        status TEXT NOT NULL,
        total_cents INTEGER NOT NULL,
        currency TEXT NOT NULL,
        payment_ref TEXT,
        created_at TEXT NOT NULL,
        finalized_at TEXT
      );
      CREATE TABLE order_items (
        order_id TEXT NOT NULL,
        sku TEXT NOT NULL,
        qty INTEGER NOT NULL,
        unit_price_cents INTEGER NOT NULL,
        PRIMARY KEY (order_id, sku)
      );
      CREATE TABLE shipments (
        order_id TEXT PRIMARY KEY,
        items TEXT NOT NULL,
        requested_at TEXT NOT NULL
      );
      CREATE TABLE sales_by_minute (
        minute TEXT NOT NULL,
        status TEXT NOT NULL,
        orders INTEGER NOT NULL,
        revenue_cents INTEGER NOT NULL,
        PRIMARY KEY (minute, status)
      );
      CREATE TABLE sales_applied (
        order_id TEXT NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (order_id, status)
      );
    `,
  },
  {
    // What the API shows of an order that has left the hot cache. Orders recorded before
    // this have no owner (only an admin key sees them) and no history rows.
    id: 'source-of-truth/2-order-history',
    sql: `
      ALTER TABLE orders ADD COLUMN owner TEXT NOT NULL DEFAULT '';
      ALTER TABLE orders ADD COLUMN reason TEXT;
      ALTER TABLE orders ADD COLUMN updated_at TEXT;
      UPDATE orders SET updated_at = COALESCE(finalized_at, created_at);
      ALTER TABLE order_items ADD COLUMN position INTEGER;
      CREATE TABLE order_history (
        order_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        status TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (order_id, position)
      );
    `,
  },
];

const PRODUCTS = 'SELECT sku, name, price_cents, currency, on_hand FROM products ORDER BY sku';
const PRODUCT = 'SELECT sku, name, price_cents, currency, on_hand FROM products WHERE sku = ?';
const PUT_PRODUCT = `INSERT INTO products (sku, name, price_cents, currency, on_hand, updated_at)
  VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents,
    currency = excluded.currency, on_hand = excluded.on_hand, updated_at = excluded.updated_at`;
const ORDER_STATUS = 'SELECT status FROM orders WHERE order_id = ?';
const INSERT_ORDER = `INSERT INTO orders (order_id, customer_id, email, status, total_cents, currency,
    payment_ref, created_at, finalized_at, owner, reason, updated_at)
  VALUES (@orderId, @customerId, @email, @status, @totalCents, @currency, @paymentRef, @createdAt,
    @finalizedAt, @owner, @reason, @finalizedAt)
  ON CONFLICT (order_id) DO NOTHING`;
const INSERT_ITEM = `INSERT INTO order_items (order_id, sku, qty, unit_price_cents, position)
  VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (order_id, sku) DO NOTHING`;
const UPDATE_ORDER = `UPDATE orders SET status = @status, finalized_at = @updatedAt,
    updated_at = @updatedAt, payment_ref = COALESCE(@paymentRef, payment_ref), reason = @reason
  WHERE order_id = @orderId`;
const DELETE_HISTORY = 'DELETE FROM order_history WHERE order_id = ?';
const INSERT_HISTORY =
  'INSERT INTO order_history (order_id, position, status, at) VALUES (?, ?, ?, ?)';
const ORDER = `SELECT order_id, customer_id, email, status, total_cents, currency, payment_ref,
    owner, reason, created_at, COALESCE(updated_at, finalized_at, created_at) AS updated_at
  FROM orders WHERE order_id = ?`;
const ORDER_ITEMS =
  'SELECT sku, qty, unit_price_cents FROM order_items WHERE order_id = ? ORDER BY position, sku';
const ORDER_HISTORY = 'SELECT status, at FROM order_history WHERE order_id = ? ORDER BY position';
/** on_hand moves by `sign` (an `OnHandEffect`) × the order's quantities as recorded here. */
const MOVE_STOCK = `UPDATE products SET
    on_hand = on_hand + @sign * (SELECT i.qty FROM order_items i WHERE i.order_id = @orderId AND i.sku = products.sku),
    updated_at = @now
  WHERE sku IN (SELECT sku FROM order_items WHERE order_id = @orderId)`;
const INSERT_SHIPMENT =
  'INSERT OR IGNORE INTO shipments (order_id, items, requested_at) VALUES (?, ?, ?)';
const INSERT_SALE_APPLIED = 'INSERT OR IGNORE INTO sales_applied (order_id, status) VALUES (?, ?)';
const ADD_SALE = `INSERT INTO sales_by_minute (minute, status, orders, revenue_cents) VALUES (?, ?, 1, ?)
  ON CONFLICT (minute, status) DO UPDATE SET orders = orders + 1,
    revenue_cents = revenue_cents + excluded.revenue_cents`;

interface ItemRow {
  readonly sku: string;
  readonly qty: number;
  readonly unit_price_cents: number;
}

interface ProductRow {
  readonly sku: string;
  readonly name: string;
  readonly price_cents: number;
  readonly currency: string;
  readonly on_hand: number;
}

/**
 * The shop's database as a second SQLite file. Each call is one writer op: one transaction
 * (batched with concurrent calls), never several, so a crash leaves an order applied wholly
 * or not at all.
 */
export class SqliteSourceOfTruth implements SourceOfTruth {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;

  constructor(
    source: SqliteDatabase | string,
    private readonly clock: Clock,
  ) {
    ({ database: this.database, owned: this.owned } = openOrShare(source));
    this.database.migrate(MIGRATIONS);
  }

  products(): Promise<CatalogProduct[]> {
    return Promise.resolve(this.database.statement<[], ProductRow>(PRODUCTS).all().map(toProduct));
  }

  product(sku: string): Promise<CatalogProduct | undefined> {
    const row = this.database.statement<[string], ProductRow>(PRODUCT).get(sku);
    return Promise.resolve(row ? toProduct(row) : undefined);
  }

  putProduct(product: CatalogProduct): Promise<void> {
    const now = this.isoNow();
    return this.database.write((db) => {
      db.statement<[string, string, number, string, number, string], never>(PUT_PRODUCT).run(
        product.sku,
        product.name,
        product.price.amount,
        product.price.currency,
        product.onHand,
        now,
      );
    });
  }

  applyOrders(orders: readonly Order[]): Promise<void> {
    const now = this.isoNow();
    return this.database.write((db) => {
      for (const order of orders) this.applyOrder(db, order, now);
    });
  }

  /**
   * Read in one synchronous turn: this process's writes (batched on the event loop) cannot
   * come between the row, its items and its history.
   */
  order(orderId: string): Promise<ArchivedOrder | undefined> {
    // The executor runs at once; a failing read rejects rather than throws.
    return new Promise((resolve) => resolve(this.readOrder(orderId)));
  }

  requestShipment(order: OrderFacts, at: number): Promise<void> {
    const items = JSON.stringify(
      [...quantitiesBySku(order.items)].map(([sku, qty]) => ({ sku, qty })),
    );
    return this.database.write((db) => {
      db.statement<[string, string, string], never>(INSERT_SHIPMENT).run(
        order.orderId,
        items,
        new Date(at).toISOString(),
      );
    });
  }

  recordSale(order: OrderFacts, status: string, at: number): Promise<void> {
    const minute = new Date(at).toISOString().slice(0, 16);
    return this.database.write((db) => {
      if (
        db.statement<[string, string], never>(INSERT_SALE_APPLIED).run(order.orderId, status)
          .changes === 0
      )
        return;
      db.statement<[string, string, number], never>(ADD_SALE).run(
        minute,
        status,
        order.total.amount,
      );
    });
  }

  ping(): Promise<boolean> {
    if (!this.database.isOpen) return Promise.resolve(false);
    return Promise.resolve(
      this.database.statement<[], { ok: number }>('SELECT 1 AS ok').get()?.ok === 1,
    );
  }

  close(): Promise<void> {
    if (this.owned) this.database.close();
    return Promise.resolve();
  }

  private readOrder(orderId: string): ArchivedOrder | undefined {
    const db = this.database;
    const row = db.statement<[string], ArchivedOrderRow>(ORDER).get(orderId);
    if (!row) return undefined;
    const items = db.statement<[string], ItemRow>(ORDER_ITEMS).all(orderId);
    const history = db.statement<[string], StatusChange>(ORDER_HISTORY).all(orderId);
    return toArchivedOrder(
      row,
      items.map(({ sku, qty, unit_price_cents }) => ({ sku, qty, unitCents: unit_price_cents })),
      history,
    );
  }

  /** Records the order, or moves its record forward, and on_hand with it (`onHandEffect`). */
  private applyOrder(db: SqliteDatabase, order: Order, now: string): void {
    const was = db
      .statement<[string], { status: OrderStatus }>(ORDER_STATUS)
      .get(order.orderId)?.status;
    if (was === undefined) this.insertOrder(db, order);
    else if (leadsTo(was, order.status)) this.updateOrder(db, order);
    else return;
    this.replaceHistory(db, order);
    const effect = onHandEffect(was, order.status);
    if (effect !== 0) this.moveStock(db, order.orderId, effect, now);
  }

  private insertOrder(db: SqliteDatabase, order: Order): void {
    db.statement<[Record<string, string | number | null>], never>(INSERT_ORDER).run({
      orderId: order.orderId,
      customerId: order.customerId,
      email: order.email,
      status: order.status,
      totalCents: order.total.amount,
      currency: order.total.currency,
      paymentRef: order.paymentRef ?? null,
      createdAt: order.createdAt,
      finalizedAt: order.updatedAt,
      owner: order.owner,
      reason: order.reason ?? null,
    });
    const insertItem = db.statement<[string, string, number, number, number], never>(INSERT_ITEM);
    const unitPrices = new Map(order.items.map((line) => [line.sku, line.unitPrice.amount]));
    let position = 0;
    for (const [sku, qty] of quantitiesBySku(order.items)) {
      insertItem.run(order.orderId, sku, qty, unitPrices.get(sku) ?? 0, position++);
    }
  }

  private updateOrder(db: SqliteDatabase, order: Order): void {
    db.statement<[Record<string, string | null>], never>(UPDATE_ORDER).run({
      status: order.status,
      updatedAt: order.updatedAt,
      paymentRef: order.paymentRef ?? null,
      reason: order.reason ?? null,
      orderId: order.orderId,
    });
  }

  /** The order's history as this version of it has it (a refund's is the longer one). */
  private replaceHistory(db: SqliteDatabase, order: Order): void {
    db.statement<[string], never>(DELETE_HISTORY).run(order.orderId);
    const insert = db.statement<[string, number, string, string], never>(INSERT_HISTORY);
    order.history.forEach(({ status, at }, position) => {
      insert.run(order.orderId, position, status, at);
    });
  }

  private moveStock(
    db: SqliteDatabase,
    orderId: string,
    sign: Exclude<OnHandEffect, 0>,
    now: string,
  ): void {
    db.statement<[{ sign: number; orderId: string; now: string }], never>(MOVE_STOCK).run({
      sign,
      orderId,
      now,
    });
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

function toProduct(row: ProductRow): CatalogProduct {
  return {
    sku: row.sku,
    name: row.name,
    price: { amount: row.price_cents, currency: row.currency },
    onHand: row.on_hand,
  };
}
