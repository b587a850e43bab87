import { applyTransition, type Order, type TransitionPatch } from '../../domain/order.js';
import {
  isCancellable,
  TERMINAL_STATUSES,
  type OrderStatus,
  type Transition,
} from '../../domain/status.js';
import type { EventLog, NewEvent } from '../../ports/event-log.js';
import type { OrderListQuery, OrderStore, SettledOrder } from '../../ports/order-store.js';
import { OrderWatchers } from '../shared/order-watchers.js';
import {
  openOrShare,
  type SqliteCacheRetention,
  type SqliteDatabase,
  type SqliteMigration,
} from './sqlite-database.js';
import { SqliteEventLog } from './sqlite-event-log.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'order-store/1-orders',
    sql: `
      CREATE TABLE orders (
        order_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX orders_status ON orders (status);
    `,
  },
  {
    // Orders by status are read by every stats call: counted as they change, not scanned.
    id: 'order-store/2-status-counts',
    sql: `
      CREATE TABLE order_status_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO order_status_counts (status, n) SELECT status, COUNT(*) FROM orders GROUP BY status;
      CREATE TRIGGER orders_counted_in AFTER INSERT ON orders BEGIN
        INSERT INTO order_status_counts (status, n) VALUES (NEW.status, 1)
          ON CONFLICT (status) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER orders_counted_moved AFTER UPDATE OF status ON orders
        WHEN OLD.status <> NEW.status BEGIN
        UPDATE order_status_counts SET n = n - 1 WHERE status = OLD.status;
        INSERT INTO order_status_counts (status, n) VALUES (NEW.status, 1)
          ON CONFLICT (status) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER orders_counted_out AFTER DELETE ON orders BEGIN
        UPDATE order_status_counts SET n = n - 1 WHERE status = OLD.status;
      END;
    `,
  },
  {
    // Orders of one status newest first, a page at a time: a range of this index (ids are
    // time-ordered). It covers what the status-only index did, which it replaces.
    id: 'order-store/3-status-listing',
    sql: `
      CREATE INDEX orders_status_id ON orders (status, order_id);
      DROP INDEX orders_status;
    `,
  },
  {
    // When the source of truth came to hold the order in its current status (NULL: not yet,
    // or it moved since). An order evicted by retention still counts in its status: only
    // an order deleted before it was settled leaves its count.
    id: 'order-store/4-retention',
    sql: `
      ALTER TABLE orders ADD COLUMN settled_at INTEGER;
      CREATE INDEX orders_settled ON orders (settled_at) WHERE settled_at IS NOT NULL;
      DROP TRIGGER orders_counted_out;
      CREATE TRIGGER orders_counted_out AFTER DELETE ON orders WHEN OLD.settled_at IS NULL BEGIN
        UPDATE order_status_counts SET n = n - 1 WHERE status = OLD.status;
      END;
    `,
  },
  {
    // Status changes by FROM>TO, counted as they are written (the saga's graph): from here
    // on, since the orders' earlier steps are not replayed into it.
    id: 'order-store/5-transition-counts',
    sql: `
      CREATE TABLE order_transition_counts (step TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TRIGGER orders_transition_counted AFTER UPDATE OF status ON orders
        WHEN OLD.status <> NEW.status BEGIN
        INSERT INTO order_transition_counts (step, n) VALUES (OLD.status || '>' || NEW.status, 1)
          ON CONFLICT (step) DO UPDATE SET n = n + 1;
      END;
    `,
  },
];

/** Orders one eviction write op removes: a few ms of the shared writer. */
const EVICT_BATCH = 500;

const INSERT = `INSERT OR IGNORE INTO orders (order_id, status, data, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?)`;
const SELECT = 'SELECT data FROM orders WHERE order_id = ?';
const SELECT_IN = 'SELECT data FROM orders WHERE order_id = ? AND status = ?';
/** Any change the source of truth has not seen yet makes the order unsettled again. */
const UPDATE = `UPDATE orders SET status = ?, data = ?, updated_at = ?, settled_at = NULL
  WHERE order_id = ? AND status = ?`;
/** The first settle counts: settling again does not push the eviction back. */
const SETTLE = `UPDATE orders SET settled_at = ?
  WHERE order_id = ? AND status = ? AND settled_at IS NULL`;
