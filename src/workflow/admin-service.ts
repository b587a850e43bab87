import { RetryableError, TerminalError } from '../domain/errors.js';
import type { Order } from '../domain/order.js';
import { ORDER_STATUSES, type OrderStatus } from '../domain/status.js';
import type { Clock } from '../ports/clock.js';
import type {
  DeadLetter,
  EventLog,
  EventTrace,
  GroupStats,
  ReplayFrom,
} from '../ports/event-log.js';
import type { OrderStore } from '../ports/order-store.js';
import { decodeCursor, encodeToken } from './admin-tokens.js';
import {
  parseReplayJob,
  progressOf,
  replayJob,
  type ReplayJob,
  type ReplayProgress,
} from './replay-job.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import type { SyncOutbox } from '../ports/sync-outbox.js';
import { findOrder } from './order-lookup.js';
import type { SourceOfTruthSync } from './sync.js';

export interface AdminServiceDeps {
  readonly log: EventLog;
  readonly orders: OrderStore;
  readonly outbox: SyncOutbox;
  /** Where an order that has left the hot cache is known (the timeline of an old order). */
  readonly sot: SourceOfTruth;
  /** The runs an operator may start now (the scheduler runs the same on its intervals). */
  readonly sync: Pick<SourceOfTruthSync, 'syncIn' | 'syncOut'>;
  readonly clock: Clock;
}

export interface Stats {
  /** Orders by current status, every status present. */
  readonly orders: Record<OrderStatus, number>;
  readonly consumers: Record<string, GroupStats>;
  readonly sync: { readonly backlog: number; readonly lastSyncAt: string | null };
}

export interface SyncReport {
  /** Orders written (sync-out) or SKUs reconciled (sync-in). */
  readonly count: number;
  readonly at: string;
}

/** An order's events as the log still has them, and whether that may be all of them. */
export interface Timeline {
  readonly events: readonly EventTrace[];
  /**
   * False when the order was placed before now − the log retention: its first events may
   * have been removed (an order with none left is known all the same).
   */
  readonly complete: boolean;
}

/** One page of a list, newest or oldest first as the list says; `nextCursor` when there is more. */
export interface Page<T> {
  readonly items: readonly T[];
  /** Give it back as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

export interface OrderListing {
  /** Only orders in this status now. */
  readonly status?: OrderStatus;
  readonly cursor?: string;
  readonly limit: number;
}

export interface DeadLetterListing {
  /** Only this consumer group's. */
  readonly consumer?: string;
  /** Only those whose last error contains this text. */
  readonly error?: string;
  readonly cursor?: string;
  readonly limit: number;
}

/** The sync's own refusals: another run (in any process) holds the sync lease. */
const SYNC_CONTENDED: ReadonlySet<string> = new Set(['sync_busy', 'sync_superseded']);

