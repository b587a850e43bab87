import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from '../http/app.js';
import { isLoopback, loadConfig, type Config } from '../runtime/config.js';
import { createLogger } from '../runtime/logger.js';
import { Service } from '../runtime/service.js';
import { PipelineProcess } from './pipeline-process.js';
import { answerMetricsRequests } from './pipeline-metrics.js';
import { backendSummary } from '../runtime/backend-summary.js';
import type { ConsumerDefinition } from '../workflow/define-consumer.js';

export interface StartOptions {
  /** Defaults to the environment. */
  readonly config?: Config;
  readonly consumers?: readonly ConsumerDefinition[];
  readonly logger?: Logger;
  /**
   * How to start the embedded default's pipeline process (`ORDERFLOW_PIPELINE=process`): the
   * CLI entry and the arguments it passes on (the consumer modules). Without it the
   * pipeline runs in this process.
   */
  readonly pipeline?: { readonly entry: string; readonly args: readonly string[] };
  /** False in the pipeline process itself: no HTTP, no demo catalog (the API process has them). */
  readonly serve?: boolean;
}

/** A running orderflow: its address (the API, or only health and metrics) and how to stop it. */
export interface Running {
  readonly url: string | undefined;
  readonly service: Service;
  stop(): Promise<void>;
}

/** Starts orderflow in this process, with what its role runs. */
export async function startOrderflow(options: StartOptions = {}): Promise<Running> {
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? createLogger('orderflow');
  if (!config.apiKeys) {
    logger.warn(
      `ORDERFLOW_API_KEYS is unset: no authentication (allowed on the loopback bind ${config.host} only)`,
    );
  }
  if (!isLoopback(config.host) && !config.apiKeys)
    throw new Error('refusing to serve without API keys');
  const serve = options.serve ?? true;
  const embedded = config.redisUrl === undefined;
  const split =
    serve && embedded && config.role === 'all' && config.pipeline === 'process' && options.pipeline;
  const own: Config = split ? { ...config, role: 'api' } : config;
  const pipeline = split
    ? new PipelineProcess(options.pipeline.entry, options.pipeline.args, logger)
    : undefined;
  const service = await Service.open({
    config: own,
    logger,
    consumers: options.consumers ?? [],
    // The API's /metrics shows what the pipeline counts; the store gauges are read here only.
    metricPeers: pipeline ? [{ name: 'pipeline', read: () => pipeline.metrics() }] : [],
    storeMetrics: serve,
  });
  // The pipeline process answers its parent's requests for its metrics.
  const stopAnswering = serve ? () => undefined : answerMetricsRequests(service.ctx.metrics);
  let app: FastifyInstance | undefined;
  let url: string | undefined;
  try {
    if (serve) {
      const servesApi = own.role === 'all' || own.role === 'api';
      app = await buildApp(service.ctx, { routes: servesApi ? 'all' : 'ops' });
      url = await app.listen({ port: config.port, host: config.host });
    }
    await service.start({ seed: serve });
    pipeline?.start();
  } catch (error) {
    stopAnswering();
    await app?.close();
    await pipeline?.stop();
    await service.stop();
    throw error;
  }
  logger.info(
    { url, role: config.role, pipeline: split ? 'process' : 'inline', ...backendSummary(config) },
    serve ? 'orderflow ready' : 'orderflow pipeline ready',
  );
  return {
    url,
    service,
    stop: async () => {
      stopAnswering();
      await app?.close();
      await pipeline?.stop();
      await service.stop();
    },
  };
}
