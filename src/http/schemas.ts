import { z } from 'zod';
import { ERROR_CATALOG, type ErrorCode } from './errors.js';
import { SCOPES } from '../domain/scopes.js';
import { ORDER_STATUSES } from '../domain/status.js';

/*
 * Every request and response of the API as a zod schema. They validate requests, shape
 * responses (unknown keys never leave the service) and produce the OpenAPI document.
 * One schema style everywhere: a plain JSON schema on any route breaks `/docs/json`.
 */

const ERROR_CODES = Object.keys(ERROR_CATALOG) as [ErrorCode, ...ErrorCode[]];

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .describe('Every error: a stable machine-readable code, a message, and details where they help.');

/** What both schemes say about keys: one scope per route, named by `x-orderflow-scope`. */
const SCOPES_NOTE =
  'Each /v1 route needs one scope of the key (its x-orderflow-scope): orders:write (place, cancel), ' +
  'orders:read (orders, their events, products), admin:read (GET /v1/admin/*), admin:write (every ' +
  'other /v1/admin/* call); without it 403 forbidden. A key without admin scopes sees only the orders ' +
  'it created. Keys are created with POST /v1/admin/keys (or `orderflow keys create`).';

/** The security schemes of `/docs/json`; every /v1 route takes either. */
export const SECURITY_SCHEMES = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description: `Authorization: Bearer <API key>. ${SCOPES_NOTE}`,
  },
  apiKeyHeader: {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description: `X-API-Key: <API key>. ${SCOPES_NOTE}`,
  },
} as const;
export const SECURED: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyHeader: [] }];

/** Error responses every route may answer, for the document and the serializer. */
export const ERROR_RESPONSES = { '4xx': ErrorBody, '5xx': ErrorBody } as const;

/** The responses of a Server-Sent Events route: the stream, or an error before it starts. */
export const EVENT_STREAM_RESPONSES = {
  200: {
    description: 'text/event-stream',
    content: { 'text/event-stream': { schema: z.string() } },
  },
  ...ERROR_RESPONSES,
} as const;

/** The headers that start an SSE answer: unbuffered by proxies, never cached. */
export const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

export const Money = z.object({
  amount: z.int().min(0).describe('Integer minor units (cents)'),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .describe('ISO 4217 code, three uppercase letters'),
});

const Status = z.enum(ORDER_STATUSES);
const IsoTime = z.string().describe('ISO 8601 time');

/** A time (ms since the epoch) as the API sends it: ISO 8601, UTC. */
export const isoTime = (ms: number): string => new Date(ms).toISOString();

// ── requests ────────────────────────────────────────────────────────────────────────

/** Strict: a client-sent `price` or `total` is refused; prices are always the catalog's. */
export const PlaceOrderBody = z.strictObject({
  customerId: z.string().min(1).max(128),
  email: z.email().max(254),
  items: z
    .array(
      z.strictObject({
        sku: z.string().min(1).max(64),
        qty: z.int().min(1).max(10_000),
      }),
    )
    .min(1)
    .max(100),
  paymentMethod: z.string().min(1).max(128).describe('e.g. pm_card_visa'),
});
export type PlaceOrderBody = z.output<typeof PlaceOrderBody>;

/** Loose: every other header passes through untouched. */
export const PlaceOrderHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .optional()
    .describe('Same key and body: the same answer, replayed; same key, other body: 422'),
});

export const OrderIdParams = z.object({ id: z.string().min(1).max(128) });
export const SkuParams = z.object({ sku: z.string().min(1).max(64) });
export const DeadLetterIdParams = z.object({ id: z.string().min(1).max(256) });
export const ReplayJobParams = z.object({ jobId: z.string().min(1).max(1024) });

/**
 * A page size in a query string. Query values arrive as strings and nothing is coerced
 * elsewhere, so it is digits, read as a number, then bounded.
 */
function pageSize(defaultSize: number, max: number) {
  return z
    .string()
    .regex(/^[0-9]{1,9}$/, 'a whole number')
    .transform(Number)
    .pipe(z.int().min(1).max(max))
    .optional()
    .describe(`page size: ${defaultSize} unless given, at most ${max}`);
}

