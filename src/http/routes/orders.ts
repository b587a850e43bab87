import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { TerminalError } from '../../domain/errors.js';
import type { KnownOrder, Order } from '../../domain/order.js';
import type { StoredResponse } from '../../ports/idempotency-store.js';
import { canSee, principalOf, type Principal } from '../auth.js';
import { orUnavailable } from '../errors.js';
import {
  CancelAccepted,
  ERROR_RESPONSES,
  OrderAccepted,
  OrderIdParams,
  OrderView,
  PlaceOrderBody,
  PlaceOrderHeaders,
  SECURED,
} from '../schemas.js';
import type { HttpDeps } from './deps.js';

export function locationOf(orderId: string): string {
  return `/v1/orders/${encodeURIComponent(orderId)}`;
}

/** The 202 of a placed order, also as stored for replays of its Idempotency-Key. */
function acceptedAnswer(order: Order): StoredResponse {
  const body: OrderAccepted = { orderId: order.orderId, status: 'PENDING', total: order.total };
  return { status: 202, body, headers: { location: locationOf(order.orderId) } };
}

/**
 * The order as a client sees it: no owner, IP or payment method. The same shape whether it
 * was read from the hot cache or, past the order retention, from the source of truth.
 */
export function orderView(order: KnownOrder): OrderView {
  return {
    orderId: order.orderId,
    status: order.status,
    customerId: order.customerId,
    email: order.email,
    items: order.items.map(({ sku, qty, unitPrice }) => ({ sku, qty, unitPrice })),
    total: order.total,
    history: order.history.map(({ status, at }) => ({ status, at })),
    ...(order.reason !== undefined && { reason: order.reason }),
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
  };
}

/** The order if it exists and the caller may see it; `404` alike for both, so ids do not leak. */
export function visibleOrder<T extends KnownOrder>(
  principal: Principal,
  order: T | undefined,
  orderId: string,
): T {
  if (!order || !canSee(principal, order.owner))
    throw new TerminalError('not_found', `no order ${orderId}`);
  return order;
}

export const orderRoutes: FastifyPluginCallbackZod<HttpDeps> = (app, { ctx, metrics }, done) => {
  app.post(
    '/v1/orders',
    {
      config: { scope: 'orders:write' },
      schema: {
        summary: 'Place an order',
        description:
          'Answers 202 at once; the order then moves on in the background (see /events).',
        tags: ['orders'],
        security: SECURED,
        body: PlaceOrderBody,
        headers: PlaceOrderHeaders,
        response: { 202: OrderAccepted, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { response, replayed } = await orUnavailable(
        ctx.orders.place({
          input: request.body,
          caller: { owner: principal.id, ip: request.ip },
          key: request.headers['idempotency-key'],
          answer: acceptedAnswer,
          onKeyNotFreed: (error) =>
            request.log.error({ err: error }, 'could not free an idempotency key'),
        }),
        'the order store',
      );
      // Only 202 answers are ever stored (a failed request frees its key instead).
      if (replayed) reply.header('idempotent-replayed', 'true');
      else metrics.ordersAccepted.inc();
      return reply
        .code(202)
        .headers(response.headers)
        .send(replayed ? OrderAccepted.parse(response.body) : (response.body as OrderAccepted));
    },
  );

  app.get(
    '/v1/orders/:id',
    {
      config: { scope: 'orders:read' },
      schema: {
        summary: 'An order, with its status history',
        description:
          'A finished order past the order retention (ORDERFLOW_ORDER_RETENTION) is answered from the ' +
          'source of truth, in the same shape; 503 with Retry-After while that is unreachable.',
        tags: ['orders'],
        security: SECURED,
        params: OrderIdParams,
        response: { 200: OrderView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { id } = request.params;
      return orderView(visibleOrder(principalOf(request), await ctx.orders.get(id), id));
    },
  );

  app.post(
    '/v1/orders/:id/cancel',
    {
      config: { scope: 'orders:write' },
      schema: {
        summary: 'Ask for a cancel',
        description:
          'Before payment the stock is released (CANCELLED); after it the payment is refunded (REFUNDED). ' +
          'An order past the order retention (ORDERFLOW_ORDER_RETENTION) is 409 not_cancellable.',
        tags: ['orders'],
        security: SECURED,
        params: OrderIdParams,
        response: { 202: CancelAccepted, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const current = visibleOrder(principalOf(request), await ctx.orders.get(id), id);
      const order = await orUnavailable(ctx.orders.cancel(current), 'the order store');
      if (!order) throw new TerminalError('not_found', `no order ${id}`);
      return reply.code(202).send({ orderId: order.orderId, status: order.status });
    },
  );

  done();
};
