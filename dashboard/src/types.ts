/*
 * The shapes the dashboard reads: the live stream's events (GET /dashboard/live) and the
 * answers of the REST routes it calls (see src/http/schemas.ts on the server side).
 * The server validates what it sends, so the client trusts these shapes at the boundary.
 */
import { ORDER_STATUSES, TRANSITIONS as STEPS, type OrderStatus } from '../../src/domain/status.js';

/** The status machine is the server's own (pure domain code, bundled in). */
export const STATUSES = ORDER_STATUSES;
export type Status = OrderStatus;

/** Every transition the status machine allows, as `[from, to]`. */
export const TRANSITIONS: readonly (readonly [Status, Status])[] = STEPS.map(
  (step) => step.split('>') as [Status, Status],
);

export interface Money {
  amount: number;
  currency: string;
}

export interface RateSample {
  at: string;
  acceptedPerS: number;
  completedPerS: number;
}

export interface ConsumerStats {
  lag: number;
  inFlight: number;
  dlq: number;
}

export interface HotStock {
  sku: string;
  name: string;
  /** Null while the source of truth is unreachable. */
  onHand: number | null;
  available: number;
  reserved: number;
  low: boolean;
}

export type BreakerState = 'closed' | 'open' | 'half-open' | 'none';

/** One `snapshot` event: the state of the service, sent every second. */
export interface Snapshot {
  at: string;
  rates: { acceptedPerS: number; completedPerS: number };
  orders: Record<Status, number>;
  /** Keyed `FROM>TO`; only the transitions made so far. */
  transitions: Partial<Record<string, number>>;
  latency: { p50Ms: number; p99Ms: number; orders: number } | null;
  consumers: Record<string, ConsumerStats>;
  sync: { backlog: number; lastSyncAt: string | null };
  breaker: { state: BreakerState; processes: number; open: number };
  stock: HotStock[];
}

export interface Session {
  keyId: string;
  scopes: string[];
  expiresAt: string;
}

export interface OrderView {
  orderId: string;
  status: Status;
  customerId: string;
  email: string;
  items: { sku: string; qty: number; unitPrice: Money }[];
  total: Money;
  history: { status: Status; at: string }[];
  reason?: string;
  createdAt: string;
  updatedAt: string;
}

export interface Outcome {
  state: 'pending' | 'acked' | 'retrying' | 'dead';
  attempts: number;
  lastError?: string;
}

export interface TimelineView {
  orderId: string;
  logRetention: string;
  complete: boolean;
  note?: string;
  events: {
    seq: number;
    id: string;
    type: string;
    at: string;
    data: unknown;
    outcomes: Record<string, Outcome>;
  }[];
}

export interface OrderSummary {
  orderId: string;
  status: Status;
  customerId: string;
  total: Money;
  createdAt: string;
  updatedAt: string;
}

export interface OrderPage {
  orders: OrderSummary[];
  nextCursor?: string;
}

export interface DeadLetter {
  id: string;
  consumer: string;
  event: { seq: number; id: string; type: string; key: string; at: string; data: unknown };
  attempts: number;
  lastError: string;
  at: string;
}

export interface DeadLetterPage {
  deadLetters: DeadLetter[];
  nextCursor?: string;
}

export interface AdminProduct {
  sku: string;
  name: string;
  price: Money;
  /** Null while the source of truth is unreachable. */
  onHand: number | null;
  available: number;
  reserved: number;
}