const Cursor = z
  .string()
  .min(1)
  .max(1024)
  .optional()
  .describe('the nextCursor of the page before: this page goes on after it');

export const ORDER_PAGE = { default: 50, max: 500 } as const;
export const DLQ_PAGE = { default: 100, max: 1000 } as const;

/** Strict: a misspelt parameter (`?stauts=`) is refused rather than ignored. */
export const OrderListQuery = z.strictObject({
  status: Status.optional().describe('only orders in this status now'),
  cursor: Cursor,
  limit: pageSize(ORDER_PAGE.default, ORDER_PAGE.max),
});

export const DeadLetterListQuery = z.strictObject({
  consumer: z.string().min(1).max(128).optional().describe('only this consumer group’s'),
  error: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe('only those whose last error contains this text (case-sensitive)'),
  cursor: Cursor,
  limit: pageSize(DLQ_PAGE.default, DLQ_PAGE.max),
});

export const PutProductBody = z.strictObject({
  name: z.string().min(1).max(200),
  price: z.strictObject({
    amount: z.int().min(0),
    currency: z.string().regex(/^[A-Z]{3}$/, 'three uppercase letters'),
  }),
  onHand: z.int().min(0),
});

/** Exactly one of `fromSeq` and `fromTime` (an ISO time or milliseconds since the epoch). */
export const ReplayBody = z
  .strictObject({
    consumer: z.string().min(1).max(128),
    fromSeq: z.int().min(0).optional(),
    fromTime: z.union([z.iso.datetime({ offset: true }), z.int().min(0)]).optional(),
  })
  .refine((body) => (body.fromSeq === undefined) !== (body.fromTime === undefined), {
    message: 'give exactly one of fromSeq and fromTime',
  });

// ── responses ───────────────────────────────────────────────────────────────────────

export const OrderAccepted = z
  .object({
    orderId: z.string(),
    status: z.literal('PENDING'),
    total: Money,
  })
  .describe('Accepted: the order is PENDING and moves on in the background');
export type OrderAccepted = z.output<typeof OrderAccepted>;

