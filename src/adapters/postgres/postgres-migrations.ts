import type pg from 'pg';
import { RetryableError } from '../../domain/errors.js';
import { SOT_SCHEMA_BEHIND } from '../../ports/source-of-truth.js';
import { assertSchemaName, inTransaction } from './postgres-pool.js';

/** One schema step; `id` is recorded in `schema_migrations` so it runs once per schema. */
export interface PostgresMigration {
  readonly id: string;
  readonly sql: string;
}

/** The source-of-truth tables, as DESIGN.md gives them and the SQLite adapter has them. */
export const SOURCE_OF_TRUTH_MIGRATIONS: readonly PostgresMigration[] = [
  {
    id: 'source-of-truth/1-schema',
    sql: `
      CREATE TABLE products (
        sku text PRIMARY KEY,
        name text NOT NULL,
        price_cents bigint NOT NULL,
        currency text NOT NULL,
        on_hand bigint NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE orders (
        order_id text PRIMARY KEY,
        customer_id text NOT NULL,
        email text NOT NULL,
        status text NOT NULL,
        total_cents bigint NOT NULL,
        currency text NOT NULL,
        payment_ref text,
        created_at timestamptz NOT NULL,
        finalized_at timestamptz
      );
      CREATE TABLE order_items (
        order_id text NOT NULL,
        sku text NOT NULL,
        qty integer NOT NULL,
        unit_price_cents bigint NOT NULL,
        PRIMARY KEY (order_id, sku)
      );
      CREATE TABLE shipments (
        order_id text PRIMARY KEY,
        items jsonb NOT NULL,
        requested_at timestamptz NOT NULL
      );
      CREATE TABLE sales_by_minute (
        minute timestamptz NOT NULL,
        status text NOT NULL,
        orders bigint NOT NULL,
        revenue_cents bigint NOT NULL,
        PRIMARY KEY (minute, status)
      );
      CREATE TABLE sales_applied (
        order_id text NOT NULL,
        status text NOT NULL,
        PRIMARY KEY (order_id, status)
      );
    `,
  },
  {
    // What the API shows of an order that has left the hot cache. Orders recorded before
    // this have no owner (only an admin key sees them) and no history rows.
    id: 'source-of-truth/2-order-history',
    sql: `
      ALTER TABLE orders ADD COLUMN owner text NOT NULL DEFAULT '',
        ADD COLUMN reason text,
        ADD COLUMN updated_at timestamptz;
      UPDATE orders SET updated_at = COALESCE(finalized_at, created_at);
      ALTER TABLE order_items ADD COLUMN position integer;
      CREATE TABLE order_history (
        order_id text NOT NULL,
        position integer NOT NULL,
        status text NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (order_id, position)
      );
    `,
  },
];

/** Any constant, the same in every orderflow process: it serializes their migrations. */
const MIGRATION_LOCK = 7_310_862_114;

/**
 * Applies the migrations not yet recorded, all in one transaction under a transaction-level
 * advisory lock: processes starting together wait for each other, and the later ones find
 * everything applied. `schema` (already the connections' `search_path`) is created if missing.
 * Returns the ids applied by this call.
 */
export async function migrate(
  pool: pg.Pool,
  migrations: readonly PostgresMigration[],
  schema?: string,
): Promise<string[]> {
  if (schema !== undefined) assertSchemaName(schema);
  // A runtime role of a least-privilege deployment has no DDL rights: on a schema already
  // migrated (by `orderflow migrate`, as its owner) it must not even try a CREATE.
  const pending = await pendingMigrations(pool, migrations);
  if (pending.length === 0) return [];
  return applyMigrations(pool, migrations, schema).catch((error: unknown) => {
    if (!insufficientPrivilege(error)) throw error;
    throw new RetryableError(
      SOT_SCHEMA_BEHIND,
      `the source-of-truth schema lacks ${pending.join(', ')} and this database user may not ` +
        "create it: run `orderflow migrate` with the schema owner's ORDERFLOW_DATABASE_URL",
      5_000,
      { cause: error },
    );
  });
}

/** PostgreSQL's SQLSTATE for a statement the role has no privilege for. */
const INSUFFICIENT_PRIVILEGE = '42501';

/** Whether PostgreSQL refused for want of a privilege (as pg raised it, or as the pool wrapped it). */
function insufficientPrivilege(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return [error, cause].some(
    (each) => (each as { code?: unknown } | undefined)?.code === INSUFFICIENT_PRIVILEGE,
  );
}

function applyMigrations(
  pool: pg.Pool,
  migrations: readonly PostgresMigration[],
  schema: string | undefined,
): Promise<string[]> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL)',
    );
    const { rows } = await client.query<{ id: string }>('SELECT id FROM schema_migrations');
    const done = new Set(rows.map((row) => row.id));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.id)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (id, applied_at) VALUES ($1, now())', [
        migration.id,
      ]);
      applied.push(migration.id);
    }
    return applied;
  });
}

/**
 * The ids not yet recorded, read without a lock and without DDL: every one when the schema
 * has never been migrated (no `schema_migrations` yet).
 */
export async function pendingMigrations(
  pool: pg.Pool,
  migrations: readonly PostgresMigration[],
): Promise<string[]> {
  const { rows: present } = await pool.query<{ present: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
  );
  if (!present[0]?.present) return migrations.map((migration) => migration.id);
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM schema_migrations');
  const done = new Set(rows.map((row) => row.id));
  return migrations.map((migration) => migration.id).filter((id) => !done.has(id));
}
