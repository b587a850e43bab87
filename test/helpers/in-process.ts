import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startOrderflow, type Running } from '../../src/cli/start.js';
import { loadConfig } from '../../src/runtime/config.js';
import type { ConsumerDefinition } from '../../src/workflow/define-consumer.js';
import {
  DEFAULT_API_KEYS_ENV,
  httpRequest,
  type HttpResponse,
  type RequestOptions,
} from './http.js';
import { waitFor } from './wait.js';

export interface InProcessService {
  readonly url: string;
  readonly dataDir: string;
  readonly running: Running;
  request<T = unknown>(
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<HttpResponse<T>>;
  /** Stops the service and removes its data directory. */
  close(): Promise<void>;
}

/**
 * orderflow in this test's process, on real SQLite files in a fresh directory and a real
 * socket: for tests that add consumers of their own, which a child process cannot take.
 */
export async function startInProcess(
  options: {
    env?: Record<string, string>;
    consumers?: ConsumerDefinition[];
    dataDir?: string;
  } = {},
): Promise<InProcessService> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'orderflow-inproc-')));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    ORDERFLOW_DATA_DIR: dataDir,
    ORDERFLOW_API_KEYS: DEFAULT_API_KEYS_ENV,
    ORDERFLOW_RATE_LIMIT: '0',
    ...options.env,
  });
  const running = await startOrderflow({
    config,
    consumers: options.consumers ?? [],
    logger: pino({ level: 'silent' }),
  });
  const url = running.url;
  if (!url) throw new Error('the service did not listen');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  return {
    url,
    dataDir,
    running,
    request: (method, path, requestOptions) =>
      httpRequest(agent, url, method, path, requestOptions),
    close: async () => {
      agent.destroy();
      await running.stop();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value other than undefined; bounded by `timeoutMs`. */
export function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  return waitFor(check, { timeoutMs, what, intervalMs: 50 });
}

/** Places one A123 order paid with the succeeding test card; its id, after a checked 202. */
export async function placeOrder(service: InProcessService): Promise<string> {
  const response = await service.request<{ orderId: string }>('POST', '/v1/orders', {
    body: {
      customerId: 'c1',
      email: 'c1@example.com',
      items: [{ sku: 'A123', qty: 1 }],
      paymentMethod: 'pm_card_visa',
    },
  });
  if (response.status !== 202) throw new Error(`placing an order answered ${response.status}`);
  return response.json.orderId;
}
