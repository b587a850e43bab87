import fastifyHelmet from '@fastify/helmet';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { RetryableError, TerminalError } from '../domain/errors.js';
import type { ServiceContext } from '../runtime/context.js';
import {
  ANONYMOUS,
  createAuthenticator,
  requireAdmin,
  requireDeclaredScopes,
  requireRouteScope,
} from './auth.js';
import { forwardedFor, trustProxyOption } from './client-ip.js';
import { clientErrorHandler, errorBody, sendError } from './errors.js';
import { httpMetrics } from './metrics.js';
import { HELMET_OPTIONS, MAX_JSON_DEPTH, nestsDeeperThan, swaggerCsp } from './hardening.js';
import { installLoadShedding } from './load-shedding.js';
import { installRateLimits } from './rate-limit.js';
import { adminRoutes } from './routes/admin.js';
import type { HttpDeps } from './routes/deps.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { healthRoutes } from './routes/health.js';
import { keyRoutes } from './routes/keys.js';
import { orderRoutes } from './routes/orders.js';
import { productRoutes } from './routes/products.js';
import { webhookRoutes } from './routes/webhooks.js';
import { SECURITY_SCHEMES } from './schemas.js';
import { orderEventsRoute } from './sse.js';
import { inRequestContext, installTracing } from './tracing.js';
import { validatorCompiler } from './validation.js';

/** Bodies above this are refused with `413 payload_too_large`. */
export const BODY_LIMIT = 1_048_576;
/** A request (headers, and body) not complete within this gets `408` and its connection closed. */
export const REQUEST_TIMEOUT_MS = 30_000;
/**
 * How often Node checks for requests past their timeout. Node's default (30 s) would let a
 * slow client hold a connection for up to 60 s; with 1 s the 408 comes within 31 s.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

type ZodApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface AppOptions {
  /** Overrides `REQUEST_TIMEOUT_MS` (tests of the 408). */
  readonly requestTimeoutMs?: number;
  /**
   * `ops`: only `/healthz`, `/readyz` and `/metrics`, for processes that run workers or
   * schedules but serve no API (ORDERFLOW_ROLE `worker` or `scheduler`).
   */
  readonly routes?: 'all' | 'ops';
}

/**
 * The HTTP API, assembled and not listening: the caller listens (and may add hooks first).
 *
 * Hook order of an authenticated route: security headers → the end user's IP (a trusted
 * proxy header) → shutdown and load shedding (503) → IP rate limit → (ORDERFLOW_PROTECT_OPS)
 * the ops routes' admin check → authentication → key rate limit → the route's scope →
 * content type and body size → JSON parse (depth ≤ 32) → schema validation → handler.
 * Nothing before the handler writes anything.
 */
