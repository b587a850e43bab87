/*
 * The parts of the HTTP API's answers (DESIGN.md, src/http/schemas.ts) that the CLI reads.
 * The CLI is a client of the running service like any other: it declares the slice of the
 * contract it relies on instead of importing the server's schemas.
 */

export interface Money {
  readonly amount: number;
  readonly currency: string;
}

/** `GET /v1/admin/products/{sku}`: the catalog service's view, as the API sends it. */
export type { AdminProduct } from '../workflow/catalog-service.js';

export interface OrderView {
  readonly orderId: string;
  readonly status: string;
  readonly customerId: string;
  readonly email: string;
  readonly items: readonly { sku: string; qty: number; unitPrice: Money }[];
  readonly total: Money;
  readonly history: readonly { status: string; at: string }[];
  readonly reason?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface Outcome {
  readonly state: 'pending' | 'acked' | 'retrying' | 'dead';
  readonly attempts: number;
  readonly lastError?: string;
}

export interface Timeline {
  readonly orderId: string;
  readonly events: readonly {
    seq: number;
    id: string;
    type: string;
    at: string;
    data: unknown;
    outcomes: Readonly<Record<string, Outcome>>;
  }[];
  /** ORDERFLOW_LOG_RETENTION as the server has it (`7d`). */
  readonly logRetention?: string;
  /** False when the order is older than the log retention: some events may be gone. */
  readonly complete?: boolean;
  readonly note?: string;
}

export interface DeadLetter {
  readonly id: string;
  readonly consumer: string;
  readonly event: { seq: number; id: string; type: string; key: string; at: string; data: unknown };
  readonly attempts: number;
  readonly lastError: string;
  readonly at: string;
}

/** `GET /v1/admin/dlq`: one page, oldest first. */
export interface DeadLetters {
  readonly deadLetters: readonly DeadLetter[];
  /** Absent on the last page. */
  readonly nextCursor?: string;
}

export interface OrderSummary {
  readonly orderId: string;
  readonly status: string;
  readonly customerId: string;
  readonly total: Money;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** `GET /v1/admin/orders`: one page, newest first. */
export interface OrderList {
  readonly orders: readonly OrderSummary[];
  readonly nextCursor?: string;
}

export interface GroupStats {
  readonly lag: number;
  readonly inFlight: number;
  readonly dlq: number;
}

export interface Stats {
  readonly orders: Readonly<Record<string, number>>;
  readonly consumers: Readonly<Record<string, GroupStats>>;
  readonly sync: { readonly backlog: number; readonly lastSyncAt: string | null };
}

export interface SyncReport {
  readonly count: number;
  readonly at: string;
}

export interface ReplayAccepted {
  readonly jobId: string;
  readonly consumer: string;
  readonly fromSeq?: number;
  readonly fromTime?: string;
  readonly from: number;
  readonly through: number;
}

/** `GET /v1/admin/replay/{jobId}`. */
export interface ReplayJob {
  readonly jobId: string;
  readonly consumer: string;
  readonly from: number;
  readonly through: number;
  readonly delivered: number;
  readonly total: number;
  readonly done: boolean;
}

/** The most dead letters `GET /v1/admin/dlq` lists at once (oldest first). */
export const DLQ_PAGE_MAX = 1000;

/** The most orders `GET /v1/admin/orders` lists at once (newest first). */
export const ORDER_PAGE_MAX = 500;

/** `GET /v1/admin/keys`: a stored key, never the key itself. */
export interface ApiKeyView {
  readonly id: string;
  readonly name: string | null;
  readonly scopes: readonly string[];
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

export interface ApiKeyList {
  readonly keys: readonly ApiKeyView[];
}

/** `POST /v1/admin/keys`: the only answer that carries the key. */
export interface CreatedApiKey extends Omit<ApiKeyView, 'lastUsedAt'> {
  readonly key: string;
}
