import type { Clock } from '../../ports/clock.js';
import type { Lease } from '../../ports/lease.js';
import { openOrShare, type SqliteDatabase, type SqliteMigration } from './sqlite-database.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'lease/1-leases',
    sql: `CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
  },
];

/** Takes a free or lapsed lease, or renews one's own: one conditional upsert. */
const ACQUIRE = `INSERT INTO leases (name, holder, expires_at) VALUES (@name, @holder, @expiresAt)
  ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
  WHERE leases.holder = excluded.holder OR leases.expires_at <= @now`;
const RELEASE = 'DELETE FROM leases WHERE name = ? AND holder = ?';

/** Leases in the hot SQLite file: processes sharing the file take turns through it. */
export class SqliteLease implements Lease {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;

  constructor(
    source: SqliteDatabase | string,
    private readonly clock: Clock,
  ) {
    ({ database: this.database, owned: this.owned } = openOrShare(source));
    this.database.migrate(MIGRATIONS);
  }

  acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    return this.database.write(
      (db) =>
        db
          .statement<[{ name: string; holder: string; expiresAt: number; now: number }], never>(
            ACQUIRE,
          )
          .run({ name, holder, expiresAt: now + ttlMs, now }).changes === 1,
    );
  }

  release(name: string, holder: string): Promise<void> {
    return this.database.write((db) => {
      db.statement<[string, string], never>(RELEASE).run(name, holder);
    });
  }

  close(): Promise<void> {
    if (this.owned) this.database.close();
    return Promise.resolve();
  }
}
