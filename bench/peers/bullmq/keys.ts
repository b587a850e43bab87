/**
 * The BullMQ peer's names in Redis. Everything lives under one prefix (BullMQ's own
 * `prefix` option and the shop's keys), so that a run deletes exactly what it made.
 */
export const QUEUE = 'orders';

export interface PeerKeys {
  readonly prefix: string;
  /** Hash sku → price in cents: the catalog the intake prices orders from. */
  readonly catalog: string;
  /** Hash sku → available units. */
  readonly stock: string;
  /** Hash status → orders that ended in it. */
  readonly counts: string;
  /** Hash per order: status, at (ms since the epoch of the terminal status). */
  order(orderId: string): string;
  /** Per order: what its reservation did ('1' held, '0' refused, 'released'). */
  reservation(orderId: string): string;
}

export function peerKeys(prefix: string): PeerKeys {
  return {
    prefix,
    catalog: `${prefix}:shop:catalog`,
    stock: `${prefix}:shop:stock`,
    counts: `${prefix}:shop:counts`,
    order: (orderId) => `${prefix}:shop:order:${orderId}`,
    reservation: (orderId) => `${prefix}:shop:reservation:${orderId}`,
  };
}

/** Read from the environment the bench gives both peer processes. */
export function peerEnv(): { prefix: string; redisUrl: string; apiKey: string; port: number } {
  const prefix = process.env['BULLMQ_PEER_PREFIX'];
  const redisUrl = process.env['BULLMQ_PEER_REDIS_URL'];
  if (!prefix || !redisUrl)
    throw new Error('BULLMQ_PEER_PREFIX and BULLMQ_PEER_REDIS_URL are required');
  return {
    prefix,
    redisUrl,
    apiKey: process.env['BULLMQ_PEER_API_KEY'] ?? '',
    port: Number(process.env['PORT'] ?? 0),
  };
}

/** The job the intake enqueues: the order as accepted and priced. */
export interface OrderJob {
  readonly orderId: string;
  readonly customerId: string;
  readonly email: string;
  readonly items: readonly { readonly sku: string; readonly qty: number }[];
  readonly paymentMethod: string;
  readonly totalCents: number;
  readonly acceptedAt: number;
}
