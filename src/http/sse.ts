import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isArchived, type KnownOrder, type Order } from '../domain/order.js';
import { isTerminal } from '../domain/status.js';
import { principalOf } from './auth.js';
import { visibleOrder } from './routes/orders.js';
import { EVENT_STREAM_HEADERS, EVENT_STREAM_RESPONSES, OrderIdParams, SECURED } from './schemas.js';
import type { HttpDeps } from './routes/deps.js';
import { StreamSlots, takeSlots } from './stream-slots.js';

/** A comment line this often keeps proxies and idle timers from closing a quiet stream. */
export const HEARTBEAT_MS = 15_000;

/**
 * The stream ends here: a terminal status, except a COMPLETED order on its way to REFUNDED.
 * An archived order (past the order retention, read from the source of truth) never moves.
 */
export function isFinal(order: KnownOrder): boolean {
  if (isArchived(order)) return true;
  return (
    isTerminal(order.status) && !(order.status === 'COMPLETED' && order.cancelRequested === true)
  );
}

/** How a reconnecting client says what it has seen: an event's `id:`, a history index. */
const EventsHeaders = z.looseObject({
  'last-event-id': z
    .string()
    .optional()
    .describe(
      'The `id:` of the last event received: the stream resumes after it (an id that is not a history index is ignored)',
    ),
});

/** The history index after which a stream resumes; undefined for none (or one not an index). */
export function resumeAfter(lastEventId: string | undefined): number | undefined {
  const id = lastEventId?.trim();
  if (id === undefined || !/^\d{1,9}$/.test(id)) return undefined;
  return Number(id);
}

/**
 * `GET /v1/orders/{id}/events`: Server-Sent Events. First one `status` event per history
 * entry (`id:` its index), then one per change, until the order is final. A reconnect with
 * `Last-Event-ID` (what EventSource sends) gets only the entries after that index, then the
 * live changes; it ends at once if the order was final by then. Watching starts
 * before the order is read, so a change in between is not lost. Open streams are capped
 * per API key and per IP (in this process): each holds a socket and a watcher until its
 * order is final, and one client must not hold them all.
 */
export const orderEventsRoute: FastifyPluginCallbackZod<HttpDeps> = (app, { ctx }, done) => {
  const orders = ctx.orders;
  /** Open streams, ended when the app closes so that the server can stop. */
  const open = new Set<() => void>();
  const perKey = new StreamSlots(ctx.config.sseMaxPerKey, 'API key');
  const perIp = new StreamSlots(ctx.config.sseMaxPerIp, 'IP');

  app.addHook('preClose', (hookDone) => {
    for (const close of [...open]) close();
    hookDone();
  });

  app.get(
    '/v1/orders/:id/events',
    {
      config: { scope: 'orders:read' },
      schema: {
        summary: 'Status changes of an order as Server-Sent Events',
        description:
          'Each event is `event: status`, `id: <index in history>`, `data: {"status","at"}`. The history so far ' +
          'comes first, or with `Last-Event-ID` only what came after that id (a reconnect); the stream ends after ' +
          'a terminal status (a COMPLETED order with a cancel pending goes on ' +
          'until REFUNDED); an order past the order retention sends its history and ends. A comment line is sent every 15 s. Open streams are capped per API key and per IP ' +
          '(`429 too_many_streams` with Retry-After past the cap).',
        tags: ['orders'],
        security: SECURED,
        params: OrderIdParams,
        headers: EventsHeaders,
        response: EVENT_STREAM_RESPONSES,
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { id } = request.params;
      // Until the stream is open, changes are only remembered.
      let newest: Order | undefined;
      let onChange = (order: Order): void => {
        if (!newest || order.history.length > newest.history.length) newest = order;
      };
      const unsubscribe = orders.watch(id, (order) => onChange(order));
      let order: KnownOrder;
      let releaseSlots: () => void;
      try {
        order = visibleOrder(principal, await orders.get(id), id);
        releaseSlots = takeSlots(perKey, perIp, principal.id, request.ip);
      } catch (error) {
        unsubscribe();
        throw error;
      }
      if (newest && newest.history.length > order.history.length) order = newest;

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, EVENT_STREAM_HEADERS);

      // A reconnect resumes after what it saw (never past what exists: a bogus id resends nothing).
      const after = resumeAfter(request.headers['last-event-id']);
      let sent = after === undefined ? 0 : Math.min(after + 1, order.history.length);
      let closed = false;
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      const close = (): void => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        releaseSlots();
        open.delete(close);
        if (!res.writableEnded) res.end();
      };
      const push = (current: KnownOrder): void => {
        if (closed || current.history.length < sent) return;
        const { history } = current;
        for (; sent < history.length; sent++) {
          const entry = history[sent];
          if (entry)
            res.write(
              `event: status\nid: ${sent}\ndata: ${JSON.stringify({ status: entry.status, at: entry.at })}\n\n`,
            );
        }
        if (isFinal(current)) close();
      };

      open.add(close);
      res.on('close', close);
      res.on('error', close);
      onChange = push;
      push(order);
      return reply;
    },
  );

  done();
};
