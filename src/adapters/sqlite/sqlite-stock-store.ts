import { quantitiesBySku } from '../../domain/order.js';
import type {
  CatalogProduct,
  ReserveResult,
  StockItem,
  StockLine,
  StockStore,
} from '../../ports/stock-store.js';
import { openOrShare, type SqliteDatabase, type SqliteMigration } from './sqlite-database.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'stock-store/1-stock',
    sql: `
      CREATE TABLE stock (
        sku TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        price_cents INTEGER NOT NULL,
        currency TEXT NOT NULL,
        available INTEGER NOT NULL CHECK (available >= 0),
        reserved INTEGER NOT NULL CHECK (reserved >= 0)
      );
      -- state: held | committed | released | returned
      CREATE TABLE reservations (
        order_id TEXT NOT NULL,
        sku TEXT NOT NULL,
        qty INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        state TEXT NOT NULL,
        sot_consumed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (order_id, sku)
      );
      CREATE INDEX reservations_expiry ON reservations (state, expires_at);
      CREATE INDEX reservations_sku ON reservations (sku, state);
      CREATE TABLE reservation_refusals (
        order_id TEXT PRIMARY KEY,
        short_skus TEXT NOT NULL
      );
    `,
  },
];

/** Takes every requested SKU or none: the NOT EXISTS guard fails the whole statement. */
const RESERVE = `WITH req (sku, qty) AS (SELECT key, value FROM json_each(?))
  UPDATE stock SET
    available = available - (SELECT qty FROM req WHERE req.sku = stock.sku),
    reserved = reserved + (SELECT qty FROM req WHERE req.sku = stock.sku)
  WHERE sku IN (SELECT sku FROM req)
    AND NOT EXISTS (SELECT 1 FROM req LEFT JOIN stock s ON s.sku = req.sku
                    WHERE s.available IS NULL OR s.available < req.qty)`;
const SHORT_SKUS = `SELECT req.key AS sku FROM json_each(?) req LEFT JOIN stock s ON s.sku = req.key
  WHERE s.available IS NULL OR s.available < req.value ORDER BY req.key`;
const HAS_RESERVATION = 'SELECT 1 AS found FROM reservations WHERE order_id = ? LIMIT 1';
const REFUSAL = 'SELECT short_skus FROM reservation_refusals WHERE order_id = ?';
const INSERT_REFUSAL =
  'INSERT OR IGNORE INTO reservation_refusals (order_id, short_skus) VALUES (?, ?)';
const INSERT_HOLDS = `INSERT INTO reservations (order_id, sku, qty, expires_at, state)
  SELECT ?, key, value, ?, 'held' FROM json_each(?)`;
const COMMIT_STOCK = `UPDATE stock SET reserved = reserved - (SELECT r.qty FROM reservations r
    WHERE r.order_id = @orderId AND r.sku = stock.sku)
  WHERE sku IN (SELECT sku FROM reservations WHERE order_id = @orderId AND state = 'held')`;
const COMMIT_HOLDS = `UPDATE reservations SET state = 'committed' WHERE order_id = ? AND state = 'held'`;
const RELEASE_STOCK = `UPDATE stock SET
    available = available + (SELECT r.qty FROM reservations r WHERE r.order_id = @orderId AND r.sku = stock.sku),
    reserved = reserved - (SELECT CASE r.state WHEN 'held' THEN r.qty ELSE 0 END FROM reservations r
                           WHERE r.order_id = @orderId AND r.sku = stock.sku)
  WHERE sku IN (SELECT sku FROM reservations WHERE order_id = @orderId AND state IN ('held', 'committed'))`;
const RELEASE_HOLDS = `UPDATE reservations SET state = CASE state WHEN 'held' THEN 'released' ELSE 'returned' END
  WHERE order_id = ? AND state IN ('held', 'committed')`;
const EXPIRED = `SELECT order_id, MIN(expires_at) AS first_expiry FROM reservations
  WHERE state = 'held' AND expires_at <= ? GROUP BY order_id ORDER BY first_expiry, order_id LIMIT ?`;
const ITEMS = `SELECT sku, name, price_cents, currency, available, reserved FROM stock
  WHERE sku IN (SELECT value FROM json_each(?))`;
const UPSERT_PRODUCT = `INSERT INTO stock (sku, name, price_cents, currency, available, reserved)
  VALUES (?, ?, ?, ?, 0, 0)
  ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents,
    currency = excluded.currency`;
