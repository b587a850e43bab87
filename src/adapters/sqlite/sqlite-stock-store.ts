import { quantitiesBySku } from '../../domain/order.js';
import type {
  CatalogProduct,
  ExpiredHold,
  ReserveResult,
  StockItem,
  StockLine,
  StockStore,
} from '../../ports/stock-store.js';
import {
  openOrShare,
  type SqliteCacheRetention,
  type SqliteDatabase,
  type SqliteMigration,
} from './sqlite-database.js';

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
  {
    id: 'stock-store/2-expiry-announcements',
    sql: `ALTER TABLE reservations ADD COLUMN announced_at INTEGER;`,
  },
  {
    id: 'stock-store/3-sync-fence',
    sql: `CREATE TABLE stock_fence (id INTEGER PRIMARY KEY CHECK (id = 1), token INTEGER NOT NULL);`,
  },
  {
    // When the sync last marked the order's records as the source of truth holds them
    // (NULL: not yet, or its stock moved since): retention removes them that long after.
    id: 'stock-store/4-retention',
    sql: `
      ALTER TABLE reservations ADD COLUMN synced_at INTEGER;
      CREATE INDEX reservations_synced ON reservations (synced_at) WHERE synced_at IS NOT NULL;
    `,
  },
  {
    // A refusal (the order ended FAILED_NO_STOCK) leaves with its order too.
    id: 'stock-store/5-refusal-retention',
    sql: `
      ALTER TABLE reservation_refusals ADD COLUMN synced_at INTEGER;
      CREATE INDEX reservation_refusals_synced ON reservation_refusals (synced_at)
        WHERE synced_at IS NOT NULL;
    `,
  },
];

/** Reservation records one eviction write op removes: a few ms of the shared writer. */
const EVICT_BATCH = 500;

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
const RESERVATION_EXPIRY = `SELECT MIN(expires_at) AS expires_at FROM reservations
  WHERE order_id = ? AND state <> 'released' HAVING COUNT(*) > 0`;
const FORGET_RELEASED = `DELETE FROM reservations WHERE order_id = ? AND state = 'released'`;
const REFUSAL = 'SELECT short_skus FROM reservation_refusals WHERE order_id = ?';
const INSERT_REFUSAL =
  'INSERT OR IGNORE INTO reservation_refusals (order_id, short_skus) VALUES (?, ?)';
const INSERT_HOLDS = `INSERT INTO reservations (order_id, sku, qty, expires_at, state)
  SELECT ?, key, value, ?, 'held' FROM json_each(?)`;
const COMMIT_STOCK = `UPDATE stock SET reserved = reserved - (SELECT r.qty FROM reservations r
    WHERE r.order_id = @orderId AND r.sku = stock.sku)
  WHERE sku IN (SELECT sku FROM reservations WHERE order_id = @orderId AND state = 'held')`;
const COMMIT_HOLDS = `UPDATE reservations SET state = 'committed', synced_at = NULL
  WHERE order_id = ? AND state = 'held'`;
const RELEASE_STOCK = `UPDATE stock SET
    available = available + (SELECT r.qty FROM reservations r WHERE r.order_id = @orderId AND r.sku = stock.sku),
    reserved = reserved - (SELECT CASE r.state WHEN 'held' THEN r.qty ELSE 0 END FROM reservations r
                           WHERE r.order_id = @orderId AND r.sku = stock.sku)
  WHERE sku IN (SELECT sku FROM reservations WHERE order_id = @orderId AND state IN ('held', 'committed'))`;
const RELEASE_HOLDS = `UPDATE reservations SET state = CASE state WHEN 'held' THEN 'released' ELSE 'returned' END,
    synced_at = NULL
  WHERE order_id = ? AND state IN ('held', 'committed')`;
/** Holds past expiry not announced since `@since`, never-announced and oldest first. */
const CLAIM_EXPIRED = `WITH due AS (
    SELECT order_id FROM reservations
    WHERE state = 'held' AND expires_at <= @now AND (announced_at IS NULL OR announced_at <= @since)
    GROUP BY order_id ORDER BY COALESCE(MAX(announced_at), 0), MIN(expires_at), order_id LIMIT @limit)
  UPDATE reservations SET announced_at = @now WHERE order_id IN (SELECT order_id FROM due)
  RETURNING order_id, expires_at`;
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
const MARK_SYNCED = 'UPDATE reservations SET sot_consumed = ?, synced_at = ? WHERE order_id = ?';
const MARK_REFUSAL_SYNCED = 'UPDATE reservation_refusals SET synced_at = ? WHERE order_id = ?';
/** Refusals synced before `@cutoff`: their order's retry would find the order ended anyway. */
const EVICT_REFUSALS = `DELETE FROM reservation_refusals WHERE rowid IN (SELECT rowid
  FROM reservation_refusals WHERE synced_at IS NOT NULL AND synced_at <= @cutoff
  LIMIT ${EVICT_BATCH})`;
