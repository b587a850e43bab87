import { takesOnHand } from '../domain/on-hand.js';
import { isTerminal } from '../domain/status.js';
import type { Order } from '../domain/order.js';
import type { Clock } from '../ports/clock.js';
import type { Lease } from '../ports/lease.js';
import type { OrderStore } from '../ports/order-store.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import type { CatalogProduct, StockStore } from '../ports/stock-store.js';
import type { SyncOutbox } from '../ports/sync-outbox.js';
import { superseded, SyncLock, type SyncHold } from './sync-lock.js';

/** The lease every sync run of every process holds while it runs. */
export const SYNC_LEASE = 'sync';
const SYNC_LEASE_TTL_MS = 5_000;
const SYNC_WAIT_MS = 30_000;

export interface SyncDeps {
  readonly sot: SourceOfTruth;
  readonly stock: StockStore;
  readonly orders: OrderStore;
  readonly outbox: SyncOutbox;
  readonly clock: Clock;
  /** Where the runs of all processes take turns (the `sync` lease) and get their fence. */
  readonly lease: Lease;
  readonly batchSize?: number;
  /** How long a run's hold of the lease lasts unrenewed (5 s). */
  readonly leaseTtlMs?: number;
  /** How long a run waits for another process's run to end (30 s). */
  readonly waitMs?: number;
}

/**
 * The two syncs with the shop's source of truth. They run one at a time across every
 * process (a sync-in that read `on_hand` before a sync-out wrote and marked an order would
 * count it twice): each run holds the `sync` lease, and its writes to the stock cache carry
 * the lease's fencing token, so a run that lost the lease while paused is refused rather
 * than applying what it read before. Every step is idempotent per order, so a crash
 * anywhere is mended by running again.
 */
export class SourceOfTruthSync {
  /** This process's runs queue here rather than poll the lease against each other. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly lock: SyncLock;

  constructor(private readonly deps: SyncDeps) {
    this.lock = new SyncLock(deps.lease, SYNC_LEASE, {
      ttlMs: deps.leaseTtlMs ?? SYNC_LEASE_TTL_MS,
      waitMs: deps.waitMs ?? SYNC_WAIT_MS,
    });
  }

  /**
   * Sync-out: terminal orders to the SoT (on_hand in the same SoT transaction). A pass that
   * succeeds, an empty one too (nothing waiting is the SoT caught up), is recorded in the
   * outbox, where every process reads it.
   */
  syncOut(): Promise<number> {
    return this.exclusive(async (hold) => {
      const written = await this.pushOutbox(hold);
      await this.markSynced();
      return written;
    });
  }

  /**
   * Sync-in: SoT on-hand → stock cache, net of what is sold but not yet synced and held.
   * The outbox is pushed first: a crash between a sync-out's SoT commit and its marks in
   * the stock cache would otherwise have the SoT's `on_hand` and the cache both count the
   * same orders, and sell-able stock would vanish.
   */
  syncIn(): Promise<number> {
    return this.exclusive(async (hold) => {
      await this.pushOutbox(hold);
      hold.assertHeld();
      const products = await this.deps.sot.products();
      hold.assertHeld();
      fenced(await this.deps.stock.reconcile(products, hold.token));
      await this.markSynced();
      return products.length;
    });
  }

  /** Writes the outbox to the SoT, then tells the stock cache what the SoT now reflects. */
  private async pushOutbox(hold: SyncHold): Promise<number> {
    const { outbox, orders, sot, stock } = this.deps;
    const limit = this.deps.batchSize ?? 500;
    let written = 0;
    for (;;) {
      const entries = await outbox.take(limit);
      if (entries.length === 0) break;
      const ids = [...new Set(entries.map((entry) => entry.orderId))];
      const found = await Promise.all(ids.map((id) => orders.get(id)));
      const terminal = found.filter((order): order is Order => !!order && isTerminal(order.status));
      hold.assertHeld();
      if (terminal.length > 0) await sot.applyOrders(terminal);
      const marked = await Promise.all(
        terminal.map((order) =>
          stock.markSynced(order.orderId, takesOnHand(order.status), hold.token),
        ),
      );
      // Refused: a newer run marks them itself (it takes the same entries, still here).
      fenced(marked.every(Boolean));
      // From here the SoT answers for them: the cache may let them go after the retention.
      await orders.settled(terminal.map(({ orderId, status }) => ({ orderId, status })));
      await outbox.done(entries);
      written += terminal.length;
      if (entries.length < limit) break;
    }
    return written;
  }

  /** A product written to the SoT and pushed to the stock cache at once (see `syncIn`). */
  putProduct(product: CatalogProduct): Promise<void> {
    return this.exclusive(async (hold) => {
      await this.pushOutbox(hold);
      hold.assertHeld();
      await this.deps.sot.putProduct(product);
      fenced(await this.deps.stock.reconcile([product], hold.token));
    });
  }

  private markSynced(): Promise<void> {
    return this.deps.outbox.markSynced(this.deps.clock.now());
  }

  /** Holds the lease for `work`, having first fenced off every older run. */
  private exclusive<T>(work: (hold: SyncHold) => Promise<T>): Promise<T> {
    const held = (): Promise<T> =>
      this.lock.run(async (hold) => {
        fenced(await this.deps.stock.reconcile([], hold.token));
        return work(hold);
      });
    const run = this.queue.then(held, held);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** A stock-cache write refused by its fence: a newer run holds the lease. */
function fenced(admitted: boolean): void {
  if (!admitted) throw superseded();
}