const EVICT = `DELETE FROM orders WHERE order_id IN (SELECT order_id FROM orders
  WHERE settled_at IS NOT NULL AND settled_at <= @cutoff
    AND status IN (SELECT value FROM json_each(@terminal)) LIMIT ${EVICT_BATCH})`;
const COUNT = 'SELECT status AS key, n FROM order_status_counts WHERE n > 0';
const COUNT_STEPS = 'SELECT step AS key, n FROM order_transition_counts WHERE n > 0';

/**
 * A page of `list`: a range of the primary key, or of `orders_status_id` for one status. Only
 * the conditions asked for are in the statement, so that the planner always picks the range.
 */
function listSql(byStatus: boolean, paged: boolean): string {
  const where = [byStatus ? 'status = @status' : '', paged ? 'order_id < @before' : ''].filter(
    (condition) => condition !== '',
  );
  const filter = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
  return `SELECT data FROM orders${filter} ORDER BY order_id DESC LIMIT @limit`;
}

type Listener = (order: Order) => void;

/**
 * The order cache in the hot SQLite file; every write joins the shared group commit. With
 * a log on the same file, the events a write emits commit in its transaction; with any
 * other log they are appended once the write has committed. A terminal order the source of
 * truth holds (`settled`) leaves it `orderMs` later (`evictSettled`).
 */
export class SqliteOrderStore implements OrderStore {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;
  private readonly watchers = new OrderWatchers();
  /** Watched orders as last read for them: another process's change is told once. */
  private readonly watchedData = new Map<string, string>();
  private stopWatchingOthers: (() => void) | undefined;
  private readonly sharedLog: SqliteEventLog | undefined;

  get commitsWithLog(): boolean {
    return this.sharedLog !== undefined;
  }

  constructor(
    source: SqliteDatabase | string,
    private readonly log?: EventLog,
    private readonly retention?: SqliteCacheRetention,
  ) {
    ({ database: this.database, owned: this.owned } = openOrShare(source, {
      reclaimsSpace: retention !== undefined,
    }));
    this.database.migrate(MIGRATIONS);
    this.sharedLog =
      log instanceof SqliteEventLog && log.sharesDatabase(this.database) ? log : undefined;
  }

  async create(order: Order, events: readonly NewEvent[] = []): Promise<void> {
    const data = JSON.stringify(order);
    const created = await this.database.write((db) => {
      const inserted =
        db
          .statement<[string, string, string, string, string], never>(INSERT)
          .run(order.orderId, order.status, data, order.createdAt, order.updatedAt).changes === 1;
      if (inserted) this.sharedLog?.insertWithin(db, events);
      return inserted;
    });
    if (created) {
      await this.emitted(events);
      this.watchers.notify(order);
    }
  }

  /** An order and its events commit together here: an id never created has nothing to stop. */
  abandon(orderId: string): Promise<boolean> {
    return Promise.resolve(this.read(this.database, orderId) === undefined);
  }

  get(orderId: string): Promise<Order | undefined> {
    return Promise.resolve(this.read(this.database, orderId));
  }

  async transition(
    orderId: string,
    from: OrderStatus,
    to: OrderStatus,
    at: string,
    patch?: TransitionPatch,
    events?: (moved: Order) => readonly NewEvent[],
  ): Promise<Order | undefined> {
    const moved = await this.database.write((db) => {
      const row = db.statement<[string, string], { data: string }>(SELECT_IN).get(orderId, from);
      if (!row) return undefined;
      const order = applyTransition(JSON.parse(row.data) as Order, to, at, patch);
      this.update(db, order, from);
      const emitted = events?.(order) ?? [];
      this.sharedLog?.insertWithin(db, emitted);
      return { order, emitted };
    });
    if (!moved) return undefined;
    await this.emitted(moved.emitted);
    this.watchers.notify(moved.order);
    return moved.order;
  }

  /** After a commit: wake the shared log's consumers, or append to a log elsewhere. */
  private async emitted(events: readonly NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (this.sharedLog) this.sharedLog.appended();
    else if (this.log) await this.log.append(events);
    else throw new Error('this order store has no event log to emit events on');
  }