/**
 * Records synced before `@cutoff` that no longer count in `RECONCILE`: never a hold, nor a
 * sale or a return the source of truth has not taken in yet.
 */
const EVICT = `DELETE FROM reservations WHERE rowid IN (SELECT rowid FROM reservations
  WHERE synced_at IS NOT NULL AND synced_at <= @cutoff AND state <> 'held'
    AND NOT (state = 'committed' AND sot_consumed = 0)
    AND NOT (state = 'returned' AND sot_consumed = 1)
  LIMIT ${EVICT_BATCH})`;
/** Records the sync lease's token unless a newer one was seen: 0 changes = fenced off. */
const ADMIT_FENCE = `INSERT INTO stock_fence (id, token) VALUES (1, ?)
  ON CONFLICT (id) DO UPDATE SET token = excluded.token WHERE stock_fence.token <= excluded.token`;

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
 * The records of an order the sync marked are removed `orderMs` later (`evictSettled`).
 */
export class SqliteStockStore implements StockStore {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;

  constructor(
    source: SqliteDatabase | string,
    private readonly retention?: SqliteCacheRetention,
  ) {
    ({ database: this.database, owned: this.owned } = openOrShare(source, {
      reclaimsSpace: retention !== undefined,
    }));
    this.database.migrate(MIGRATIONS);
  }

  reserve(orderId: string, lines: readonly StockLine[], expiresAt: number): Promise<ReserveResult> {
    const quantities = quantitiesBySku(lines);
    const request = JSON.stringify(Object.fromEntries(quantities));
    return this.database.write((db): ReserveResult => {
      const held = db.statement<[string], { expires_at: number }>(RESERVATION_EXPIRY).get(orderId);
      if (held) return { ok: true, expiresAt: held.expires_at };
      // A released hold is held anew (an order abandoned by the intake, then resumed).
      db.statement<[string], never>(FORGET_RELEASED).run(orderId);
      const refusal = db.statement<[string], { short_skus: string }>(REFUSAL).get(orderId);
      if (refusal) return { ok: false, shortSkus: JSON.parse(refusal.short_skus) as string[] };
      const { changes } = db.statement<[string], never>(RESERVE).run(request);
      if (changes === quantities.size) {
        db.statement<[string, number, string], never>(INSERT_HOLDS).run(
          orderId,
          expiresAt,
          request,
        );
        return { ok: true, expiresAt };
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

  claimExpired(now: number, limit: number, reannounceMs: number): Promise<ExpiredHold[]> {
    return this.database.write((db) => {
      const rows = db
        .statement<
          [{ now: number; since: number; limit: number }],
          { order_id: string; expires_at: number }
        >(CLAIM_EXPIRED)
        .all({ now, since: now - reannounceMs, limit });
      const byOrder = new Map<string, number>();
      for (const row of rows) {
        byOrder.set(row.order_id, Math.min(byOrder.get(row.order_id) ?? Infinity, row.expires_at));
      }
      return [...byOrder]
        .map(([orderId, expiresAt]) => ({ orderId, expiresAt }))
        .sort((a, b) => a.expiresAt - b.expiresAt);
    });
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

  reconcile(products: readonly CatalogProduct[], fence?: number): Promise<boolean> {
    return this.database.write((db) => {
      if (!admitted(db, fence)) return false;
      const upsert = db.statement<[string, string, number, string], never>(UPSERT_PRODUCT);
      const reconcile = db.statement<[{ sku: string; onHand: number }], never>(RECONCILE);
      for (const product of products) {
        upsert.run(product.sku, product.name, product.price.amount, product.price.currency);
        reconcile.run({ sku: product.sku, onHand: product.onHand });
      }
      return true;
    });
  }

  markSynced(orderId: string, consumed: boolean, fence?: number): Promise<boolean> {
    const now = (this.retention?.clock ?? Date).now();
    return this.database.write((db) => {
      if (!admitted(db, fence)) return false;
      db.statement<[number, number, string], never>(MARK_SYNCED).run(
        consumed ? 1 : 0,
        now,
        orderId,
      );
      db.statement<[number, string], never>(MARK_REFUSAL_SYNCED).run(now, orderId);
      return true;
    });
  }

  async evictSettled(): Promise<number> {
    if (!this.retention || this.retention.orderMs <= 0) return 0;
    const params = { cutoff: this.retention.clock.now() - this.retention.orderMs };
    const records = await this.database.deleteInBatches(EVICT, params, EVICT_BATCH);
    const refusals = await this.database.deleteInBatches(EVICT_REFUSALS, params, EVICT_BATCH);
    return records + refusals;
  }

  close(): Promise<void> {
    if (this.owned) this.database.close();
    return Promise.resolve();
  }
}

/** The sync lease's fencing, in the caller's write: false when a newer token was seen. */
function admitted(db: SqliteDatabase, fence: number | undefined): boolean {
  if (fence === undefined) return true;
  return db.statement<[number], never>(ADMIT_FENCE).run(fence).changes === 1;
}
