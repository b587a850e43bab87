import Database from 'better-sqlite3';
import { RetryableError } from '../../domain/errors.js';
import type { Clock } from '../../ports/clock.js';

/** The slice of a prepared statement the adapters use. */
export interface SqliteStatement<P extends unknown[], R> {
  run(...params: P): { readonly changes: number; readonly lastInsertRowid: number | bigint };
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

/** One schema step; `id` is recorded in `schema_migrations` so it runs once per file. */
export interface SqliteMigration {
  readonly id: string;
  readonly sql: string;
}

export class DatabaseClosedError extends Error {
  override readonly name = 'DatabaseClosedError';
  constructor(path: string) {
    super(`the SQLite database ${path} is closed`);
  }
}

/** `PRAGMA synchronous` of a file (`ORDERFLOW_SQLITE_SYNC`). */
export type SqliteSync = 'normal' | 'full';

export interface SqliteDatabaseOptions {
  /** How long a statement waits for another process's lock before failing. */
  readonly busyTimeoutMs?: number;
  /**
   * `normal` (the default): in WAL mode a power cut may lose the last commits but never
   * corrupts the file. `full`: every commit is on disk before its callers are resolved.
   */
  readonly synchronous?: SqliteSync;
  /** How often `onOtherCommit` looks for commits of other processes, while anyone listens. */
  readonly otherCommitsCheckMs?: number;
  /**
   * How long the writer gathers ops before it commits them; 0 (the default) = the next turn
   * of the event loop. A background process sharing the file with the API's writer commits
   * less often this way, so it takes the file's write lock less often.
   */
  readonly commitWindowMs?: number;
  /**
   * The file gives the pages of deleted rows back (`reclaimFreePages`): it is kept in
   * `auto_vacuum = INCREMENTAL`, a file made before that is converted once on open. For a
   * file whose stores delete on a schedule (the hot file under a retention policy).
   */
  readonly reclaimsSpace?: boolean;
}

/**
 * What a cache in the hot file keeps (the order and stock stores): its records leave
 * `orderMs` after the source of truth came to hold them (`RetentionPolicy.orderMs`; 0: never).
 */
export interface SqliteCacheRetention {
  readonly clock: Clock;
  readonly orderMs: number;
}

/** `PRAGMA data_version` reads shared memory only: checking often costs next to nothing. */
const OTHER_COMMITS_CHECK_MS = 5;

/** How long a writer sleeps between two tries of another process's write lock. */
const LOCK_RETRY_MS = 0.1;
/** Only ever waited on with a timeout: a sleep that wakes within microseconds. */
const LOCK_WAIT = new Int32Array(new SharedArrayBuffer(4));

/** What the WAL is cut back to after a checkpoint (see `journal_size_limit`). */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** Pages one write op of `reclaimFreePages` gives back: a few ms of the writer at most. */
const RECLAIM_PAGES_PER_OP = 256;

/** `PRAGMA auto_vacuum` values. */
const AUTO_VACUUM_NONE = 0;
const AUTO_VACUUM_INCREMENTAL = 2;

/** Result codes of a file that cannot be written right now (locked, full, read-only, failing). */
const TRANSIENT_CODE = /^SQLITE_(BUSY|LOCKED|FULL|READONLY|IOERR|CANTOPEN|PROTOCOL|NOMEM)/;

interface QueuedWrite {
  /** Runs the op; throws when it failed (its savepoint is then rolled back). */
  run(): void;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * One SQLite file (WAL, synchronous NORMAL or FULL) with versioned migrations, cached
 * prepared statements and a group-commit writer.
 *
 * Group commit: `write(op)` queues `op`; on the next `setImmediate` every queued op runs
 * in ONE transaction, each in its own savepoint, so a failing op rejects only its own
 * promise; callers are resolved after the COMMIT, and only after a real one. When the
 * transaction itself fails (BEGIN on a read-only file, a COMMIT that fails, SQLite rolling
 * it all back on a full disk), every caller of that tick is rejected and the next tick
 * starts clean. A file that cannot be written right now rejects with a `RetryableError`. Ops issued in the same tick therefore
 * land in the same transaction: the intake issues `orders.create`, `log.append` and
 * `idempotency.complete` together and relies on this for its single durable write.
 * Autocommit costs one fsync-ordered commit per statement; batching is what makes
 * thousands of small writes per second cheap.
 *
 * Reads are synchronous prepared statements and see only committed data: a batch runs
 * from start to COMMIT without yielding to the event loop.
 */
export class SqliteDatabase {
  /** Transactions committed by the writer (tests check that one tick is one commit). */
  commits = 0;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, SqliteStatement<unknown[], unknown>>();
  private queue: QueuedWrite[] = [];
  private flushScheduled = false;
  private readonly otherCommitListeners = new Set<() => void>();
  private otherCommitChecks: NodeJS.Timeout | undefined;
  private readonly otherCommitsCheckMs: number;
  private readonly commitWindowMs: number;
  private readonly inSavepoint: (item: QueuedWrite) => void;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly busyTimeoutMs: number;
  private readonly setBusyTimeout: (ms: number) => void;
  private reclaiming: Promise<number> | undefined;

