import { isTerminal } from '../domain/status.js';
import type { Order } from '../domain/order.js';
import type { Clock } from '../ports/clock.js';
import type { OrderStore } from '../ports/order-store.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import type { CatalogProduct, StockStore } from '../ports/stock-store.js';
import type { SyncOutbox } from '../ports/sync-outbox.js';

export interface SyncDeps {
  readonly sot: SourceOfTruth;
  readonly stock: StockStore;
  readonly orders: OrderStore;
  readonly outbox: SyncOutbox;
  readonly clock: Clock;
  readonly batchSize?: number;
}

/**
 * The two syncs with the shop's source of truth. They run one at a time (a sync-in that
 * read `on_hand` before a sync-out wrote and marked an order would count it twice), and
 * every step is idempotent per order, so a crash anywhere is mended by running again.
 */
export class SourceOfTruthSync {
  private queue: Promise<unknown> = Promise.resolve();
  private lastAt: string | undefined;

  constructor(private readonly deps: SyncDeps) {}

  get lastSyncAt(): string | undefined {
    return this.lastAt;
  }

  /** Sync-out: terminal orders to the SoT (on_hand in the same SoT transaction). */
  syncOut(): Promise<number> {
    return this.exclusive(async () => {
      const written = await this.pushOutbox();
      this.touch();
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
    return this.exclusive(async () => {
      await this.pushOutbox();
      const products = await this.deps.sot.products();
      await this.deps.stock.reconcile(products);
      this.touch();
      return products.length;
    });
  }

  /** Writes the outbox to the SoT, then tells the stock cache what the SoT now reflects. */
  private async pushOutbox(): Promise<number> {
    const { outbox, orders, sot, stock } = this.deps;
    const limit = this.deps.batchSize ?? 500;
    let written = 0;
    for (;;) {
      const entries = await outbox.take(limit);
      if (entries.length === 0) break;
      const ids = [...new Set(entries.map((entry) => entry.orderId))];
      const found = await Promise.all(ids.map((id) => orders.get(id)));
      const terminal = found.filter((order): order is Order => !!order && isTerminal(order.status));
      if (terminal.length > 0) await sot.applyOrders(terminal);
      await Promise.all(
        terminal.map((order) => stock.markSynced(order.orderId, order.status === 'COMPLETED')),
      );
      await outbox.done(entries);
      written += terminal.length;
      if (entries.length < limit) break;
    }
    return written;
  }

  /** A product written to the SoT and pushed to the stock cache at once (see `syncIn`). */
  putProduct(product: CatalogProduct): Promise<void> {
    return this.exclusive(async () => {
      await this.pushOutbox();
      await this.deps.sot.putProduct(product);
      await this.deps.stock.reconcile([product]);
    });
  }

  private touch(): void {
    this.lastAt = new Date(this.deps.clock.now()).toISOString();
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
