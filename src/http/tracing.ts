import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { withLogFields } from '../runtime/logger.js';
import { tracer } from '../workflow/tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's trace context (its SERVER span), from its first hook on; null before. */
    traceContext: Context | null;
  }
}

/** Probes and scrapes: their request lines are logged at debug. */
const QUIET_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * A SERVER span per request, continuing the caller's `traceparent` if it sent one, and one
 * log line per request (method, route, status, duration; the order it was about). The route
 * handler runs inside the span's context, so the events it appends carry the trace on and
 * what it logs carries the trace id. The handler is wrapped when the route is added (the
 * active context does not survive fastify's body parsing on its own). Attributes are the
 * method, the route template, the path without its query and the status: no header, no
 * body. Call before any other hook and before the routes are registered.
 */
export function installTracing(app: FastifyInstance): void {
  app.decorateRequest('traceContext', null);

  app.addHook('onRoute', (route) => {
    const handler = route.handler as RouteHandlerMethod;
    const traced: RouteHandlerMethod = function (this: FastifyInstance, request, reply) {
      const active = request.traceContext;
      return active === null
        ? handler.call(this, request, reply)
        : context.with(active, handler, this, request, reply);
    };
    route.handler = traced;
  });

  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    const parent =
      request.headers.traceparent === undefined
        ? ROOT_CONTEXT
        : propagation.extract(ROOT_CONTEXT, request.headers);
    const attributes: Attributes = {
      'http.request.method': request.method,
      'url.path': pathOf(request.url),
    };
    if (route !== undefined) attributes['http.route'] = route;
    const span = tracer.startSpan(
      route === undefined ? request.method : `${request.method} ${route}`,
      { kind: SpanKind.SERVER, attributes },
      parent,
    );
    const orderId = orderIdOfRoute(request);
    if (orderId !== undefined) span.setAttribute('orderflow.order_id', orderId);
    const active = trace.setSpan(parent, span);
    request.traceContext = orderId === undefined ? active : withLogFields(active, { orderId });
    done();
  });

  app.addHook('onResponse', (request, reply, done) => {
    const active = request.traceContext;
    const span = active === null ? undefined : trace.getSpan(active);
    const route = request.routeOptions.url;
    const statusCode = reply.statusCode;
    const created = orderIdOfRoute(request) === undefined ? createdOrderId(reply) : undefined;
    if (span !== undefined) {
      span.setAttribute('http.response.status_code', statusCode);
      if (created !== undefined) span.setAttribute('orderflow.order_id', created);
      if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    const level = route !== undefined && QUIET_ROUTES.has(route) ? 'debug' : 'info';
    const line = {
      method: request.method,
      route: route ?? 'unmatched',
      statusCode,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      ...(created === undefined ? {} : { orderId: created }),
    };
    inRequestContext(request, () => request.log[level](line, 'request'));
    done();
  });
}

/** Runs `work` in the request's trace context (an error handler: its lines carry the trace). */
export function inRequestContext<T>(request: FastifyRequest, work: () => T): T {
  const active = request.traceContext;
  return active === null ? work() : context.with(active, work);
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** The order a request is about: the `:id` of an orders route. */
function orderIdOfRoute(request: FastifyRequest): string | undefined {
  if (request.routeOptions.url?.includes('/orders/:id') !== true) return undefined;
  const { id } = request.params as { id?: unknown };
  return typeof id === 'string' ? id : undefined;
}

/** The order a request created: the one its `Location` names (`/v1/orders/{id}`). */
function createdOrderId(reply: FastifyReply): string | undefined {
  const location = reply.getHeader('location');
  if (typeof location !== 'string' || !location.startsWith('/v1/orders/')) return undefined;
  try {
    return decodeURIComponent(location.slice('/v1/orders/'.length));
  } catch {
    return undefined;
  }
}