  constructor(
    readonly path: string,
    options: SqliteDatabaseOptions = {},
  ) {
    this.db = new Database(path, { timeout: options.busyTimeoutMs ?? 5_000 });
    if (options.reclaimsSpace) this.useIncrementalVacuum();
    this.otherCommitsCheckMs = options.otherCommitsCheckMs ?? OTHER_COMMITS_CHECK_MS;
    this.commitWindowMs = options.commitWindowMs ?? 0;
    this.db.pragma('journal_mode = WAL');
    // The WAL grows while readers keep a checkpoint from restarting it (a busy pipeline) and
    // never shrinks by itself: past this size it is truncated back at the next checkpoint.
    this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    // Every op of a group commit runs in its own savepoint, and SQLite keeps the pages a
    // savepoint changes in a sub-journal so that it can roll just that op back: in a temp
    // file by default, one write per page per op. In memory they are copies, not syscalls.
    this.db.pragma('temp_store = MEMORY');
    this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5_000}`);
    this.db.pragma('foreign_keys = ON');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
    this.inSavepoint = this.db.transaction((item: QueuedWrite) => item.run());
    this.begin = this.db.prepare('BEGIN IMMEDIATE');
    this.commit = this.db.prepare('COMMIT');
    this.setBusyTimeout = (ms) => this.db.pragma(`busy_timeout = ${ms}`);
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  /** Applies the migrations not yet recorded in this file, each in its own transaction. */
  migrate(migrations: readonly SqliteMigration[]): void {
    const applied = this.statement<[string], { id: string }>(
      'SELECT id FROM schema_migrations WHERE id = ?',
    );
    const record = this.statement<[string, number], never>(
      'INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)',
    );
    for (const migration of migrations) {
      this.db
        .transaction(() => {
          if (applied.get(migration.id)) return;
          this.db.exec(migration.sql);
          record.run(migration.id, Date.now());
        })
        .immediate();
    }
  }

  /**
   * A prepared statement, compiled once per SQL text. A file that cannot be read or written
   * right now (busy past the timeout, full, failing) throws a `RetryableError`, in reads too.
   */
  statement<P extends unknown[] = unknown[], R = unknown>(sql: string): SqliteStatement<P, R> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = translated(this.db.prepare<unknown[], unknown>(sql));
      this.statements.set(sql, statement);
    }
    return statement as SqliteStatement<P, R>;
  }

  /** Queues `op` for the next group commit; resolves with its result after COMMIT. */
  write<T>(op: (database: SqliteDatabase) => T): Promise<T> {
    if (!this.db.open) return Promise.reject(new DatabaseClosedError(this.path));
    return new Promise<T>((resolve, reject) => {
      let value: T;
      this.queue.push({
        run: () => {
          value = op(this);
        },
        resolve: () => resolve(value),
        reject,
      });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        if (this.commitWindowMs > 0) setTimeout(() => this.flush(), this.commitWindowMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Calls `listener` after another connection to this file (another process) committed,
   * as `PRAGMA data_version` tells on a check every `otherCommitsCheckMs` while anyone
   * listens; this connection's own commits never count. A listener reads what changed
   * itself, also right after subscribing: commits before the first check are not reported.
   * Returns the unsubscribe.
   */
  onOtherCommit(listener: () => void): () => void {
    this.otherCommitListeners.add(listener);
    this.otherCommitChecks ??= this.checkOtherCommits();
    return () => {
      this.otherCommitListeners.delete(listener);
      if (this.otherCommitListeners.size > 0) return;
      clearInterval(this.otherCommitChecks);
      this.otherCommitChecks = undefined;
    };
  }

  /**
   * Gives the file's free pages (left by deleted rows) back to the file system, a bounded
   * step per write op with a turn of the event loop between, so that other writes never wait
   * long behind it; then checkpoints the WAL without waiting for readers, which is when the
   * file itself shrinks. Only in `auto_vacuum = INCREMENTAL` (`reclaimsSpace`); calls while
   * one runs share it. Resolves to the pages given back.
   */
  reclaimFreePages(): Promise<number> {
    this.reclaiming ??= this.reclaimInSteps().finally(() => {
      this.reclaiming = undefined;
    });
    return this.reclaiming;
  }

  /**
   * Runs a DELETE that removes at most `batch` rows (its own LIMIT) in write ops of its own,
   * a turn of the event loop between them, until one removes fewer; then gives the pages
   * back. Resolves to the rows removed. How a store trims itself without holding the writer.
   */
  async deleteInBatches<P extends object>(sql: string, params: P, batch: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const { changes } = await this.write((db) => db.statement<[P], never>(sql).run(params));
      removed += changes;
      if (changes < batch) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (removed > 0) await this.reclaimFreePages();
    return removed;
  }

  /** Commits what is queued, then closes the file. */
  close(): void {
    if (!this.db.open) return;
    clearInterval(this.otherCommitChecks);
    this.otherCommitListeners.clear();
    this.flush();
    this.db.close();
  }

  /**
   * A new file gets `auto_vacuum = INCREMENTAL` before its first table. A file made without
   * it (`NONE`, every file before retention) needs a VACUUM to take it: the whole file is
   * rewritten once, here on open, outside any transaction. It needs the file to itself;
   * when another process holds it, the file stays as it is (warned) and a later open
   * converts it. A `FULL` file switches without a rewrite.
   */
  private useIncrementalVacuum(): void {
    const mode = this.db.pragma('auto_vacuum', { simple: true }) as number;
    if (mode === AUTO_VACUUM_INCREMENTAL) return;
    this.db.pragma('auto_vacuum = INCREMENTAL');
    const tables = this.db.prepare('SELECT COUNT(*) AS n FROM sqlite_master').get() as {
      n: number;
    };
    if (mode !== AUTO_VACUUM_NONE || tables.n === 0) return;
    try {
      this.db.exec('VACUUM');
      process.emitWarning(
        `converted ${this.path} to auto_vacuum = INCREMENTAL (one VACUUM)`,
        'OrderflowSqliteNotice',
      );
    } catch (error) {
      reportBackgroundError(storageError(error));
    }
  }

  private async reclaimInSteps(): Promise<number> {
    if (!this.db.open) return 0;
    const freePages = this.statement<[], { freelist_count: number }>('PRAGMA freelist_count');
    let reclaimed = 0;
    for (;;) {
      const step = await this.write(() => {
        const before = freePages.get()?.freelist_count ?? 0;
        if (before > 0) this.db.exec(`PRAGMA incremental_vacuum(${RECLAIM_PAGES_PER_OP})`);
        return { before, after: freePages.get()?.freelist_count ?? 0 };
      });
      reclaimed += step.before - step.after;
      if (step.after === 0 || step.after >= step.before || !this.db.open) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (reclaimed > 0 && this.db.open) this.db.pragma('wal_checkpoint(PASSIVE)');
    return reclaimed;
  }

  private checkOtherCommits(): NodeJS.Timeout {
    const dataVersion = this.statement<[], { data_version: number }>('PRAGMA data_version');
    let seen = dataVersion.get()?.data_version;
    const timer = setInterval(() => {
      try {
        if (!this.db.open) return;
        const current = dataVersion.get()?.data_version;
        if (current === seen) return;
        seen = current;
        for (const listener of [...this.otherCommitListeners]) listener();
      } catch (error) {
        reportBackgroundError(error);
      }
    }, this.otherCommitsCheckMs);
    timer.unref();
    return timer;
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const failures = new Map<QueuedWrite, unknown>();
    try {
      // Nothing else opens a transaction on this connection: one still open is what a
      // failure left behind, and ops run inside it would only be released, never committed.
      this.rollBackOpenTransaction();
      this.runBatch(batch, failures);
      this.commits += 1;
    } catch (error) {
      try {
        this.rollBackOpenTransaction();
      } catch {
        // The next tick tries again before it writes anything.
      }
      const failure = storageError(error);
      for (const item of batch) item.reject(failure);
      return;
    }
    for (const item of batch) {
      if (failures.has(item)) item.reject(storageError(failures.get(item)));
      else item.resolve();
    }
  }

  /** Every op in its own savepoint inside one write transaction, then COMMIT. */
  private runBatch(batch: readonly QueuedWrite[], failures: Map<QueuedWrite, unknown>): void {
    this.beginImmediate();
    for (const item of batch) {
      try {
        this.inSavepoint(item);
      } catch (error) {
        // SQLite may roll the whole transaction back (a full disk, an I/O error): the
        // ops after this one would then commit one by one, outside the tick.
        if (!this.db.inTransaction) throw error;
        failures.set(item, error);
      }
    }
    this.commit.run();
  }

  /**
   * Takes the file's write lock. SQLite's own busy handler sleeps 1, 2, 5, 10 … 100 ms
   * between tries, so a writer waiting for another process's short transaction would
   * often sleep many times longer than that transaction held the lock; this one tries
   * again every `LOCK_RETRY_MS` (sleeping, so the holder gets the CPU) until the timeout.
   */
  private beginImmediate(): void {
    this.setBusyTimeout(0);
    try {
      const deadline = performance.now() + this.busyTimeoutMs;
      for (;;) {
        try {
          this.begin.run();
          return;
        } catch (error) {
          const busy = error instanceof Database.SqliteError && error.code === 'SQLITE_BUSY';
          if (!busy || performance.now() >= deadline) throw error;
          Atomics.wait(LOCK_WAIT, 0, 0, LOCK_RETRY_MS);
        }
      }
    } finally {
      this.setBusyTimeout(this.busyTimeoutMs);
    }
  }

  private rollBackOpenTransaction(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }
}

/** A driver error of a file that cannot be written right now becomes a `RetryableError`. */
function storageError(error: unknown): unknown {
  if (!(error instanceof Database.SqliteError) || !TRANSIENT_CODE.test(error.code)) return error;
  return new RetryableError('sqlite_unavailable', `SQLite: ${error.message}`, undefined, {
    cause: error,
  });
}

/** The statement, with the driver's transient failures turned into `RetryableError`. */
function translated(
  statement: SqliteStatement<unknown[], unknown>,
): SqliteStatement<unknown[], unknown> {
  const guard = <T>(call: () => T): T => {
    try {
      return call();
    } catch (error) {
      throw storageError(error);
    }
  };
  return {
    run: (...params) => guard(() => statement.run(...params)),
    get: (...params) => guard(() => statement.get(...params)),
    all: (...params) => guard(() => statement.all(...params)),
  };
}

/** A database handed in is shared (its owner closes it); a path opens one this adapter owns. */
export function openOrShare(
  source: SqliteDatabase | string,
  options?: SqliteDatabaseOptions,
): {
  database: SqliteDatabase;
  owned: boolean;
} {
  return typeof source === 'string'
    ? { database: new SqliteDatabase(source, options), owned: true }
    : { database: source, owned: false };
}

/**
 * For writes nobody awaits (an ack's offset, a nak's retry row): after close they are moot,
 * anything else is worth a warning but must not crash the process.
 */
export function reportBackgroundError(error: unknown): void {
  if (error instanceof DatabaseClosedError) return;
  process.emitWarning(
    error instanceof Error ? error : new Error(String(error)),
    'OrderflowSqliteWarning',
  );
}
