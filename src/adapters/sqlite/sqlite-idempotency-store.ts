import type { Clock } from '../../ports/clock.js';
import type {
  IdempotencyClaim,
  IdempotencyStore,
  StoredResponse,
} from '../../ports/idempotency-store.js';
import { DEFAULT_EFFECT_TTL_MS } from '../shared/effect-retention.js';
import { openOrShare, type SqliteDatabase, type SqliteMigration } from './sqlite-database.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'idempotency-store/1-keys',
    sql: `
      CREATE TABLE idempotency_keys (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        response TEXT,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
      );
      CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
      CREATE TABLE effects (
        key TEXT PRIMARY KEY,
        at INTEGER NOT NULL
      );
    `,
  },
  {
    // Done effects are forgotten once no event could repeat them (see effectTtlMs).
    id: 'idempotency/2-effects-expiry',
    sql: 'CREATE INDEX effects_at ON effects (at)',
  },
];

const SELECT =
  'SELECT fingerprint, response, expires_at FROM idempotency_keys WHERE scope = ? AND key = ?';
const UPSERT_DONE = `INSERT INTO idempotency_keys (scope, key, fingerprint, state, response, expires_at)
  VALUES (?, ?, ?, 'done', ?, ?)
  ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'done',
    response = excluded.response, expires_at = excluded.expires_at`;
const PURGE = `DELETE FROM idempotency_keys WHERE rowid IN
  (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT 100)`;
const WAS_DONE = 'SELECT 1 AS found FROM effects WHERE key = ? AND at > ?';
const MARK_DONE = 'INSERT OR IGNORE INTO effects (key, at) VALUES (?, ?)';
/** A few expired effects per mark: the ledger sheds as fast as it grows. */
const PURGE_EFFECTS = `DELETE FROM effects WHERE rowid IN
  (SELECT rowid FROM effects WHERE at <= ? LIMIT 100)`;

interface Claim {
  readonly fingerprint: string;
  readonly ttlMs: number;
  readonly expiresAt: number;
  readonly ref: string;
  /** Until when the claim blocks its key; 0 once abandoned. */
  readonly claimUntil: number;
}

/** How long an unfinished claim blocks its key (see the Redis store). */
const IN_FLIGHT_CLAIM_MS = 10_000;
const MAX_CLAIMS = 10_000;

/**
 * Idempotency keys in the hot SQLite file. Only completed keys are stored: a claim lives in
 * this process's memory until `complete` writes the response (in the caller's group commit,
 * together with the order it created), so a crash mid-request leaves nothing to time out:
 * the order and its answer are both there or neither is.
 * `begin` is atomic because it runs synchronously: a read and a map, no await in between.
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;
  private readonly claims = new Map<string, Claim>();

  constructor(
    source: SqliteDatabase | string,
    private readonly clock: Clock,
    /** How long a done effect is remembered (see `effectTtlMs`). */
    private readonly effectTtlMs = DEFAULT_EFFECT_TTL_MS,
  ) {
    ({ database: this.database, owned: this.owned } = openOrShare(source));
    this.database.migrate(MIGRATIONS);
  }

  begin(
    scope: string,
    key: string,
    fingerprint: string,
    ttlMs: number,
    ref: string,
  ): Promise<IdempotencyClaim> {
    const now = this.clock.now();
    const stored = this.database
      .statement<
        [string, string],
        { fingerprint: string; response: string | null; expires_at: number }
      >(SELECT)
      .get(scope, key);
    if (stored && stored.expires_at > now && stored.response !== null) {
      if (stored.fingerprint !== fingerprint) return Promise.resolve({ state: 'mismatch' });
      return Promise.resolve({
        state: 'replay',
        response: JSON.parse(stored.response) as StoredResponse,
      });
    }
    const id = claimId(scope, key);
    const claim = this.claims.get(id);
    if (claim && claim.expiresAt > now) {
      if (claim.fingerprint !== fingerprint) return Promise.resolve({ state: 'mismatch' });
      if (claim.claimUntil > now) return Promise.resolve({ state: 'in_flight' });
      this.claims.set(id, { ...claim, claimUntil: now + IN_FLIGHT_CLAIM_MS });
      return Promise.resolve({ state: 'resume', ref: claim.ref });
    }
    if (this.claims.size >= MAX_CLAIMS) this.prune(now);
    this.claims.set(id, {
      fingerprint,
      ttlMs,
      expiresAt: now + ttlMs,
      ref,
      claimUntil: now + IN_FLIGHT_CLAIM_MS,
    });
    return Promise.resolve({ state: 'started' });
  }

  async complete(scope: string, key: string, response: StoredResponse): Promise<void> {
    const id = claimId(scope, key);
    const claim = this.claims.get(id);
    if (!claim) throw new Error(`idempotency key ${scope}/${key} is not claimed`);
    const now = this.clock.now();
    const body = JSON.stringify(response);
    await this.database.write((db) => {
      db.statement<[string, string, string, string, number], never>(UPSERT_DONE).run(
        scope,
        key,
        claim.fingerprint,
        body,
        now + claim.ttlMs,
      );
      db.statement<[number], never>(PURGE).run(now);
    });
    if (this.claims.get(id) === claim) this.claims.delete(id);
  }

  abandon(scope: string, key: string): Promise<void> {
    const id = claimId(scope, key);
    const claim = this.claims.get(id);
    if (claim) this.claims.set(id, { ...claim, claimUntil: 0 });
    return Promise.resolve();
  }

  rebind(scope: string, key: string, ref: string): Promise<void> {
    const id = claimId(scope, key);
    const claim = this.claims.get(id);
    if (!claim) return Promise.reject(new Error(`idempotency key ${scope}/${key} is not claimed`));
    this.claims.set(id, { ...claim, ref });
    return Promise.resolve();
  }

  release(scope: string, key: string): Promise<void> {
    this.claims.delete(claimId(scope, key));
    return Promise.resolve();
  }

  /** Abandoned claims are kept for a retry until their TTL; past it they go. */
  private prune(now: number): void {
    for (const [id, claim] of this.claims) if (claim.expiresAt <= now) this.claims.delete(id);
  }

  wasDone(key: string): Promise<boolean> {
    const since = this.clock.now() - this.effectTtlMs;
    return Promise.resolve(
      this.database.statement<[string, number], { found: number }>(WAS_DONE).get(key, since) !==
        undefined,
    );
  }

  markDone(key: string): Promise<void> {
    const at = this.clock.now();
    return this.database.write((db) => {
      db.statement<[string, number], never>(MARK_DONE).run(key, at);
      db.statement<[number], never>(PURGE_EFFECTS).run(at - this.effectTtlMs);
    });
  }

  close(): Promise<void> {
    this.claims.clear();
    if (this.owned) this.database.close();
    return Promise.resolve();
  }
}

function claimId(scope: string, key: string): string {
  return `${scope}\u0000${key}`;
}
