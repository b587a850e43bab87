import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { ApiError, RetryableError } from '../../domain/errors.js';
import { ORDER_STATUSES, type OrderStatus } from '../../domain/status.js';
import type { LogEvent } from '../../ports/event-log.js';
import type { CatalogProduct } from '../../ports/stock-store.js';
import type { ServiceContext, SyncReport } from '../../runtime/context.js';
import { asUnavailable, orUnavailable } from '../errors.js';
import {
  AdminProductView,
  DeadLetterIdParams,
  DeadLettersView,
  ERROR_RESPONSES,
  OrderIdParams,
  PutProductBody,
  RedriveAccepted,
  ReplayAccepted,
  ReplayBody,
  SECURED,
  SkuParams,
  StatsView,
  SyncReportView,
  TimelineView,
} from '../schemas.js';
import type { HttpDeps } from './deps.js';

/** An admin read does not wait longer than this for the source of truth. */
const SOT_READ_TIMEOUT_MS = 2_000;

const iso = (ms: number): string => new Date(ms).toISOString();

/** The sync's own refusals: another run (in any process) holds the sync lease. */
const SYNC_CONTENDED: ReadonlySet<string> = new Set(['sync_busy', 'sync_superseded']);

/** A sync run now: 503 + Retry-After, saying whether another run or the SoT is in the way. */
async function syncNow(run: Promise<SyncReport>): Promise<SyncReport> {
  try {
    return await run;
  } catch (error) {
    if (error instanceof RetryableError && SYNC_CONTENDED.has(error.code)) {
      throw new ApiError('service_unavailable', `${error.message}; retry shortly`, undefined, 1);
    }
    throw asUnavailable(error, 'the source of truth');
  }
}

function eventView(event: LogEvent): DeadLettersView['deadLetters'][number]['event'] {
  return {
    seq: event.seq,
    id: event.id,
    type: event.type,
    key: event.key,
    at: iso(event.at),
    data: event.data,
  };
}

type SotRead =
  | { readonly up: true; readonly product: CatalogProduct | undefined }
  | { readonly up: false; readonly error: unknown };

