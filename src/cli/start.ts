import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp } from '../http/app.js';
import { isLoopback, loadConfig, type Config } from '../runtime/config.js';
import { Service } from '../runtime/service.js';
import type { ConsumerDefinition } from '../workflow/define-consumer.js';

export interface StartOptions {
  /** Defaults to the environment. */
  readonly config?: Config;
  readonly consumers?: readonly ConsumerDefinition[];
  readonly logger?: Logger;
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
  const logger =
    options.logger ?? pino({ name: 'orderflow', level: process.env['LOG_LEVEL'] ?? 'info' });
  if (!config.apiKeys) {
    logger.warn(
      `ORDERFLOW_API_KEYS is unset: no authentication (allowed on the loopback bind ${config.host} only)`,
    );
  }
  if (!isLoopback(config.host) && !config.apiKeys)
    throw new Error('refusing to serve without API keys');
  const service = await Service.open({ config, logger, consumers: options.consumers ?? [] });
  let app: FastifyInstance | undefined;
  let url: string | undefined;
  try {
    const servesApi = config.role === 'all' || config.role === 'api';
    app = await buildApp(service.ctx, { routes: servesApi ? 'all' : 'ops' });
    url = await app.listen({ port: config.port, host: config.host });
    await service.start();
  } catch (error) {
    await app?.close();
    await service.stop();
    throw error;
  }
  logger.info({ url, role: config.role, dataDir: config.dataDir }, 'orderflow ready');
  return {
    url,
    service,
    stop: async () => {
      await app?.close();
      await service.stop();
    },
  };
}
