import { TERMINAL_STATUSES, type OrderStatus, type Transition } from '../domain/status.js';
import type { Order } from '../domain/order.js';
import type { Clock } from '../ports/clock.js';
import type { OrderStore } from '../ports/order-store.js';
import type { BreakerState, ProcessReports } from '../ports/process-reports.js';
import type { AdminService, Stats } from './admin-service.js';
import type { AdminProduct, CatalogService } from './catalog-service.js';
import {
  RateHistory,
  READ_DEADLINE_MS,
  SAMPLE_EVERY_MS,
  type Rates,
  type RateSample,
} from './dashboard-rates.js';
import { withDeadline } from './deadline.js';

/** The newest orders the latency and the hottest SKUs are read from. */
export const LATEST_ORDERS = 500;
/** How many SKUs the stock panel shows: the most ordered among the latest orders. */
export const HOT_SKUS = 6;
/** A SKU with this many or fewer units available is highlighted as low. */
export const LOW_STOCK_UNITS = 10;

export interface Latency {
  /** 202 to the first terminal status, over the terminal ones of the latest orders. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** How many orders the figures are over. */
  readonly orders: number;
}

export interface StockLevel {
  readonly sku: string;
  readonly name: string;
  /** As the source of truth has it; null while it cannot be read. */
  readonly onHand: number | null;
  readonly available: number;
  readonly reserved: number;
  readonly low: boolean;
}

/**
 * The payment breakers of every process that pays: `none` when none reports one (simulated
 * payments have no breaker); otherwise the worst of them, with how many are open.
 */
export interface BreakerSummary {
  readonly state: BreakerState | 'none';
  readonly processes: number;
  readonly open: number;
}

/** What the dashboard shows, as of `at`. */
export interface DashboardSnapshot {
  readonly at: number;
  /** The latest second's. */
  readonly rates: Rates;
  readonly orders: Stats['orders'];
  readonly transitions: Partial<Record<Transition, number>>;
  readonly latency: Latency | null;
  readonly consumers: Record<string, { lag: number; inFlight: number; dlq: number }>;
  readonly sync: Stats['sync'];
  readonly breaker: BreakerSummary;
  readonly stock: readonly StockLevel[];
}

export interface DashboardServiceDeps {
  readonly orders: OrderStore;
  readonly reports: ProcessReports;
  readonly admin: AdminService;
  readonly catalog: CatalogService;
  readonly clock: Clock;
}

export type SnapshotListener = (snapshot: DashboardSnapshot) => void;

/**
 * The operator dashboard's figures. The rates are sampled every second for as long as the
 * service runs (so the chart has its 15 minutes when a page opens); the rest is read once a
 * second while at least one page watches, one reading shared by all of them, so that ten
 * open dashboards cost what one does.
 */
export class DashboardService {
  private readonly rates: RateHistory;
  private readonly listeners = new Set<SnapshotListener>();
  private ticker: NodeJS.Timeout | undefined;
  private reading = false;

  constructor(private readonly deps: DashboardServiceDeps) {
    this.rates = new RateHistory(deps.orders, deps.clock);
  }

  start(): void {
    this.rates.start();
  }

  stop(): void {
    this.listeners.clear();
    this.stopTicking();
    this.rates.stop();
  }

  /** The rate chart's samples, oldest first. */
  history(): readonly RateSample[] {
    return this.rates.history();
  }

  /**
   * Calls `listener` with a snapshot every second until the returned function is called.
   * A reading that fails is skipped (the page keeps the last one).
   */
  subscribe(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    if (this.ticker === undefined) {
      this.ticker = setInterval(() => void this.broadcast(), SAMPLE_EVERY_MS);
      this.ticker.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopTicking();
    };
  }

  /** Everything the dashboard shows, read now. */
  async snapshot(): Promise<DashboardSnapshot> {
    const { orders, reports, admin, clock } = this.deps;
    const [stats, transitions, latest, live] = await Promise.all([
      admin.stats(),
      orders.countTransitions(),
      orders.list({ limit: LATEST_ORDERS }),
      reports.live().catch(() => []),
    ]);
    const consumers: DashboardSnapshot['consumers'] = {};
    for (const [group, { lag, inFlight, dlq }] of Object.entries(stats.consumers))
      consumers[group] = { lag, inFlight, dlq };
    return {
      at: clock.now(),
      rates: this.rates.latest(),
      orders: stats.orders,
      transitions,
      latency: latencyOf(latest),
      consumers,
      sync: stats.sync,
      breaker: summarize(live.map(({ breaker }) => breaker)),
      stock: await this.stockOf(hottestSkus(latest, HOT_SKUS)),
    };
  }

  private async broadcast(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const snapshot = await withDeadline(() => this.snapshot(), READ_DEADLINE_MS);
      for (const listener of this.listeners) listener(snapshot);
    } catch {
      // The next tick tries again; the pages keep what they have.
    } finally {
      this.reading = false;
    }
  }

  private stopTicking(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Each SKU's stock; one that cannot be read now (its product gone, a store down) is left out. */
  private async stockOf(skus: readonly string[]): Promise<StockLevel[]> {
    const read = await Promise.allSettled(skus.map((sku) => this.deps.catalog.adminProduct(sku)));
    return read.flatMap((result) => (result.status === 'fulfilled' ? [levelOf(result.value)] : []));
  }
}

function levelOf({ sku, name, onHand, available, reserved }: AdminProduct): StockLevel {
  return { sku, name, onHand, available, reserved, low: available <= LOW_STOCK_UNITS };
}

/** The SKUs with the most units ordered among `orders`, most first (ties by SKU). */
export function hottestSkus(orders: readonly Order[], count: number): string[] {
  const units = new Map<string, number>();
  for (const order of orders)
    for (const { sku, qty } of order.items) units.set(sku, (units.get(sku) ?? 0) + qty);
  return [...units]
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .slice(0, count)
    .map(([sku]) => sku);
}

const TERMINAL: ReadonlySet<OrderStatus> = new Set(TERMINAL_STATUSES);

/** p50 and p99 of 202 → first terminal status over the orders that have one; null for none. */
export function latencyOf(orders: readonly Order[]): Latency | null {
  const times: number[] = [];
  for (const order of orders) {
    const ended = order.history.find(({ status }) => TERMINAL.has(status));
    if (ended) times.push(Math.max(0, Date.parse(ended.at) - Date.parse(order.createdAt)));
  }
  if (times.length === 0) return null;
  times.sort((a, b) => a - b);
  return { p50Ms: rank(times, 0.5), p99Ms: rank(times, 0.99), orders: times.length };
}

/** The nearest-rank percentile of sorted `values`. */
function rank(values: readonly number[], quantile: number): number {
  const index = Math.min(values.length - 1, Math.max(0, Math.ceil(quantile * values.length) - 1));
  return values[index] ?? 0;
}

const WORST_FIRST: readonly BreakerState[] = ['open', 'half-open', 'closed'];

export function summarize(states: readonly BreakerState[]): BreakerSummary {
  const state = WORST_FIRST.find((worst) => states.includes(worst)) ?? 'none';
  return {
    state,
    processes: states.length,
    open: states.filter((each) => each === 'open').length,
  };
}
