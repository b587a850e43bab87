import type { Clock } from '../../ports/clock.js';
import type { SyncEntry, SyncOutbox } from '../../ports/sync-outbox.js';
import { openOrShare, type SqliteDatabase, type SqliteMigration } from './sqlite-database.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'sync-outbox/1-outbox',
    sql: `
      CREATE TABLE sync_outbox (
        order_id TEXT NOT NULL,
        status TEXT NOT NULL,
        added_at INTEGER NOT NULL,
        PRIMARY KEY (order_id, status)
      );
      CREATE INDEX sync_outbox_added ON sync_outbox (added_at);
    `,
  },
  {
    id: 'sync-outbox/2-last-success',
    sql: `
      CREATE TABLE sync_last_success (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        at INTEGER NOT NULL
      );
    `,
  },
];

const ADD = 'INSERT OR IGNORE INTO sync_outbox (order_id, status, added_at) VALUES (?, ?, ?)';
const TAKE = 'SELECT order_id, status FROM sync_outbox ORDER BY added_at, rowid LIMIT ?';
const DONE = 'DELETE FROM sync_outbox WHERE order_id = ? AND status = ?';
const SIZE = 'SELECT COUNT(*) AS n FROM sync_outbox';
const MARK = `
  INSERT INTO sync_last_success (id, at) VALUES (1, ?)
  ON CONFLICT (id) DO UPDATE SET at = excluded.at WHERE excluded.at > sync_last_success.at`;
const LAST = 'SELECT at FROM sync_last_success WHERE id = 1';

/** The sync-out backlog in the hot SQLite file; adds join the shared group commit. */
export class SqliteSyncOutbox implements SyncOutbox {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;

  constructor(
    source: SqliteDatabase | string,
    private readonly clock: Clock,
  ) {
    ({ database: this.database, owned: this.owned } = openOrShare(source));
    this.database.migrate(MIGRATIONS);
  }

  add(orderId: string, status: string): Promise<void> {
    const at = this.clock.now();
    return this.database.write((db) => {
      db.statement<[string, string, number], never>(ADD).run(orderId, status, at);
    });
  }

  take(limit: number): Promise<SyncEntry[]> {
    const rows = this.database
      .statement<[number], { order_id: string; status: string }>(TAKE)
      .all(limit);
    return Promise.resolve(rows.map((row) => ({ orderId: row.order_id, status: row.status })));
  }

  done(entries: readonly SyncEntry[]): Promise<void> {
    return this.database.write((db) => {
      const remove = db.statement<[string, string], never>(DONE);
      for (const entry of entries) remove.run(entry.orderId, entry.status);
    });
  }

  size(): Promise<number> {
    return Promise.resolve(this.database.statement<[], { n: number }>(SIZE).get()?.n ?? 0);
  }

  markSynced(at: number): Promise<void> {
    return this.database.write((db) => {
      db.statement<[number], never>(MARK).run(at);
    });
  }

  lastSyncedAt(): Promise<number | undefined> {
    return Promise.resolve(this.database.statement<[], { at: number }>(LAST).get()?.at);
  }

  close(): Promise<void> {
    if (this.owned) this.database.close();
    return Promise.resolve();
  }
}
