import { quantitiesBySku } from '../../domain/order.js';
import type {
  CatalogProduct,
  ReserveResult,
  StockItem,
  StockLine,
  StockStore,
} from '../../ports/stock-store.js';
import type { RedisConnection, RedisScript, ScriptArg } from './redis-connection.js';
import { COMMIT, MARK_SYNCED, RECONCILE, RELEASE, RESERVE } from './redis-stock-scripts.js';

const ITEM_FIELDS = ['name', 'price_cents', 'currency', 'available', 'held'] as const;

/** The stock cache in Redis: every write is one Lua script (see redis-stock-scripts.ts). */
export class RedisStockStore implements StockStore {
  private readonly reserveScript: RedisScript;
  private readonly commitScript: RedisScript;
  private readonly releaseScript: RedisScript;
  private readonly markSyncedScript: RedisScript;
  private readonly reconcileScript: RedisScript;
  private readonly skuPrefix: string;
  private readonly expiryKey: string;

  constructor(
    private readonly connection: RedisConnection,
    private readonly namespace: string,
  ) {
    this.reserveScript = connection.script('orderflowStockReserve', RESERVE);
    this.commitScript = connection.script('orderflowStockCommit', COMMIT);
    this.releaseScript = connection.script('orderflowStockRelease', RELEASE);
    this.markSyncedScript = connection.script('orderflowStockMarkSynced', MARK_SYNCED);
    this.reconcileScript = connection.script('orderflowStockReconcile', RECONCILE);
    this.skuPrefix = `${namespace}:sku:`;
    this.expiryKey = `${namespace}:res-expiry`;
  }

  async reserve(
    orderId: string,
    lines: readonly StockLine[],
    expiresAt: number,
  ): Promise<ReserveResult> {
    // Sorted, so that the short SKUs come back in SKU order.
    const quantities = [...quantitiesBySku(lines)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const reply = await this.reserveScript(
      [
        this.reservationKey(orderId),
        this.expiryKey,
        ...quantities.map(([sku]) => this.skuKey(sku)),
      ],
      [orderId, expiresAt, ...quantities.flat()],
    );
    if (!Array.isArray(reply)) throw new Error('unexpected reply of the reserve script');
    const [ok, short] = reply as [number, string?];
    return ok === 1
      ? { ok: true }
      : { ok: false, shortSkus: JSON.parse(short ?? '[]') as string[] };
  }

  async commit(orderId: string): Promise<void> {
    await this.commitScript(
      [this.reservationKey(orderId), this.expiryKey],
      [this.skuPrefix, orderId],
    );
  }

  async release(orderId: string): Promise<void> {
    await this.releaseScript(
      [this.reservationKey(orderId), this.expiryKey],
      [this.skuPrefix, orderId],
    );
  }

  expired(now: number, limit: number): Promise<string[]> {
    if (limit <= 0) return Promise.resolve([]);
    return this.connection.run((client) =>
      client.zrangebyscore(this.expiryKey, '-inf', now, 'LIMIT', 0, limit),
    );
  }

  async items(skus: readonly string[]): Promise<Map<string, StockItem>> {
    const unique = [...new Set(skus)];
    const items = new Map<string, StockItem>();
    if (unique.length === 0) return items;
    const replies = await this.connection.run(async (client) => {
      const pipeline = client.pipeline();
      for (const sku of unique) pipeline.hmget(this.skuKey(sku), ...ITEM_FIELDS);
      // A pipeline resolves with an error per command; the first one fails the call.
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error !== null);
      if (failed?.[0]) throw failed[0];
      return results.map(([, fields]) => fields as (string | null)[]);
    });
    unique.forEach((sku, index) => {
      const [name, price, currency, available, held] = replies[index] ?? [];
      if (name === null || name === undefined) return;
      items.set(sku, {
        sku,
        name,
        price: { amount: Number(price), currency: currency ?? '' },
        available: Number(available ?? 0),
        reserved: Number(held ?? 0),
      });
    });
    return items;
  }

  async reconcile(products: readonly CatalogProduct[]): Promise<void> {
    if (products.length === 0) return;
    const args: ScriptArg[] = [];
    for (const { name, price, onHand } of products)
      args.push(name, price.amount, price.currency, onHand);
    await this.reconcileScript(
      products.map((product) => this.skuKey(product.sku)),
      args,
    );
  }

  async markSynced(orderId: string, consumed: boolean): Promise<void> {
    await this.markSyncedScript(
      [this.reservationKey(orderId)],
      [this.skuPrefix, consumed ? '1' : '0'],
    );
  }

  /** The connection belongs to the backend that opened it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private skuKey(sku: string): string {
    return this.skuPrefix + sku;
  }

  private reservationKey(orderId: string): string {
    return `${this.namespace}:res:${orderId}`;
  }
}