export async function buildApp(
  ctx: ServiceContext,
  options: AppOptions = {},
): Promise<FastifyInstance> {
  const requestTimeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const logger: FastifyBaseLogger = ctx.logger;
  const app = Fastify({
    loggerInstance: logger,
    // fastify's two lines per request cost more than the request: `installTracing` logs one.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Node's own timers: `requestTimeout` and `headersTimeout` start when the request does;
    // the checker runs every TIMEOUT_CHECK_INTERVAL_MS; the client gets 408 and is closed
    // (by `clientErrorHandler`). A socket idle timeout (`connectionTimeout`) stays off: it
    // would cut long admin syncs, and idle keep-alive sockets have `keepAliveTimeout`.
    requestTimeout,
    http: {
      headersTimeout: requestTimeout,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    // `request.ip` is the end user's only behind a configured trusted header (client-ip.ts).
    trustProxy: trustProxyOption(ctx.config.trustedProxyHeader, ctx.config.trustProxy),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    clientErrorHandler,
    // Our own 503 while closing (below), in the API's error shape.
    return503OnClosing: false,
  }).withTypeProvider<ZodTypeProvider>();
  // First: every hook after it and every route runs in the request's span.
  installTracing(app);
  // Second: the security headers are on every answer, refusals by the hooks below included.
  await app.register(fastifyHelmet, HELMET_OPTIONS);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installJsonParser(app);
  app.setErrorHandler((error, request, reply) =>
    inRequestContext(request, () => sendError(request, reply, error)),
  );
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`),
      ),
  );

  const { trustedProxyHeader } = ctx.config;
  if (trustedProxyHeader !== undefined) {
    // First of all hooks: everything after it (rate limits, routes) reads the same `request.ip`.
    app.addHook('onRequest', (request, _reply, done) => {
      forwardedFor(trustedProxyHeader, request.raw.headers);
      done();
    });
  }

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    reply.header('connection', 'close');
    done(new RetryableError('service_unavailable', 'the service is shutting down', 1000));
  });

  const metrics = httpMetrics(ctx.metrics);
  app.addHook('onResponse', (request, reply, done) => {
    metrics.requestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
      },
      reply.elapsedTime / 1000,
    );
    done();
  });

  await installLoadShedding(app, ctx.config.shedding);
  // The IP limit as a hook of its own here; the key limit after authentication (below).
  const keyLimit = await installRateLimits(app, {
    ratePerSecond: ctx.config.rateLimit,
    counter: ctx.rateCounts,
    logger,
    now: () => ctx.clock.now(),
  });
  const authenticate = createAuthenticator(ctx.keys);
  if (ctx.config.protectOps) {
    app.addHook('onRequest', async (request) => {
      const route = request.routeOptions.url ?? '';
      if (route !== '/metrics' && route !== '/docs' && !route.startsWith('/docs/')) return;
      request.principal = await authenticate(request);
      requireAdmin(request);
    });
  }

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'orderflow',
        version: '1.0.0',
        description:
          'Event-driven order processing: 202 in milliseconds, then reservation, payment, fulfilment or ' +
          'compensation in the background. Errors are {"error":{"code","message","details"?}}.',
      },
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformStaticCSP: swaggerCsp,
  });

  const deps: HttpDeps = { ctx, metrics };
  await app.register(healthRoutes, deps);
  if (options.routes === 'ops') return app;

  // Outside /v1's key check: the provider authenticates by signature (IP limit still applies).
  await app.register(webhookRoutes, deps);
  // Outside /v1 too: a page, its login, and a stream opened by the login's cookie.
  await app.register(dashboardRoutes, deps);

  app.decorateRequest('principal', null);
  await app.register((v1, _options, done) => {
    requireDeclaredScopes(v1);
    v1.addHook('onRequest', async (request) => {
      request.principal = await authenticate(request);
    });
    if (keyLimit) {
      v1.addHook('onRequest', async (request) => {
        if (request.principal !== null && request.principal !== ANONYMOUS) await keyLimit(request);
      });
    }
    // After the key limit: the one check of every /v1 route's declared scope.
    v1.addHook('onRequest', (request, _reply, hookDone) => {
      try {
        requireRouteScope(request);
      } catch (error) {
        return hookDone(error as Error);
      }
      hookDone();
    });
    void v1.register(orderRoutes, deps);
    void v1.register(orderEventsRoute, deps);
    void v1.register(productRoutes, deps);
    void v1.register(adminRoutes, deps);
    void v1.register(keyRoutes, deps);
    done();
  });

  return app;
}

/**
 * JSON only: fastify's parser (which refuses `__proto__` and `constructor.prototype` keys),
 * with an empty body read as no body, and no text/plain parser, so any other type is 415.
 */
function installJsonParser(app: ZodApp): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(null, undefined);
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      return done(
        new TerminalError(
          'validation_error',
          `the body nests deeper than ${MAX_JSON_DEPTH} levels`,
        ),
      );
    }
    void parse(request, text, (error, value: unknown) => {
      if (error && isPlainJson(text)) {
        return done(
          new TerminalError(
            'validation_error',
            'the body has a __proto__ or constructor.prototype key',
          ),
        );
      }
      done(error, value);
    });
  });
}

function isPlainJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
