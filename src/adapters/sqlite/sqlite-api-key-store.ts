import { scopesIn } from '../../domain/scopes.js';
import type { ApiKeyRecord, ApiKeyStore, StoredApiKey } from '../../ports/api-key-store.js';
import { openOrShare, type SqliteDatabase, type SqliteMigration } from './sqlite-database.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'api-key-store/1-api-keys',
    sql: `CREATE TABLE api_keys (
      id TEXT PRIMARY KEY,
      name TEXT,
      scopes TEXT NOT NULL,
      digest TEXT NOT NULL UNIQUE,
      created_at INTEGER NOT NULL,
      last_used_at INTEGER
    )`,
  },
];

interface Row {
  id: string;
  name: string | null;
  scopes: string;
  digest: string;
  created_at: number;
  last_used_at: number | null;
}

const INSERT = `INSERT INTO api_keys (id, name, scopes, digest, created_at)
  VALUES (@id, @name, @scopes, @digest, @createdAt)`;
const BY_DIGEST = 'SELECT * FROM api_keys WHERE digest = ?';
const BY_ID = 'SELECT * FROM api_keys WHERE id = ?';
const ALL = 'SELECT * FROM api_keys ORDER BY created_at, id';
const ANY = 'SELECT 1 AS one FROM api_keys LIMIT 1';
const DELETE = 'DELETE FROM api_keys WHERE id = ?';
const TOUCH = `UPDATE api_keys SET last_used_at = @at
  WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @at)`;

/** API keys in the hot file's `api_keys` table, one row per key, the digest unique. */
export class SqliteApiKeyStore implements ApiKeyStore {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;

  constructor(source: SqliteDatabase | string) {
    ({ database: this.database, owned: this.owned } = openOrShare(source));
    this.database.migrate(MIGRATIONS);
  }

  create(key: StoredApiKey): Promise<void> {
    const { id, name, digest, createdAt } = key;
    return this.database.write((db) => {
      db.statement<[Record<string, unknown>], never>(INSERT).run({
        id,
        name,
        digest,
        createdAt,
        scopes: key.scopes.join(','),
      });
    });
  }

  findByDigest(digest: string): Promise<StoredApiKey | undefined> {
    return Promise.resolve(this.find(BY_DIGEST, digest));
  }

  findById(id: string): Promise<StoredApiKey | undefined> {
    return Promise.resolve(this.find(BY_ID, id));
  }

  list(): Promise<readonly ApiKeyRecord[]> {
    return Promise.resolve(this.database.statement<[], Row>(ALL).all().map(recordOf));
  }

  hasAny(): Promise<boolean> {
    return Promise.resolve(this.database.statement<[], { one: number }>(ANY).get() !== undefined);
  }

  revoke(id: string): Promise<boolean> {
    return this.database.write((db) => db.statement<[string], never>(DELETE).run(id).changes > 0);
  }

  touch(id: string, at: number): Promise<void> {
    return this.database.write((db) => {
      db.statement<[{ id: string; at: number }], never>(TOUCH).run({ id, at });
    });
  }

  private find(sql: string, value: string): StoredApiKey | undefined {
    const row = this.database.statement<[string], Row>(sql).get(value);
    return row && { ...recordOf(row), digest: row.digest };
  }

  close(): Promise<void> {
    if (this.owned) this.database.close();
    return Promise.resolve();
  }
}

function recordOf(row: Row): ApiKeyRecord {
  const record: ApiKeyRecord = {
    id: row.id,
    name: row.name,
    scopes: scopesIn(row.scopes),
    createdAt: row.created_at,
  };
  return row.last_used_at === null ? record : { ...record, lastUsedAt: row.last_used_at };
}
