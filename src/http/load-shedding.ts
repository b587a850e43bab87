import fastifyUnderPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { RetryableError } from '../domain/errors.js';
import type { SheddingConfig } from '../runtime/config-hardening.js';

/** How long a shed caller is told to wait. */
const RETRY_AFTER_MS = 2_000;
/**
 * Answered even under pressure: liveness (a busy process is alive; restarting it would lose
 * its work), readiness (its own report, in its own shape: a shed 503 there would not match
 * the route's schema) and the metrics that show the overload.
 */
const NEVER_SHED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Load shedding: while the event loop lags (or its utilization or the heap is over its
 * threshold) a request gets `503 service_unavailable` + `Retry-After` before any work is
 * done for it, so an overloaded process recovers instead of queueing ever more.
 */
export async function installLoadShedding(
  app: FastifyInstance,
  thresholds: SheddingConfig,
): Promise<void> {
  const { maxEventLoopDelayMs, maxEventLoopUtilization, maxHeapUsedBytes } = thresholds;
  if (maxEventLoopDelayMs === 0 && maxEventLoopUtilization === 0 && maxHeapUsedBytes === 0) return;
  await app.register(fastifyUnderPressure, {
    maxEventLoopDelay: maxEventLoopDelayMs,
    maxEventLoopUtilization,
    maxHeapUsedBytes,
    pressureHandler: (request, _reply, type) => {
      if (NEVER_SHED.has(request.routeOptions.url ?? '')) return;
      return Promise.reject(
        new RetryableError(
          'service_unavailable',
          `the service is overloaded (${type}); retry shortly`,
          RETRY_AFTER_MS,
        ),
      );
    },
  });
}
