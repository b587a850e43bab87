import Database from 'better-sqlite3';
import path from 'node:path';

/** The source-of-truth SQLite file of an embedded service, read the way the shop would. */
export function sotPath(dataDir: string): string {
  return path.join(dataDir, 'sot.db');
}

export interface SotOrderRow {
  readonly order_id: string;
  readonly customer_id: string;
  readonly email: string;
  readonly status: string;
  readonly total_cents: number;
  readonly currency: string;
  readonly payment_ref: string | null;
}

export interface SotItemRow {
  readonly order_id: string;
  readonly sku: string;
  readonly qty: number;
  readonly unit_price_cents: number;
}

export interface SotProductRow {
  readonly sku: string;
  readonly name: string;
  readonly price_cents: number;
  readonly currency: string;
  readonly on_hand: number;
}

export interface SotShipmentRow {
  readonly order_id: string;
}

/** Opens the file read-only, runs `fn`, closes it again: every call sees a fresh snapshot. */
function withSot<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(sotPath(dataDir), {
    readonly: true,
    fileMustExist: true,
    timeout: 10_000,
  });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function sotOrders(dataDir: string): SotOrderRow[] {
  return withSot(
    dataDir,
    (db) => db.prepare('SELECT * FROM orders ORDER BY order_id').all() as SotOrderRow[],
  );
}

export function sotItems(dataDir: string): SotItemRow[] {
  return withSot(
    dataDir,
    (db) => db.prepare('SELECT * FROM order_items ORDER BY order_id, sku').all() as SotItemRow[],
  );
}

export function sotProduct(dataDir: string, sku: string): SotProductRow | undefined {
  return withSot(
    dataDir,
    (db) =>
      db.prepare('SELECT * FROM products WHERE sku = ?').get(sku) as SotProductRow | undefined,
  );
}

export function sotShipments(dataDir: string): SotShipmentRow[] {
  return withSot(
    dataDir,
    (db) => db.prepare('SELECT * FROM shipments ORDER BY order_id').all() as SotShipmentRow[],
  );
}

/**
 * What an outside system does to the shop's database: e.g. a restock. Opened read-write,
 * one statement, closed again.
 */
export function sotExecute(dataDir: string, sql: string, ...params: unknown[]): number {
  const db = new Database(sotPath(dataDir), { fileMustExist: true, timeout: 10_000 });
  try {
    return db.prepare(sql).run(...params).changes;
  } finally {
    db.close();
  }
}
