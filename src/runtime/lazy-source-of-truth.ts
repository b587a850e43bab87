import { RetryableError } from '../domain/errors.js';
import type { ArchivedOrder, Order, OrderFacts } from '../domain/order.js';
import {
  SOT_DATABASE_MISSING,
  SOT_SCHEMA_BEHIND,
  type SourceOfTruth,
} from '../ports/source-of-truth.js';

/** Failures to open that are configuration errors, not outages. */
const MISCONFIGURED: ReadonlySet<string> = new Set([SOT_DATABASE_MISSING, SOT_SCHEMA_BEHIND]);
import type { CatalogProduct } from '../ports/stock-store.js';

/**
 * A source of truth opened on first use, and again after a failed open: the shop's
 * database may be down when a process starts, and orders must flow all the same. Calls
 * made while it cannot be opened fail (their callers keep their backlog and retry). A
 * database that does not exist, or a schema its user may not bring up to date, is told apart
 * from an outage (`configurationProblem`).
 */
export class LazySourceOfTruth implements SourceOfTruth {
  private opening: Promise<SourceOfTruth> | undefined;
  private opened: SourceOfTruth | undefined;
  /** The last open failed because the database does not exist. */
  private missing: RetryableError | undefined;

  constructor(private readonly open: () => Promise<SourceOfTruth>) {}

  /** Tries to open now; a failure is not thrown (the next call tries again). */
  async warmUp(): Promise<void> {
    await this.target().catch(() => undefined);
  }

  products(): Promise<CatalogProduct[]> {
    return this.target().then((sot) => sot.products());
  }
  product(sku: string): Promise<CatalogProduct | undefined> {
    return this.target().then((sot) => sot.product(sku));
  }
  putProduct(product: CatalogProduct): Promise<void> {
    return this.target().then((sot) => sot.putProduct(product));
  }
  applyOrders(orders: readonly Order[]): Promise<void> {
    return this.target().then((sot) => sot.applyOrders(orders));
  }
  order(orderId: string): Promise<ArchivedOrder | undefined> {
    return this.target().then((sot) => sot.order(orderId));
  }
  requestShipment(order: OrderFacts, at: number): Promise<void> {
    return this.target().then((sot) => sot.requestShipment(order, at));
  }
  recordSale(order: OrderFacts, status: string, at: number): Promise<void> {
    return this.target().then((sot) => sot.recordSale(order, status, at));
  }
  async ping(): Promise<boolean> {
    return this.target().then(
      (sot) => sot.ping(),
      () => false,
    );
  }
  /**
   * Why it cannot be opened when that is a configuration error (its database does not
   * exist, its schema is behind: the error's code says which), after trying again now (the database may have been created meanwhile);
   * undefined when it is open, or only down: an outage is not tried here, so that asking
   * never waits on an engine that does not answer.
   */
  async configurationProblem(): Promise<RetryableError | undefined> {
    if (this.opened || !this.missing) return undefined;
    await this.target().catch(() => undefined);
    return this.missing;
  }

  async close(): Promise<void> {
    await this.opened?.close();
  }

  private target(): Promise<SourceOfTruth> {
    if (this.opened) return Promise.resolve(this.opened);
    this.opening ??= this.open().then(
      (sot) => {
        this.opened = sot;
        this.missing = undefined;
        return sot;
      },
      (error: unknown) => {
        this.opening = undefined;
        this.missing =
          error instanceof RetryableError && MISCONFIGURED.has(error.code) ? error : undefined;
        throw error;
      },
    );
    return this.opening;
  }
}
