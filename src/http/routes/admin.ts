import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { LogEvent } from '../../ports/event-log.js';
import { orUnavailable } from '../errors.js';
import {
  AdminProductView,
  DeadLetterIdParams,
  DeadLetterListQuery,
  DeadLettersView,
  DiscardDone,
  DLQ_PAGE,
  ERROR_RESPONSES,
  ORDER_PAGE,
  OrderIdParams,
  OrderListQuery,
  OrderListView,
  PutProductBody,
  RedriveAccepted,
  ReplayAccepted,
  ReplayBody,
  ReplayJobParams,
  ReplayJobView,
  SECURED,
  SkuParams,
  StatsView,
  SyncReportView,
  TimelineView,
  isoTime,
} from '../schemas.js';
import type { HttpDeps } from './deps.js';
import { formatDuration } from '../../runtime/config-values.js';

function eventView(event: LogEvent): DeadLettersView['deadLetters'][number]['event'] {
  return {
    seq: event.seq,
    id: event.id,
    type: event.type,
    key: event.key,
    at: isoTime(event.at),
    data: event.data,
  };
}

export const adminRoutes: FastifyPluginCallbackZod<HttpDeps> = (app, { ctx }, done) => {
  const { admin, catalog } = ctx;
  const tags = ['admin'];

  app.put(
    '/v1/admin/products/:sku',
    {
      config: { scope: 'admin:write' },
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
      return orUnavailable(catalog.putProduct({ sku, name, price, onHand }), 'the source of truth');
    },
  );

  app.get(
    '/v1/admin/products/:sku',
    {
      config: { scope: 'admin:read' },
      schema: {
        summary:
          'A product as the source of truth (onHand) and the stock cache (available, reserved) have it',
        tags,
        security: SECURED,
        params: SkuParams,
        response: { 200: AdminProductView, ...ERROR_RESPONSES },
      },
    },
    (request) => catalog.adminProduct(request.params.sku),
  );

  app.get(
    '/v1/admin/dlq',
    {
      config: { scope: 'admin:read' },
      schema: {
        summary:
          'Dead letters oldest first, of one consumer or all, filtered by their last error, a page at a time',
        tags,
        security: SECURED,
        querystring: DeadLetterListQuery,
        response: { 200: DeadLettersView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { consumer, error, cursor, limit = DLQ_PAGE.default } = request.query;
      const { items, nextCursor } = await orUnavailable(
        admin.deadLetters({ consumer, error, cursor, limit }),
        'the event log',
      );
      return {
        deadLetters: items.map((letter) => ({
          id: letter.id,
          consumer: letter.group,
          event: eventView(letter.event),
          attempts: letter.attempts,
          lastError: letter.lastError,
          at: isoTime(letter.at),
        })),
        nextCursor,
      };
    },
  );

  app.get(
    '/v1/admin/orders',
    {
      config: { scope: 'admin:read' },
      schema: {
        summary:
          'Orders by current status (all without one), newest first, a page at a time: to find stuck ones',
        tags,
        security: SECURED,
        querystring: OrderListQuery,
        response: { 200: OrderListView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { status, cursor, limit = ORDER_PAGE.default } = request.query;
      const { items, nextCursor } = await orUnavailable(
        admin.orders({ status, cursor, limit }),
        'the order cache',
      );
      return {
        orders: items.map(({ orderId, status, customerId, total, createdAt, updatedAt }) => ({
          orderId,
          status,
          customerId,
          total,
          createdAt,
          updatedAt,
        })),
        nextCursor,
      };
    },
  );

  app.post(
    '/v1/admin/dlq/:id/redrive',
    {
      config: { scope: 'admin:write' },
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
      await orUnavailable(admin.redrive(id), 'the event log');
      return reply.code(202).send({ id, redriven: true as const });
    },
  );

  app.delete(
    '/v1/admin/dlq/:id',
    {
      config: { scope: 'admin:write' },
      schema: {
        summary: 'Discard a dead letter for good (its event stays in the log)',
        tags,
        security: SECURED,
        params: DeadLetterIdParams,
        response: { 200: DiscardDone, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { id } = request.params;
      await orUnavailable(admin.discard(id), 'the event log');
      return { id, discarded: true as const };
    },
  );

  app.get(
    '/v1/admin/stats',
    {
      config: { scope: 'admin:read' },
      schema: {
        summary: 'Orders by current status, consumer lag, sync backlog',
        tags,
        security: SECURED,
        response: { 200: StatsView, ...ERROR_RESPONSES },
      },
    },
    async () => {
      const { orders, consumers, sync } = await admin.stats();
      const groups: Record<string, { lag: number; inFlight: number; dlq: number }> = {};
      for (const [group, { lag, inFlight, dlq }] of Object.entries(consumers))
        groups[group] = { lag, inFlight, dlq };
      return { orders, consumers: groups, sync };
    },
  );

  app.get(
    '/v1/admin/orders/:id/timeline',
    {
      config: { scope: 'admin:read' },
      schema: {
        summary: "Every event of an order from the log, in order, with each consumer's outcome",
        description:
          'The log keeps events for ORDERFLOW_LOG_RETENTION: an older order answers `complete: false` ' +
          'with a note, and with `events: []` once none is left; 404 only for an order nobody knows.',
        tags,
        security: SECURED,
        params: OrderIdParams,
        response: { 200: TimelineView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { id } = request.params;
      const logRetentionMs = ctx.config.retention.logMs;
      const { events, complete } = await admin.timeline(id, logRetentionMs);
      const logRetention = formatDuration(logRetentionMs);
      return {
        orderId: id,
        logRetention,
        complete,
        ...(!complete && {
          note: `events older than the log retention (${logRetention}) have been removed from the log`,
        }),
        events: events.map(({ event, outcomes }) => ({
          seq: event.seq,
          id: event.id,
          type: event.type,
          at: isoTime(event.at),
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
      config: { scope: 'admin:write' },
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
      if (fromSeq !== undefined) {
        const job = await orUnavailable(admin.replay(consumer, { seq: fromSeq }), 'the event log');
        const { jobId, from, through } = job;
        return reply.code(202).send({ jobId, consumer, fromSeq, from, through });
      }
      const time = typeof fromTime === 'number' ? fromTime : Date.parse(fromTime ?? '');
      const job = await orUnavailable(admin.replay(consumer, { time }), 'the event log');
      const { jobId, from, through } = job;
      return reply.code(202).send({ jobId, consumer, fromTime: isoTime(time), from, through });
    },
  );

  app.get(
    '/v1/admin/replay/:jobId',
    {
      config: { scope: 'admin:read' },
      schema: {
        summary:
          "A replay's progress: how far its consumer has got through the range, from the log (any process answers)",
        tags,
        security: SECURED,
        params: ReplayJobParams,
        response: { 200: ReplayJobView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const progress = await orUnavailable(
        admin.replayProgress(request.params.jobId),
        'the event log',
      );
      const { jobId, consumer, from, through, delivered, total, done } = progress;
      return { jobId, consumer, from, through, delivered, total, done };
    },
  );

  app.post(
    '/v1/admin/sync/stock',
    {
      config: { scope: 'admin:write' },
      schema: {
        summary: 'Sync-in now: source-of-truth on-hand into the stock cache',
        tags,
        security: SECURED,
        response: { 200: SyncReportView, ...ERROR_RESPONSES },
      },
    },
    () => orUnavailable(admin.syncStock(), 'the source of truth'),
  );

  app.post(
    '/v1/admin/sync/orders',
    {
      config: { scope: 'admin:write' },
      schema: {
        summary: 'Sync-out now: terminal orders into the source of truth',
        tags,
        security: SECURED,
        response: { 200: SyncReportView, ...ERROR_RESPONSES },
      },
    },
    () => orUnavailable(admin.syncOrders(), 'the source of truth'),
  );

  done();
};
