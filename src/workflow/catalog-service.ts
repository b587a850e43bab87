import { RetryableError, TerminalError } from '../domain/errors.js';
import type { Money } from '../domain/money.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import type { CatalogProduct, StockItem, StockStore } from '../ports/stock-store.js';
import type { SourceOfTruthSync } from './sync.js';

/** The demo catalog the embedded default starts with. */
export const DEMO_CATALOG: readonly CatalogProduct[] = [
  { sku: 'A123', name: 'Widget', price: { amount: 1999, currency: 'USD' }, onHand: 100 },
  { sku: 'B456', name: 'Gadget', price: { amount: 4900, currency: 'USD' }, onHand: 0 },
];

/** A read of the source of truth does not wait longer than this for an answer. */
const SOT_READ_TIMEOUT_MS = 2_000;

/** A product as the admin sees it: `onHand` from the SoT (null while it is unreachable). */
export interface AdminProduct {
  readonly sku: string;
  readonly name: string;
  readonly price: Money;
  readonly onHand: number | null;
  readonly available: number;
  readonly reserved: number;
}

export interface CatalogServiceDeps {
  readonly stock: StockStore;
  readonly sot: SourceOfTruth;
  readonly sync: SourceOfTruthSync;
  /** Told when a read falls back to the stock cache because the SoT does not answer. */
  readonly onFallback?: (sku: string, error: unknown) => void;
  readonly sotReadTimeoutMs?: number;
}

type SotRead =
  | { readonly up: true; readonly product: CatalogProduct | undefined }
  | { readonly up: false; readonly error: unknown };

/**
 * Products: what a client may buy now (the stock cache), and what the admin sees and sets
 * (the source of truth, with the stock cache beside it). The SoT may be down: an admin
 * read then answers from the stock cache, with `onHand` unknown.
 */
export class CatalogService {
  constructor(private readonly deps: CatalogServiceDeps) {}

  /** The product with its price and what can be sold now; undefined when unknown. */
  async product(sku: string): Promise<StockItem | undefined> {
    return (await this.deps.stock.items([sku])).get(sku);
  }

  /** `not_found` when neither store knows it; unavailable when the SoT is down and the cache does not. */
  async adminProduct(sku: string): Promise<AdminProduct> {
    const [sot, cached] = await Promise.all([this.readSot(sku), this.product(sku)]);
    if (!sot.up) {
      if (!cached) {
        throw new RetryableError(
          'service_unavailable',
          'the source of truth is unavailable; retry shortly',
          1000,
          { cause: sot.error },
        );
      }
      this.deps.onFallback?.(sku, sot.error);
    }
    const product = sot.up ? sot.product : undefined;
    const known = product ?? cached;
    if (!known) throw new TerminalError('not_found', `no product ${sku}`);
    return {
      sku,
      name: known.name,
      price: known.price,
      onHand: product?.onHand ?? null,
      available: cached?.available ?? 0,
      reserved: cached?.reserved ?? 0,
    };
  }

  /** Written to the SoT and pushed to the stock cache at once; answers as both have it now. */
  async putProduct(product: CatalogProduct): Promise<AdminProduct> {
    await this.deps.sync.putProduct(product);
    const cached = await this.product(product.sku);
    return {
      ...product,
      available: cached?.available ?? 0,
      reserved: cached?.reserved ?? 0,
    };
  }

  /** Puts the demo catalog into an empty source of truth; false when it has products already. */
  async seedDemo(): Promise<boolean> {
    if ((await this.deps.sot.products()).length > 0) return false;
    for (const product of DEMO_CATALOG) await this.deps.sync.putProduct(product);
    return true;
  }

  private async readSot(sku: string): Promise<SotRead> {
    const limit = this.deps.sotReadTimeoutMs ?? SOT_READ_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${limit} ms`)), limit);
    });
    try {
      return { up: true, product: await Promise.race([this.deps.sot.product(sku), timeout]) };
    } catch (error) {
      return { up: false, error };
    } finally {
      clearTimeout(timer);
    }
  }
}