/** What an operator does: dead letters, replays, stats, an order's timeline, syncs now. */
export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  /** Dead letters oldest first, a page at a time; `validation_error` for a foreign cursor. */
  async deadLetters(listing: DeadLetterListing): Promise<Page<DeadLetter>> {
    const { consumer, error, cursor, limit } = listing;
    const after = cursor === undefined ? undefined : decodeCursor('dlq', cursor, letterPosition);
    // One more than asked: whether there is a next page, without a count.
    const letters = await this.deps.log.deadLetters({
      group: consumer,
      errorContains: error,
      after,
      limit: limit + 1,
    });
    return page(letters, limit, (last) => encodeToken('dlq', last.at, last.id));
  }

  /**
   * Orders newest first, of one status or all, a page at a time (to find stuck ones);
   * `validation_error` for a foreign cursor.
   */
  async orders(listing: OrderListing): Promise<Page<Order>> {
    const { status, cursor, limit } = listing;
    const before = cursor === undefined ? undefined : decodeCursor('orders', cursor, orderPosition);
    const orders = await this.deps.orders.list({ status, before, limit: limit + 1 });
    return page(orders, limit, (last) => encodeToken('orders', last.orderId));
  }

  /** `not_found` when there is no such letter. */
  async redrive(deadLetterId: string): Promise<void> {
    if (!(await this.deps.log.redrive(deadLetterId)))
      throw new TerminalError('not_found', `no dead letter ${deadLetterId}`);
  }

  /** `not_found` when there is no such letter. */
  async discard(deadLetterId: string): Promise<void> {
    if (!(await this.deps.log.discard(deadLetterId)))
      throw new TerminalError('not_found', `no dead letter ${deadLetterId}`);
  }

  async stats(): Promise<Stats> {
    const { orders, log, outbox } = this.deps;
    const [counts, consumers, backlog, lastSynced] = await Promise.all([
      orders.countByStatus(),
      log.stats(),
      outbox.size(),
      outbox.lastSyncedAt(),
    ]);
    const byStatus = {} as Record<OrderStatus, number>;
    for (const status of ORDER_STATUSES) byStatus[status] = counts[status] ?? 0;
    // Recorded by whichever process ran the sync-out, so every process answers the same.
    const lastSyncAt = lastSynced === undefined ? null : new Date(lastSynced).toISOString();
    return { orders: byStatus, consumers, sync: { backlog, lastSyncAt } };
  }

  /**
   * Every event of the order the log still has, with each group's outcome. The log keeps
   * events only for `logRetentionMs` (ORDERFLOW_LOG_RETENTION), so an order placed before
   * that says its timeline may be incomplete, and one known to the cache or the source of
   * truth answers even with no event left; `not_found` only for an order nobody knows.
   */
  async timeline(orderId: string, logRetentionMs: number): Promise<Timeline> {
    const events = await this.deps.log.trace(orderId);
    const placedAt = await this.placedAt(orderId, events);
    if (placedAt === undefined) throw new TerminalError('not_found', `no order ${orderId}`);
    const complete =
      events.length > 0 &&
      (logRetentionMs === 0 || placedAt >= this.deps.clock.now() - logRetentionMs);
    return { events, complete };
  }

  /**
   * When the order was placed (ms): from the cache, else the source of truth, else its
   * oldest event left; undefined for an order nobody knows.
   */
  private async placedAt(
    orderId: string,
    events: readonly EventTrace[],
  ): Promise<number | undefined> {
    try {
      const known = await findOrder(this.deps, orderId);
      return known ? Date.parse(known.createdAt) : events[0]?.event.at;
    } catch (error) {
      // With events in hand an outage of the source of truth is not fatal: they date it.
      if (events.length > 0) return events[0]?.event.at;
      throw error;
    }
  }

  /**
   * Delivers again to one consumer group; `not_found` for a group the log does not know.
   * Answers the job whose progress `replayProgress` reads (see `ReplayJob`).
   */
  async replay(group: string, from: ReplayFrom): Promise<ReplayJob> {
    const groups = await this.deps.log.stats();
    if (!Object.hasOwn(groups, group)) throw new TerminalError('not_found', `no consumer ${group}`);
    const range = await this.deps.log.replay(group, from);
    return replayJob(group, range, this.deps.clock.now());
  }

  /**
   * How far the group of a replay has got through its range, from the log, in any process;
   * `not_found` for an id this service did not hand out or a group the log no longer knows.
   */
  async replayProgress(jobId: string): Promise<ReplayProgress> {
    const job = parseReplayJob(jobId);
    const finished = job && (await this.deps.log.finishedThrough(job.consumer));
    if (!job || finished === undefined)
      throw new TerminalError('not_found', `no replay job ${jobId}`);
    return progressOf(job, finished);
  }

  /** Sync-in now (source-of-truth on-hand into the stock cache). */
  syncStock(): Promise<SyncReport> {
    return this.report(this.deps.sync.syncIn());
  }

  /** Sync-out now (terminal orders into the source of truth). */
  syncOrders(): Promise<SyncReport> {
    return this.report(this.deps.sync.syncOut());
  }

  private async report(run: Promise<number>): Promise<SyncReport> {
    try {
      return { count: await run, at: new Date(this.deps.clock.now()).toISOString() };
    } catch (error) {
      if (error instanceof RetryableError && SYNC_CONTENDED.has(error.code)) {
        throw new RetryableError('service_unavailable', `${error.message}; retry shortly`, 1000, {
          cause: error,
        });
      }
      throw error;
    }
  }
}

/** The first `limit` of `items` (asked for one more), and the cursor after them if any is left. */
function page<T>(items: readonly T[], limit: number, cursorAfter: (last: T) => string): Page<T> {
  if (items.length <= limit) return { items };
  const shown = items.slice(0, limit);
  const last = shown.at(-1);
  return last === undefined ? { items: shown } : { items: shown, nextCursor: cursorAfter(last) };
}

function orderPosition([orderId]: readonly unknown[]): string | undefined {
  return typeof orderId === 'string' ? orderId : undefined;
}

function letterPosition([at, id]: readonly unknown[]): { at: number; id: string } | undefined {
  return typeof at === 'number' && typeof id === 'string' ? { at, id } : undefined;
}