  async requestCancel(orderId: string): Promise<Order | undefined> {
    const result = await this.database.write((db) => {
      const order = this.read(db, orderId);
      if (!order || order.cancelRequested || !isCancellable(order.status))
        return { order, changed: false };
      const requested: Order = { ...order, cancelRequested: true };
      this.update(db, requested, order.status);
      return { order: requested, changed: true };
    });
    if (result.changed && result.order) this.watchers.notify(result.order);
    return result.order;
  }

  /** Changes made by other processes on the file (a `worker` beside this `api`) are told too. */
  watch(orderId: string, listener: Listener): () => void {
    const unwatch = this.watchers.add(orderId, listener);
    this.stopWatchingOthers ??= this.database.onOtherCommit(() => this.readWatched());
    if (!this.watchedData.has(orderId)) {
      const row = this.database.statement<[string], { data: string }>(SELECT).get(orderId);
      if (row) this.watchedData.set(orderId, row.data);
    }
    return () => {
      unwatch();
      if (!this.watchers.watched(orderId)) this.watchedData.delete(orderId);
      if (this.watchers.ids().length > 0) return;
      this.stopWatchingOthers?.();
      this.stopWatchingOthers = undefined;
    };
  }

  /** After another process committed: tells the watchers of each watched order it changed. */
  private readWatched(): void {
    const select = this.database.statement<[string], { data: string }>(SELECT);
    for (const orderId of this.watchers.ids()) {
      const row = select.get(orderId);
      if (!row || this.watchedData.get(orderId) === row.data) continue;
      this.watchedData.set(orderId, row.data);
      this.watchers.notify(JSON.parse(row.data) as Order);
    }
  }

  settled(orders: readonly SettledOrder[]): Promise<void> {
    if (orders.length === 0) return Promise.resolve();
    const now = (this.retention?.clock ?? Date).now();
    return this.database.write((db) => {
      const settle = db.statement<[number, string, string], never>(SETTLE);
      for (const order of orders) settle.run(now, order.orderId, order.status);
    });
  }

  async evictSettled(): Promise<number> {
    if (!this.retention || this.retention.orderMs <= 0) return 0;
    const params = {
      cutoff: this.retention.clock.now() - this.retention.orderMs,
      terminal: JSON.stringify(TERMINAL_STATUSES),
    };
    return this.database.deleteInBatches(EVICT, params, EVICT_BATCH);
  }

  countByStatus(): Promise<Partial<Record<OrderStatus, number>>> {
    return Promise.resolve(this.counted<OrderStatus>(COUNT));
  }

  countTransitions(): Promise<Partial<Record<Transition, number>>> {
    return Promise.resolve(this.counted<Transition>(COUNT_STEPS));
  }

  /** The rows of a count table (its key first, then `n`) as a record. */
  private counted<K extends string>(sql: string): Partial<Record<K, number>> {
    const rows = this.database.statement<[], { key: K; n: number }>(sql).all();
    return Object.fromEntries(rows.map(({ key, n }) => [key, n])) as Partial<Record<K, number>>;
  }

  list({ status, before, limit }: OrderListQuery): Promise<Order[]> {
    const params: Record<string, string | number> = { limit };
    if (status !== undefined) params['status'] = status;
    if (before !== undefined) params['before'] = before;
    const rows = this.database
      .statement<[Record<string, string | number>], { data: string }>(
        listSql(status !== undefined, before !== undefined),
      )
      .all(params);
    return Promise.resolve(rows.map((row) => JSON.parse(row.data) as Order));
  }

  close(): Promise<void> {
    this.stopWatchingOthers?.();
    this.watchers.clear();
    this.watchedData.clear();
    if (this.owned) this.database.close();
    return Promise.resolve();
  }

  private read(db: SqliteDatabase, orderId: string): Order | undefined {
    const row = db.statement<[string], { data: string }>(SELECT).get(orderId);
    return row ? (JSON.parse(row.data) as Order) : undefined;
  }

  private update(db: SqliteDatabase, order: Order, from: OrderStatus): void {
    db.statement<[string, string, string, string, string], never>(UPDATE).run(
      order.status,
      JSON.stringify(order),
      order.updatedAt,
      order.orderId,
      from,
    );
  }
}
