import { RetryableError, TerminalError } from '../domain/errors.js';
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
import type { SyncOutbox } from '../ports/sync-outbox.js';
import type { SourceOfTruthSync } from './sync.js';

export interface AdminServiceDeps {
  readonly log: EventLog;
  readonly orders: OrderStore;
  readonly outbox: SyncOutbox;
  /** The runs an operator may start now (the scheduler runs the same on its intervals). */
  readonly sync: Pick<SourceOfTruthSync, 'syncIn' | 'syncOut' | 'lastSyncAt'>;
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

/** The sync's own refusals: another run (in any process) holds the sync lease. */
const SYNC_CONTENDED: ReadonlySet<string> = new Set(['sync_busy', 'sync_superseded']);

/** What an operator does: dead letters, replays, stats, an order's timeline, syncs now. */
export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  deadLetters(limit: number): Promise<DeadLetter[]> {
    return this.deps.log.deadLetters(limit);
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
    const { orders, log, outbox, sync } = this.deps;
    const [counts, consumers, backlog] = await Promise.all([
      orders.countByStatus(),
      log.stats(),
      outbox.size(),
    ]);
    const byStatus = {} as Record<OrderStatus, number>;
    for (const status of ORDER_STATUSES) byStatus[status] = counts[status] ?? 0;
    return { orders: byStatus, consumers, sync: { backlog, lastSyncAt: sync.lastSyncAt ?? null } };
  }

  /** Every event of the order with each group's outcome; `not_found` when it has none. */
  async timeline(orderId: string): Promise<EventTrace[]> {
    const traces = await this.deps.log.trace(orderId);
    if (traces.length === 0) throw new TerminalError('not_found', `no event of order ${orderId}`);
    return traces;
  }

  /** Delivers again to one consumer group; `not_found` for a group the log does not know. */
  async replay(group: string, from: ReplayFrom): Promise<void> {
    const groups = await this.deps.log.stats();
    if (!Object.hasOwn(groups, group)) throw new TerminalError('not_found', `no consumer ${group}`);
    await this.deps.log.replay(group, from);
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
