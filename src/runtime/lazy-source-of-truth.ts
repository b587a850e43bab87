import type { Order } from '../domain/order.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import type { CatalogProduct } from '../ports/stock-store.js';

/**
 * A source of truth opened on first use, and again after a failed open: the shop's
 * database may be down when a process starts, and orders must flow all the same. Calls
 * made while it cannot be opened fail (their callers keep their backlog and retry).
 */
export class LazySourceOfTruth implements SourceOfTruth {
  private opening: Promise<SourceOfTruth> | undefined;
  private opened: SourceOfTruth | undefined;

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
  requestShipment(order: Order, at: number): Promise<void> {
    return this.target().then((sot) => sot.requestShipment(order, at));
  }
  recordSale(order: Order, status: string, at: number): Promise<void> {
    return this.target().then((sot) => sot.recordSale(order, status, at));
  }
  async ping(): Promise<boolean> {
    return this.target().then(
      (sot) => sot.ping(),
      () => false,
    );
  }
  async close(): Promise<void> {
    await this.opened?.close();
  }

  private target(): Promise<SourceOfTruth> {
    if (this.opened) return Promise.resolve(this.opened);
    this.opening ??= this.open().then(
      (sot) => {
        this.opened = sot;
        return sot;
      },
      (error: unknown) => {
        this.opening = undefined;
        throw error;
      },
    );
    return this.opening;
  }
}