export const OrderView = z.object({
  orderId: z.string(),
  status: Status,
  customerId: z.string(),
  email: z.string(),
  items: z.array(z.object({ sku: z.string(), qty: z.int(), unitPrice: Money })),
  total: Money,
  history: z.array(z.object({ status: Status, at: IsoTime })),
  reason: z.string().optional(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});

export type OrderView = z.output<typeof OrderView>;

export const CancelAccepted = z
  .object({ orderId: z.string(), status: Status })
  .describe('Cancel requested: the order ends CANCELLED or REFUNDED');

export const ProductView = z.object({
  sku: z.string(),
  name: z.string(),
  price: Money,
  available: z.int(),
});

export const AdminProductView = z.object({
  sku: z.string(),
  name: z.string(),
  price: Money,
  onHand: z
    .int()
    .nullable()
    .describe('As the source of truth has it; null while it is unreachable'),
  available: z.int(),
  reserved: z.int(),
});

const LogEventView = z.object({
  seq: z.int(),
  id: z.string(),
  type: z.string(),
  key: z.string(),
  at: IsoTime,
  data: z.unknown(),
});

export type AdminProductView = z.output<typeof AdminProductView>;

export const DeadLettersView = z.object({
  deadLetters: z.array(
    z.object({
      id: z.string(),
      consumer: z.string(),
      event: LogEventView,
      attempts: z.int(),
      lastError: z.string(),
      at: IsoTime,
    }),
  ),
  nextCursor: z.string().optional().describe('absent on the last page'),
});

export type DeadLettersView = z.output<typeof DeadLettersView>;

export const OrderListView = z.object({
  orders: z.array(
    z.object({
      orderId: z.string(),
      status: Status,
      customerId: z.string(),
      total: Money,
      createdAt: IsoTime,
      updatedAt: IsoTime,
    }),
  ),
  nextCursor: z.string().optional().describe('absent on the last page'),
});

export const RedriveAccepted = z
  .object({ id: z.string(), redriven: z.literal(true) })
  .describe('The dead letter is delivered to its consumer once more');

export const DiscardDone = z
  .object({ id: z.string(), discarded: z.literal(true) })
  .describe('The dead letter is gone for good; the event stays in the log');

export const StatsView = z.object({
  orders: z.record(Status, z.int()),
  consumers: z.record(z.string(), z.object({ lag: z.int(), inFlight: z.int(), dlq: z.int() })),
  sync: z.object({ backlog: z.int(), lastSyncAt: IsoTime.nullable() }),
});

export const TimelineView = z.object({
  orderId: z.string(),
  logRetention: z
    .string()
    .describe('How long the log keeps events (ORDERFLOW_LOG_RETENTION, e.g. "7d"; "0" keeps all)'),
  complete: z
    .boolean()
    .describe(
      'false when the order was placed longer ago than the log retention: its first events may be gone',
    ),
  note: z.string().optional().describe('Why the events may not be all, when not complete'),
  events: z.array(
    z.object({
      seq: z.int(),
      id: z.string(),
      type: z.string(),
      at: IsoTime,
      data: z.unknown(),
      outcomes: z.record(
        z.string(),
        z.object({
          state: z.enum(['pending', 'acked', 'retrying', 'dead']),
          attempts: z.int(),
          lastError: z.string().optional(),
        }),
      ),
    }),
  ),
});

export const ReplayAccepted = z.object({
  jobId: z.string().describe('GET /v1/admin/replay/{jobId} answers its progress'),
  consumer: z.string(),
  fromSeq: z.int().optional(),
  fromTime: IsoTime.optional(),
  from: z.int().describe('the first sequence number replayed'),
  through: z.int().describe('the last sequence number in the log when the replay was asked'),
});

export const ReplayJobView = z
  .object({
    jobId: z.string(),
    consumer: z.string(),
    from: z.int(),
    through: z.int(),
    delivered: z
      .int()
      .describe('positions of the range the consumer has finished (other types count)'),
    total: z.int().describe('positions in the range: through - from + 1'),
    done: z.boolean(),
  })
  .describe("A replay's progress, read from the consumer group's position in the log");

export const SyncReportView = z
  .object({ count: z.int(), at: IsoTime })
  .describe('Orders written (sync-out) or SKUs reconciled (sync-in)');

// ── API keys ────────────────────────────────────────────────────────────────────────

const KeyScopes = z
  .array(z.enum(SCOPES))
  .min(1)
  .max(SCOPES.length * 4)
  .describe('orders:write, orders:read, admin:read, admin:write: at most those of the calling key');

export const CreateKeyBody = z.strictObject({
  name: z.string().min(1).max(128).optional().describe('a label: which shop, which script'),
  scopes: KeyScopes,
});

export const KeyIdParams = z.object({ id: z.string().min(1).max(128) });

/** A key as listed: never the key, never its digest. */
export const KeyView = z.object({
  id: z.string().describe('stable and not secret: the owner of the orders the key places'),
  name: z.string().nullable(),
  scopes: z.array(z.enum(SCOPES)),
  createdAt: IsoTime,
  lastUsedAt: IsoTime.nullable().describe('updated at most about once a minute'),
});
export type KeyView = z.output<typeof KeyView>;

export const CreatedKeyView = KeyView.omit({ lastUsedAt: true })
  .extend({ key: z.string().describe('the key itself: shown only in this answer, never again') })
  .describe('A key just created');

export const KeyListView = z
  .object({ keys: z.array(KeyView) })
  .describe('The stored keys, oldest first (not those of ORDERFLOW_API_KEYS)');

export const KeyRevoked = z.object({ id: z.string(), revoked: z.literal(true) });

export const HealthView = z.object({ status: z.literal('ok') });

export const ReadyView = z.object({
  ready: z.boolean(),
  /** A warning passes: the process is ready, but something is unsafe (see `warnings`). */
  checks: z.record(z.string(), z.union([z.boolean(), z.literal('warning')])),
  warnings: z.record(z.string(), z.string()).optional(),
  /** Why a failed check failed, where that is known: a configuration error, not an outage. */
  failures: z.record(z.string(), z.string()).optional(),
  error: ErrorBody.shape.error.optional(),
});
