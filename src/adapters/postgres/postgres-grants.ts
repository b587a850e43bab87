import {
  assertGrantNamespace,
  GRANT_ROLES,
  grantUser,
  type GrantPasswords,
  type GrantRole,
} from '../shared/grant-roles.js';

/**
 * What each process does in the source of truth (postgres-source-of-truth.ts), as grants:
 * every role reads the catalog (`products`: the api's product reads, every process's stock
 * gauges) and `schema_migrations` (to see the schema is current); the worker's fan-out
 * consumers write shipment requests and sales figures; the scheduler's sync-out writes
 * orders, their items and their history (replaced as an order moves on: DELETE) and moves
 * `on_hand` (the row lock it takes needs UPDATE on it); the api reads orders, items and
 * history (an order that has left the hot cache is answered from here); the admin may also
 * write whole products (the catalog admin). Nobody may create, alter or
 * drop anything: the tables belong to the user that ran `orderflow migrate`.
 */
const GRANTS: Readonly<Record<GrantRole, readonly string[]>> = {
  api: ['SELECT ON schema_migrations, products, orders, order_items, order_history'],
  worker: [
    'SELECT ON schema_migrations, products',
    'SELECT, INSERT ON shipments, sales_applied',
    'SELECT, INSERT, UPDATE ON sales_by_minute',
  ],
  scheduler: [
    'SELECT ON schema_migrations, products',
    'UPDATE (on_hand, updated_at) ON products',
    'SELECT, INSERT, UPDATE ON orders, order_items',
    'SELECT, INSERT, DELETE ON order_history',
  ],
  admin: [
    'SELECT ON schema_migrations, products',
    'INSERT, UPDATE ON products',
    'SELECT, INSERT, UPDATE ON orders, order_items',
    'SELECT, INSERT, DELETE ON order_history',
    'SELECT, INSERT ON shipments, sales_applied',
    'SELECT, INSERT, UPDATE ON sales_by_minute',
  ],
};

export interface PostgresGrantOptions {
  readonly namespace: string;
  readonly passwords: GrantPasswords;
  /** The schema of the tables (the connections' `search_path`); `public` by default. */
  readonly schema?: string;
}

/** The PostgreSQL role of `role` in `namespace` (PostgreSQL folds names to lower case). */
export function postgresRoleName(namespace: string, role: GrantRole): string {
  return grantUser(namespace, role).toLowerCase();
}

/**
 * SQL that creates (or updates the password of) one login role per process role and grants
 * it what that process does, nothing more. Run it as a superuser (or the tables' owner
 * holding CREATEROLE) after `orderflow migrate`, and again after a version that adds tables.
 * Idempotent: privileges granted before are revoked first, so it also takes back what a
 * role no longer needs.
 */
export function postgresGrants(options: PostgresGrantOptions): string {
  const { namespace, passwords, schema = 'public' } = options;
  assertGrantNamespace(namespace);
  const tables =
    'schema_migrations, products, orders, order_items, order_history, shipments, sales_applied, ' +
    'sales_by_minute';
  const statements = [`SET search_path = ${ident(schema)};`];
  for (const role of GRANT_ROLES) {
    const name = postgresRoleName(namespace, role);
    statements.push(
      `DO $grants$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(name)}) THEN
    CREATE ROLE ${ident(name)} LOGIN;
  END IF;
END $grants$;`,
      `ALTER ROLE ${ident(name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${literal(passwords[role])};`,
      `GRANT USAGE ON SCHEMA ${ident(schema)} TO ${ident(name)};`,
      `REVOKE ALL ON ${tables} FROM ${ident(name)};`,
      ...GRANTS[role].map((grant) => `GRANT ${grant} TO ${ident(name)};`),
    );
  }
  // Before PostgreSQL 15 every role may create tables in `public`; ours may not.
  statements.push(`REVOKE CREATE ON SCHEMA ${ident(schema)} FROM PUBLIC;`);
  return `${statements.join('\n')}\n`;
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
