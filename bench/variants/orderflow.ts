import { KEYS, startOrderflow, type Child } from '../child.js';
import { startCluster } from '../cluster.js';
import { SseTracker } from '../load/sse.js';
import type { VariantName } from '../options.js';
import { clusterStorage, embeddedStorage } from './storage.js';
import {
  TERMINAL,
  type MemorySample,
  type Progress,
  type StorageSample,
  type Target,
} from './target.js';

const ADMIN = { authorization: `Bearer ${KEYS.admin}`, 'content-type': 'application/json' };

/** A 503 (a backend read past its timeout on a busy machine) is asked again this often. */
const UNAVAILABLE_RETRIES = 5;

async function admin(url: string, method: string, path: string, body?: unknown): Promise<unknown> {
  for (let attempt = 1; ; attempt += 1) {
    const answer = await adminOnce(url, method, path, body);
    if (answer.status !== 503 || attempt >= UNAVAILABLE_RETRIES) return answer.read();
    const retryAfterS = Number(answer.retryAfter ?? '1');
    await new Promise((resolve) => setTimeout(resolve, 1000 * (retryAfterS || 1)));
  }
}

async function adminOnce(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; retryAfter: string | null; read: () => Promise<unknown> }> {
  const response = await fetch(url + path, {
    method,
    headers: ADMIN,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    read: async () => {
      if (!response.ok)
        throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return response.json();
    },
  };
}

/** `orderflow_nodejs_heap_size_used_bytes` from a process's /metrics, if it answers. */
async function heapUsed(url: string): Promise<number | undefined> {
  try {
    const response = await fetch(url + '/metrics', {
      headers: ADMIN,
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    const value = /^\w*nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([\d.e+]+)$/m.exec(text)?.[1];
    return value === undefined ? undefined : Number(value);
  } catch {
    return undefined;
  }
}

async function memoryOf(processes: readonly Child[]): Promise<MemorySample> {
  const samples = await Promise.all(
    processes.map(async (child) => ({
      rss: (await child.rss())?.now ?? 0,
      heap: await heapUsed(child.url),
    })),
  );
  const heaps = samples.map((sample) => sample.heap).filter((heap) => heap !== undefined);
  return {
    rss: samples.reduce((sum, sample) => sum + sample.rss, 0),
    heapUsed: heaps.length === 0 ? undefined : heaps.reduce((sum, heap) => sum + heap, 0),
  };
}

function orderflowTarget(
  name: VariantName,
  api: Child,
  processes: readonly Child[],
  startMs: number,
  stop: () => Promise<void>,
  storage: () => Promise<StorageSample>,
): Target {
  const url = api.url;
  return {
    name,
    url,
    headers: { authorization: `Bearer ${KEYS.client}` },
    startMs,
    pipeline: true,
    setStock: async (sku, onHand) => {
      await admin(url, 'PUT', `/v1/admin/products/${sku}`, {
        name: sku,
        price: { amount: 1000, currency: 'USD' },
        onHand,
      });
    },
    stock: async (sku) => {
      const product = (await admin(url, 'GET', `/v1/admin/products/${sku}`)) as {
        available: number;
        reserved: number;
      };
      return { available: product.available, reserved: product.reserved };
    },
    progress: async (): Promise<Progress> => {
      const stats = (await admin(url, 'GET', '/v1/admin/stats')) as {
        orders: Record<string, number>;
        consumers: Record<string, { lag: number; inFlight: number }>;
        sync: { backlog: number };
      };
      let terminal = 0;
      let open = 0;
      for (const [status, count] of Object.entries(stats.orders)) {
        if (TERMINAL.includes(status)) terminal += count;
        else open += count;
      }
      const groups = Object.values(stats.consumers).map((group) => group.lag + group.inFlight);
      const behind = Math.max(stats.sync.backlog, ...groups);
      return { terminal, open, byStatus: stats.orders, behind };
    },
    completions: (via) =>
      new SseTracker(url, { authorization: `Bearer ${KEYS.client}` }, via === 'sse'),
    memory: () => memoryOf(processes),
    storage,
    stop,
  };
}

/** orderflow's embedded default: one process, SQLite, zero set-up (`env` added to its own). */
export async function startEmbedded(
  cpus: string | undefined,
  env: Record<string, string> = {},
): Promise<Target> {
  const child = await startOrderflow(env, cpus);
  const { dataDir } = child;
  return orderflowTarget(
    'embedded',
    child,
    [child],
    child.startMs,
    () => child.stop(),
    () => (dataDir === undefined ? Promise.resolve({}) : embeddedStorage(dataDir)),
  );
}

/**
 * orderflow on Redis + NATS JetStream + PostgreSQL: api, scheduler and `workers` workers;
 * its start time is the whole cluster's (fresh database and namespace included).
 */
export async function startDistributed(
  workers: 1 | 2,
  cpus: string | undefined,
  env: Record<string, string> = {},
): Promise<Target> {
  const started = performance.now();
  const cluster = await startCluster(workers, cpus, env);
  const startMs = performance.now() - started;
  const name = workers === 1 ? 'dist-1w' : 'dist-2w';
  return orderflowTarget(
    name,
    cluster.api,
    cluster.processes,
    startMs,
    () => cluster.stop(),
    () => clusterStorage(cluster.namespace, cluster.database),
  );
}
