import fastifyRateLimit, {
  normalizeIP,
  type FastifyRateLimitStore,
  type RateLimitPluginOptions,
} from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { RetryableError } from '../domain/errors.js';
import type { RateCounter } from '../ports/rate-counter.js';

/**
 * ORDERFLOW_RATE_LIMIT=N: a bucket of 2N requests per key (and per IP) that drains at 2N
 * per 2 seconds, N/s, so bursts reach 2N and then the rate (the plugin's `max` per
 * `timeWindow`, read as a bucket by the counter, not as fixed windows).
 */
export const RATE_WINDOW_MS = 2_000;
/** A store that fails is said so in the log at most this often (the requests pass meanwhile). */
const STORE_FAILURE_LOG_MS = 10_000;
/** Keys remembered as refused in this process; beyond it the memory starts again. */
const MAX_REFUSED = 10_000;

export interface RateLimitOptions {
  /** Requests per second per key and per IP; 0 = no limits. */
  readonly ratePerSecond: number;
  readonly counter: RateCounter;
  readonly logger: FastifyBaseLogger;
  readonly now: () => number;
}

/** The per-key limit, for the authenticated routes once `request.principal` is set. */
export type KeyLimit = (request: FastifyRequest) => Promise<void>;

/** The answer to a caller over its rate: `429 rate_limited` with `Retry-After`. */
export function rateLimited(retryAfterMs: number): RetryableError {
  return new RetryableError('rate_limited', 'too many requests; slow down', retryAfterMs);
}

/**
 * @fastify/rate-limit on the shared counts: per IP on every route, unknown ones included, as
 * an `onRequest` hook added where this is called (the health probes opt out with
 * `config.rateLimit: false`), and per API key through the returned `KeyLimit`. Counts
 * live in `counter` (Redis when scaled out: the limit holds across processes). When the
 * counter fails the limits fail open: requests pass, and the log says so.
 */
export async function installRateLimits(
  app: FastifyInstance,
  options: RateLimitOptions,
): Promise<KeyLimit | undefined> {
  if (options.ratePerSecond <= 0) return undefined;
  const store = new CounterStore(options);
  const settings: RateLimitPluginOptions = {
    // Not as route hooks (those run after /v1's authentication): as one hook added here.
    global: false,
    max: options.ratePerSecond * 2,
    timeWindow: RATE_WINDOW_MS,
    keyGenerator: (request) => `ip:${normalizeIP(request.ip)}`,
    store: class {
      constructor() {
        return store;
      }
    } as unknown as RateLimitPluginOptions['store'],
    skipOnError: true,
    errorResponseBuilder: (_request, context) => rateLimited(context.ttl),
  };
  await app.register(fastifyRateLimit, settings);
  const byIp = app.rateLimit();
  app.addHook('onRequest', async function ipLimit(request, reply) {
    if (request.routeOptions.config.rateLimit === false) return;
    await byIp.call(this, request, reply);
  });
  // A second limiter on the same store; `createRateLimit` answers, the caller refuses.
  const byKey = app.createRateLimit({
    keyGenerator: (request) => `key:${request.principal?.id ?? 'anonymous'}`,
  });
  return async (request) => {
    const result = await byKey(request);
    if (!result.isAllowed && result.isExceeded) throw rateLimited(result.ttl);
  };
}

/**
 * The plugin's store over a RateCounter. A key found over its limit is refused from memory
 * until one request fits again, so a flood costs the shared store about one round trip per
 * key and refill in each process, not one per request.
 */
class CounterStore implements FastifyRateLimitStore {
  private readonly refusedUntil = new Map<string, number>();
  private lastFailureLogAt = -Infinity;

  constructor(private readonly options: RateLimitOptions) {}

  incr(
    key: string,
    callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
    timeWindow: number,
    max: number,
  ): void {
    const now = this.options.now();
    const until = this.refusedUntil.get(key);
    if (until !== undefined && until > now) {
      callback(null, { current: max + 1, ttl: until - now });
      return;
    }
    if (until !== undefined) this.refusedUntil.delete(key);
    this.options.counter.hit(key, timeWindow, max).then(
      ({ count, resetMs }) => {
        if (count > max) {
          if (this.refusedUntil.size >= MAX_REFUSED) this.refusedUntil.clear();
          this.refusedUntil.set(key, now + resetMs);
        }
        callback(null, { current: count, ttl: resetMs });
      },
      (error: unknown) => {
        this.logFailure(error, now);
        callback(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  child(): FastifyRateLimitStore {
    return this;
  }

  private logFailure(error: unknown, now: number): void {
    if (now - this.lastFailureLogAt < STORE_FAILURE_LOG_MS) return;
    this.lastFailureLogAt = now;
    this.options.logger.warn(
      { err: error },
      'rate limit counts unavailable: requests pass unlimited until the store answers (fail open)',
    );
  }
}