async function readSot(ctx: ServiceContext, sku: string): Promise<SotRead> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${SOT_READ_TIMEOUT_MS} ms`)),
      SOT_READ_TIMEOUT_MS,
    );
  });
  try {
    return { up: true, product: await Promise.race([ctx.backends.sot.product(sku), timeout]) };
  } catch (error) {
    return { up: false, error };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `onHand` as the source of truth has it (null while it is unreachable), `available` and
 * `reserved` as the stock cache has them (0 for a product it does not know yet).
 */
async function adminProduct(ctx: ServiceContext, sku: string): Promise<AdminProductView> {
  const [sot, items] = await Promise.all([readSot(ctx, sku), ctx.backends.stock.items([sku])]);
  const cached = items.get(sku);
  if (!sot.up) {
    if (!cached) throw asUnavailable(sot.error, 'the source of truth');
    ctx.logger.warn(
      { err: sot.error, sku },
      'source of truth unreachable; answering from the stock cache',
    );
  }
  const product = sot.up ? sot.product : undefined;
  const known = product ?? cached;
  if (!known) throw new ApiError('not_found', `no product ${sku}`);
  return {
    sku,
    name: known.name,
    price: known.price,
    onHand: product?.onHand ?? null,
    available: cached?.available ?? 0,
    reserved: cached?.reserved ?? 0,
  };
}

export const adminRoutes: FastifyPluginCallbackZod<HttpDeps> = (app, { ctx }, done) => {
  const { log, orders, outbox, stock } = ctx.backends;
  const tags = ['admin'];

  app.put(
    '/v1/admin/products/:sku',
    {
      schema: {
        summary:
          'Create or replace a product: written to the source of truth and pushed to the stock cache',
        tags,
        security: SECURED,
        params: SkuParams,
        body: PutProductBody,
        response: { 200: AdminProductView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { sku } = request.params;
      const { name, price, onHand } = request.body;
      await orUnavailable(ctx.sync.putProduct({ sku, name, price, onHand }), 'the source of truth');
      const cached = (await stock.items([sku])).get(sku);
      return {
        sku,
        name,
        price,
        onHand,
        available: cached?.available ?? 0,
        reserved: cached?.reserved ?? 0,
      };
    },
  );

  app.get(
    '/v1/admin/products/:sku',
    {
      schema: {
        summary:
          'A product as the source of truth (onHand) and the stock cache (available, reserved) have it',
        tags,
        security: SECURED,
        params: SkuParams,
        response: { 200: AdminProductView, ...ERROR_RESPONSES },
      },
    },
    (request) => adminProduct(ctx, request.params.sku),
  );

  app.get(
    '/v1/admin/dlq',
    {
      schema: {
        summary: 'Dead letters of every consumer, oldest first (at most 1000)',
        tags,
        security: SECURED,
        response: { 200: DeadLettersView, ...ERROR_RESPONSES },
      },
    },
    async () => {
      const letters = await log.deadLetters(1000);
      return {
        deadLetters: letters.map((letter) => ({
          id: letter.id,
          consumer: letter.group,
          event: eventView(letter.event),
          attempts: letter.attempts,
          lastError: letter.lastError,
          at: iso(letter.at),
        })),
      };
    },
  );

  app.post(
    '/v1/admin/dlq/:id/redrive',
    {
      schema: {
        summary: 'Deliver a dead letter to its consumer once more',
        tags,
        security: SECURED,
        params: DeadLetterIdParams,
        response: { 202: RedriveAccepted, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const found = await orUnavailable(log.redrive(id), 'the event log');
      if (!found) throw new ApiError('not_found', `no dead letter ${id}`);
      return reply.code(202).send({ id, redriven: true as const });
    },
  );

  app.get(
    '/v1/admin/stats',
    {
      schema: {
        summary: 'Orders by current status, consumer lag, sync backlog',
        tags,
        security: SECURED,
        response: { 200: StatsView, ...ERROR_RESPONSES },
      },
    },
    async () => {
      const [counts, consumers, backlog] = await Promise.all([
        orders.countByStatus(),
        log.stats(),
        outbox.size(),
      ]);
      const byStatus = {} as Record<OrderStatus, number>;
      for (const status of ORDER_STATUSES) byStatus[status] = counts[status] ?? 0;
      const groups: Record<string, { lag: number; inFlight: number; dlq: number }> = {};
      for (const [group, { lag, inFlight, dlq }] of Object.entries(consumers))
        groups[group] = { lag, inFlight, dlq };
      return {
        orders: byStatus,
        consumers: groups,
        sync: { backlog, lastSyncAt: ctx.sync.lastSyncAt() ?? null },
      };
    },
  );

  app.get(
    '/v1/admin/orders/:id/timeline',
    {
      schema: {
        summary: "Every event of an order from the log, in order, with each consumer's outcome",
        tags,
        security: SECURED,
        params: OrderIdParams,
        response: { 200: TimelineView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { id } = request.params;
      const traces = await log.trace(id);
      if (traces.length === 0) throw new ApiError('not_found', `no event of order ${id}`);
      return {
        orderId: id,
        events: traces.map(({ event, outcomes }) => ({
          seq: event.seq,
          id: event.id,
          type: event.type,
          at: iso(event.at),
          data: event.data,
          outcomes: Object.fromEntries(
            Object.entries(outcomes).map(([group, { state, attempts, lastError }]) => [
              group,
              lastError === undefined ? { state, attempts } : { state, attempts, lastError },
            ]),
          ),
        })),
      };
    },
  );

  app.post(
    '/v1/admin/replay',
    {
      schema: {
        summary: 'Deliver again to one consumer every event from a sequence number or a time',
        tags,
        security: SECURED,
        body: ReplayBody,
        response: { 202: ReplayAccepted, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { consumer, fromSeq, fromTime } = request.body;
      const groups = await log.stats();
      if (!Object.hasOwn(groups, consumer))
        throw new ApiError('not_found', `no consumer ${consumer}`);
      if (fromSeq !== undefined) {
        await orUnavailable(log.replay(consumer, { seq: fromSeq }), 'the event log');
        return reply.code(202).send({ consumer, fromSeq });
      }
      const time = typeof fromTime === 'number' ? fromTime : Date.parse(fromTime ?? '');
      await orUnavailable(log.replay(consumer, { time }), 'the event log');
      return reply.code(202).send({ consumer, fromTime: iso(time) });
    },
  );

  app.post(
    '/v1/admin/sync/stock',
    {
      schema: {
        summary: 'Sync-in now: source-of-truth on-hand into the stock cache',
        tags,
        security: SECURED,
        response: { 200: SyncReportView, ...ERROR_RESPONSES },
      },
    },
    () => syncNow(ctx.sync.stock()),
  );

  app.post(
    '/v1/admin/sync/orders',
    {
      schema: {
        summary: 'Sync-out now: terminal orders into the source of truth',
        tags,
        security: SECURED,
        response: { 200: SyncReportView, ...ERROR_RESPONSES },
      },
    },
    () => syncNow(ctx.sync.orders()),
  );

  done();
};
