import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { ReadyReport } from '../../runtime/context.js';
import { HealthView, ReadyView } from '../schemas.js';
import type { HttpDeps } from './deps.js';

/** Liveness, readiness and metrics: no key needed; the two probes are never rate limited. */
export const healthRoutes: FastifyPluginCallbackZod<HttpDeps> = (app, { ctx }, done) => {
  app.get(
    '/healthz',
    {
      config: { rateLimit: false },
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['operations'],
        response: { 200: HealthView },
      },
    },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { rateLimit: false },
      schema: {
        summary: 'Readiness: backends reachable and the process accepting work',
        tags: ['operations'],
        response: { 200: ReadyView, 503: ReadyView },
      },
    },
    async (request, reply) => {
      let report: ReadyReport;
      try {
        report = await ctx.ready();
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check failed');
        report = { ready: false, checks: {} };
      }
      const { checks, warnings, failures } = report;
      if (report.ready) return { ready: true, checks, warnings };
      const reasons = Object.entries(failures ?? {}).map(([check, why]) => `${check}: ${why}`);
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({
          ready: false,
          checks,
          warnings,
          failures,
          error: {
            code: 'service_unavailable' as const,
            message: reasons.length === 0 ? 'not ready' : `not ready: ${reasons.join('; ')}`,
          },
        });
    },
  );

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['operations'] } },
    async (_request, reply) => {
      const { contentType, text } = await ctx.renderMetrics();
      return reply.header('content-type', contentType).send(text);
    },
  );

  done();
};
