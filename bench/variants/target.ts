import type { LatencyVia, VariantName } from '../options.js';

/** Where the orders of a phase stand. */
export interface Progress {
  /** Orders in a terminal status, counted since the variant started. */
  readonly terminal: number;
  /** Orders accepted and not yet terminal (or, for a queue, jobs not yet done). */
  readonly open: number;
  readonly byStatus: Readonly<Record<string, number>>;
  /**
   * What the slowest part of the pipeline still has to do: the most events a consumer group
   * has not settled (lag + in flight), or the sync backlog if larger; absent where the
   * variant does not report it.
   */
  readonly behind?: number;
}

export interface StockView {
  readonly available: number;
  readonly reserved: number;
}

export interface MemorySample {
  /** Resident memory of every process of the variant, summed, in bytes. */
  readonly rss: number;
  /** V8 heap used, summed over the processes that report it; undefined where none does. */
  readonly heapUsed: number | undefined;
}

/** What the hot stores and the source of truth hold on disk or in memory; absent: not there. */
export interface StorageSample {
  /** The embedded hot file (log and caches)… */
  readonly hotBytes?: number;
  /** …and its write-ahead log. */
  readonly walBytes?: number;
  /** The source of truth: the SQLite file, or the PostgreSQL database's size. */
  readonly sotBytes?: number;
  /** Redis `used_memory` (the whole server's). */
  readonly redisBytes?: number;
  /** Keys of the deployment's namespace in Redis. */
  readonly redisKeys?: number;
  readonly streamBytes?: number;
  readonly streamMessages?: number;
}

/** For the latency load: when each accepted order became COMPLETED. */
export interface CompletionTracker {
  /** Called on every 202 with the order id and the client's clock (Date.now()) at the answer. */
  track(orderId: string, acceptedAt: number): void;
  /**
   * Waits (at most `timeoutMs`) until every tracked order is final. `recorded` is 202 →
   * COMPLETED by the time the system recorded (same machine clock); `observed`, where the
   * client can see it (SSE), is 202 → the client receiving COMPLETED.
   */
  settle(timeoutMs: number): Promise<{
    recorded: number[];
    observed: number[] | undefined;
    notCompleted: number;
    unknown: number;
  }>;
}

/** A variant started and ready: what the loads need from it. */
export interface Target {
  readonly name: VariantName;
  readonly url: string;
  /** Headers every POST /v1/orders carries (the client key). */
  readonly headers: Readonly<Record<string, string>>;
  readonly startMs: number;
  /** False for the bare server: orders go nowhere, there is nothing to drain. */
  readonly pipeline: boolean;
  /** Puts `sku` in the catalog (price 1000 cents) with `onHand` units. */
  setStock(sku: string, onHand: number): Promise<void>;
  stock(sku: string): Promise<StockView>;
  progress(): Promise<Progress>;
  /** `sse`: follow each order's event stream where the variant has one; `history`: read orders afterwards. */
  completions(via: LatencyVia): CompletionTracker;
  memory(): Promise<MemorySample>;
  /** What its stores hold; only orderflow's variants have it. */
  storage?(): Promise<StorageSample>;
  stop(): Promise<void>;
}

/** The statuses after which nothing more happens to an order (in a bench without cancels). */
export const TERMINAL = ['COMPLETED', 'FAILED_NO_STOCK', 'PAYMENT_FAILED', 'CANCELLED', 'REFUNDED'];
