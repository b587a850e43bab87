import { quantitiesBySku } from '../../domain/order.js';
import type {
  CatalogProduct,
  ExpiredHold,
  ReserveResult,
  StockItem,
  StockLine,
  StockStore,
} from '../../ports/stock-store.js';
import type { RedisConnection, RedisScript, ScriptArg } from './redis-connection.js';
import {
  CLAIM_EXPIRED,
  COMMIT,
  MARK_SYNCED,
  RECONCILE,
  RELEASE,
  RESERVE,
} from './redis-stock-scripts.js';

const ITEM_FIELDS = ['name', 'price_cents', 'currency', 'available', 'held'] as const;

/**
 * How much longer, at most, a finished reservation stays than its order: a refund that starts
 * just before the order's TTL ends still finds the sale to return. A shorter retention gets
 * a margin as long as itself.
 */
const RESERVATION_MARGIN_MS = 60 * 60 * 1000;

/**
 * The stock cache in Redis: every write is one Lua script (see redis-stock-scripts.ts).
 * Finished reservations expire by Redis's own TTL, given when sync-out marks them (a
 * released hold when it is released).
 */
export class RedisStockStore implements StockStore {
  private readonly reserveScript: RedisScript;
  private readonly commitScript: RedisScript;
  private readonly releaseScript: RedisScript;
  private readonly markSyncedScript: RedisScript;
  private readonly reconcileScript: RedisScript;
  private readonly claimExpiredScript: RedisScript;
  private readonly skuPrefix: string;
  private readonly expiryKey: string;
  /** The newest sync-lease token seen (see redis-stock-scripts.ts). */
  private readonly fenceKey: string;
  /** TTL of a finished reservation's record; 0: kept for good. */
  private readonly reservationTtlMs: number;

  constructor(
    private readonly connection: RedisConnection,
    private readonly namespace: string,
    /** How long a settled order stays (`RetentionPolicy.orderMs`); 0: for good. */
    orderMs = 0,
  ) {
    this.reservationTtlMs = orderMs > 0 ? orderMs + Math.min(orderMs, RESERVATION_MARGIN_MS) : 0;
    this.reserveScript = connection.script('orderflowStockReserve', RESERVE);
    this.commitScript = connection.script('orderflowStockCommit', COMMIT);
    this.releaseScript = connection.script('orderflowStockRelease', RELEASE);
    this.markSyncedScript = connection.script('orderflowStockMarkSynced', MARK_SYNCED);
    this.reconcileScript = connection.script('orderflowStockReconcile', RECONCILE);
    this.claimExpiredScript = connection.script('orderflowStockClaimExpired', CLAIM_EXPIRED);
    this.skuPrefix = `${namespace}:sku:`;
    this.expiryKey = `${namespace}:res-expiry`;
    this.fenceKey = `${namespace}:stock-fence`;
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
    const [ok, detail] = reply as [number, string?];
    return ok === 1
      ? { ok: true, expiresAt: Number(detail) }
      : { ok: false, shortSkus: JSON.parse(detail ?? '[]') as string[] };
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
      [this.skuPrefix, orderId, this.reservationTtlMs],
    );
  }

  async claimExpired(now: number, limit: number, reannounceMs: number): Promise<ExpiredHold[]> {
    if (limit <= 0) return [];
    const reply = (await this.claimExpiredScript(
      [this.expiryKey],
      [`${this.namespace}:res:`, now, limit, reannounceMs],
    )) as string[];
    const holds: ExpiredHold[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      holds.push({ orderId: reply[i] as string, expiresAt: Number(reply[i + 1]) });
    }
    return holds;
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

  async reconcile(products: readonly CatalogProduct[], fence?: number): Promise<boolean> {
    if (products.length === 0 && fence === undefined) return true;
    const args: ScriptArg[] = [fence ?? ''];
    for (const { name, price, onHand } of products)
      args.push(name, price.amount, price.currency, onHand);
    const reply = await this.reconcileScript(
      [this.fenceKey, ...products.map((product) => this.skuKey(product.sku))],
      args,
    );
    return reply !== -1;
  }

  async markSynced(orderId: string, consumed: boolean, fence?: number): Promise<boolean> {
    const reply = await this.markSyncedScript(
      [this.reservationKey(orderId), this.fenceKey],
      [this.skuPrefix, consumed ? '1' : '0', fence ?? '', this.reservationTtlMs],
    );
    return reply !== -1;
  }

  /** Redis expires finished reservations itself: nothing is left to remove. */
  evictSettled(): Promise<number> {
    return Promise.resolve(0);
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
