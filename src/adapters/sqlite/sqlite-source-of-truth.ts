import { onHandEffect, type OnHandEffect } from '../../domain/on-hand.js';
import { quantitiesBySku, type Order } from '../../domain/order.js';
import { leadsTo, type OrderStatus } from '../../domain/status.js';
import type { Clock } from '../../ports/clock.js';
import type { SourceOfTruth } from '../../ports/source-of-truth.js';
import type { CatalogProduct } from '../../ports/stock-store.js';
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
];

const PRODUCTS = 'SELECT sku, name, price_cents, currency, on_hand FROM products ORDER BY sku';
const PRODUCT = 'SELECT sku, name, price_cents, currency, on_hand FROM products WHERE sku = ?';
const PUT_PRODUCT = `INSERT INTO products (sku, name, price_cents, currency, on_hand, updated_at)
  VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents,
    currency = excluded.currency, on_hand = excluded.on_hand, updated_at = excluded.updated_at`;
const ORDER_STATUS = 'SELECT status FROM orders WHERE order_id = ?';
const INSERT_ORDER = `INSERT INTO orders (order_id, customer_id, email, status, total_cents, currency,
    payment_ref, created_at, finalized_at)
  VALUES (@orderId, @customerId, @email, @status, @totalCents, @currency, @paymentRef, @createdAt, @finalizedAt)
  ON CONFLICT (order_id) DO NOTHING`;
const INSERT_ITEM = `INSERT INTO order_items (order_id, sku, qty, unit_price_cents) VALUES (?, ?, ?, ?)
  ON CONFLICT (order_id, sku) DO NOTHING`;
const UPDATE_ORDER = `UPDATE orders SET status = ?, finalized_at = ?, payment_ref = COALESCE(?, payment_ref)
  WHERE order_id = ?`;
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

  requestShipment(order: Order, at: number): Promise<void> {
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

  recordSale(order: Order, status: string, at: number): Promise<void> {
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

  /** Records the order, or moves its record forward, and on_hand with it (`onHandEffect`). */
  private applyOrder(db: SqliteDatabase, order: Order, now: string): void {
    const was = db
      .statement<[string], { status: OrderStatus }>(ORDER_STATUS)
      .get(order.orderId)?.status;
    if (was === undefined) this.insertOrder(db, order);
    else if (leadsTo(was, order.status)) this.updateOrder(db, order);
    else return;
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
    });
    const insertItem = db.statement<[string, string, number, number], never>(INSERT_ITEM);
    const unitPrices = new Map(order.items.map((line) => [line.sku, line.unitPrice.amount]));
    for (const [sku, qty] of quantitiesBySku(order.items)) {
      insertItem.run(order.orderId, sku, qty, unitPrices.get(sku) ?? 0);
    }
  }

  private updateOrder(db: SqliteDatabase, order: Order): void {
    db.statement<[string, string, string | null, string], never>(UPDATE_ORDER).run(
      order.status,
      order.updatedAt,
      order.paymentRef ?? null,
      order.orderId,
    );
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