/** available = onHand − sold but not yet in the SoT + returned but still taken there − held. */
const RECONCILE = `UPDATE stock SET
    reserved = (SELECT COALESCE(SUM(qty), 0) FROM reservations WHERE sku = @sku AND state = 'held'),
    available = MAX(0, @onHand
      - (SELECT COALESCE(SUM(qty), 0) FROM reservations WHERE sku = @sku AND state = 'committed' AND sot_consumed = 0)
      + (SELECT COALESCE(SUM(qty), 0) FROM reservations WHERE sku = @sku AND state = 'returned' AND sot_consumed = 1)
      - (SELECT COALESCE(SUM(qty), 0) FROM reservations WHERE sku = @sku AND state = 'held'))
  WHERE sku = @sku`;
const MARK_SYNCED = 'UPDATE reservations SET sot_consumed = ? WHERE order_id = ?';

interface StockRow {
  readonly sku: string;
  readonly name: string;
  readonly price_cents: number;
  readonly currency: string;
  readonly available: number;
  readonly reserved: number;
}

/**
 * The stock cache in the hot SQLite file. Every method is one writer op (so it joins the
 * shared group commit) keyed by order id; the reservation itself is one conditional UPDATE.
 */
export class SqliteStockStore implements StockStore {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;

  constructor(source: SqliteDatabase | string) {
    ({ database: this.database, owned: this.owned } = openOrShare(source));
    this.database.migrate(MIGRATIONS);
  }

  reserve(orderId: string, lines: readonly StockLine[], expiresAt: number): Promise<ReserveResult> {
    const quantities = quantitiesBySku(lines);
    const request = JSON.stringify(Object.fromEntries(quantities));
    return this.database.write((db): ReserveResult => {
      if (db.statement<[string], { found: number }>(HAS_RESERVATION).get(orderId))
        return { ok: true };
      const refusal = db.statement<[string], { short_skus: string }>(REFUSAL).get(orderId);
      if (refusal) return { ok: false, shortSkus: JSON.parse(refusal.short_skus) as string[] };
      const { changes } = db.statement<[string], never>(RESERVE).run(request);
      if (changes === quantities.size) {
        db.statement<[string, number, string], never>(INSERT_HOLDS).run(
          orderId,
          expiresAt,
          request,
        );
        return { ok: true };
      }
      const shortSkus = db
        .statement<[string], { sku: string }>(SHORT_SKUS)
        .all(request)
        .map((row) => row.sku);
      db.statement<[string, string], never>(INSERT_REFUSAL).run(orderId, JSON.stringify(shortSkus));
      return { ok: false, shortSkus };
    });
  }

  commit(orderId: string): Promise<void> {
    return this.database.write((db) => {
      db.statement<[{ orderId: string }], never>(COMMIT_STOCK).run({ orderId });
      db.statement<[string], never>(COMMIT_HOLDS).run(orderId);
    });
  }

  release(orderId: string): Promise<void> {
    return this.database.write((db) => {
      db.statement<[{ orderId: string }], never>(RELEASE_STOCK).run({ orderId });
      db.statement<[string], never>(RELEASE_HOLDS).run(orderId);
    });
  }

  expired(now: number, limit: number): Promise<string[]> {
    const rows = this.database
      .statement<[number, number], { order_id: string }>(EXPIRED)
      .all(now, limit);
    return Promise.resolve(rows.map((row) => row.order_id));
  }

  items(skus: readonly string[]): Promise<Map<string, StockItem>> {
    const rows = this.database.statement<[string], StockRow>(ITEMS).all(JSON.stringify(skus));
    return Promise.resolve(
      new Map(
        rows.map((row) => [
          row.sku,
          {
            sku: row.sku,
            name: row.name,
            price: { amount: row.price_cents, currency: row.currency },
            available: row.available,
            reserved: row.reserved,
          },
        ]),
      ),
    );
  }

  reconcile(products: readonly CatalogProduct[]): Promise<void> {
    return this.database.write((db) => {
      const upsert = db.statement<[string, string, number, string], never>(UPSERT_PRODUCT);
      const reconcile = db.statement<[{ sku: string; onHand: number }], never>(RECONCILE);
      for (const product of products) {
        upsert.run(product.sku, product.name, product.price.amount, product.price.currency);
        reconcile.run({ sku: product.sku, onHand: product.onHand });
      }
    });
  }

  markSynced(orderId: string, consumed: boolean): Promise<void> {
    return this.database.write((db) => {
      db.statement<[number, string], never>(MARK_SYNCED).run(consumed ? 1 : 0, orderId);
    });
  }

  close(): Promise<void> {
    if (this.owned) this.database.close();
    return Promise.resolve();
  }
}
