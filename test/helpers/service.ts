import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  isTerminal,
  type AcceptedOrder,
  type AdminProductView,
  type Money,
  type OrderInput,
  type OrderView,
  type ProductView,
  type StatsView,
} from './api.js';
import {
  DEFAULT_API_KEYS_ENV,
  httpRequest,
  type HttpResponse,
  type KeyChoice,
  type RequestOptions,
} from './http.js';
import { mapLimit, sleep, waitFor } from './wait.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built CLI; `npm run build` makes it. ORDERFLOW_E2E_ENTRY may point elsewhere. */
export const ENTRY =
  process.env.ORDERFLOW_E2E_ENTRY ?? path.join(REPO_ROOT, 'dist/src/cli/main.js');

export type Env = Record<string, string | undefined>;

export interface StartOptions {
  /** Added to (or, with `undefined`, removed from) the service's environment. */
  readonly env?: Env;
  /** Reuse a data dir (default: a fresh temp dir, removed by `stopAllServices`). */
  readonly dataDir?: string;
  readonly port?: number;
  readonly readyTimeoutMs?: number;
  /** Passed to `orderflow start` (`--consumer <module>`). */
  readonly args?: readonly string[];
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A port free right now on 127.0.0.1: listen on 0, read it, close. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const live = new Set<Service>();
const tempDirs = new Set<string>();

/**
 * Kills the service if this test process dies without cleaning up (even by SIGKILL): it
 * holds a pipe from us, and the pipe closes when we go. It leaves when the service does.
 */
const WATCHDOG = `
const pid = Number(process.argv[1]);
const kill = () => { try { process.kill(pid, 'SIGKILL'); } catch {} process.exit(0); };
process.stdin.on('end', kill); process.stdin.on('error', kill); process.stdin.resume();
setInterval(() => { try { process.kill(pid, 0); } catch { process.exit(0); } }, 500);
`;

process.once('exit', () => {
  for (const service of live) service.killNow();
});

/** Environment of the test runner minus anything that would pick the service's backends or port. */
function baseEnv(): Env {
  const env: Env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('ORDERFLOW_') || name === 'PORT' || name === 'HOST') continue;
    env[name] = value;
  }
  return env;
}

/** One orderflow process (`node dist/src/cli/main.js start`) on a real socket. */
export class Service {
  readonly url: string;
  private child: ChildProcess | undefined;
  private watchdog: ChildProcess | undefined;
  private exited: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  private agent = Service.newAgent();
  private readonly output: string[] = [];
  private env: Env;

  constructor(
    readonly port: number,
    readonly dataDir: string,
    env: Env,
    private readonly readyTimeoutMs: number,
    private readonly args: readonly string[] = [],
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.env = env;
  }

  private static newAgent(): http.Agent {
    return new http.Agent({ keepAlive: true, maxSockets: 1024 });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** Spawns the process and waits until `GET /readyz` answers 200. */
  async start(): Promise<void> {
    if (this.running) throw new Error('service already running');
    if (!fs.existsSync(ENTRY))
      throw new Error(`${ENTRY} does not exist: run \`npm run build\` first`);
    const env = { ...baseEnv(), ...this.env };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    this.output.push(`--- start ${new Date().toISOString()} ---`);
    const child = spawn(process.execPath, [ENTRY, 'start', ...this.args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        this.output.push(`--- exit code=${code} signal=${signal} ---`);
        live.delete(this);
        resolve({ code, signal });
      });
    });
    const capture = (chunk: Buffer): void => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 20_000) this.output.splice(0, 10_000);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    live.add(this);
    if (child.pid !== undefined) this.startWatchdog(child.pid);
    await this.waitReady();
  }

  private startWatchdog(pid: number): void {
    const watchdog = spawn(process.execPath, ['-e', WATCHDOG, String(pid)], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.unref();
    (watchdog.stdin as unknown as net.Socket | null)?.unref();
    this.watchdog = watchdog;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    for (;;) {
      if (!this.running)
        throw new Error(`service exited before it was ready; logs:\n${this.logs(60)}`);
      try {
        const res = await this.request('GET', '/readyz', { key: 'none', timeoutMs: 2_000 });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(
          `service not ready within ${this.readyTimeoutMs} ms; logs:\n${this.logs(60)}`,
        );
      }
      await sleep(100);
    }
  }

  /** The last `lines` lines of stdout+stderr (all of them by default). */
  logs(lines?: number): string {
    const all = this.output.join('').split('\n');
    return (lines === undefined ? all : all.slice(-lines)).join('\n');
  }

  request<T = unknown>(
    method: string,
    urlPath: string,
    options?: RequestOptions,
  ): Promise<HttpResponse<T>> {
    return httpRequest<T>(this.agent, this.url, method, urlPath, options);
  }

  /** Sends a signal and waits for the exit (SIGKILL by default). */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 30_000): Promise<ExitInfo> {
    const child = this.child;
    if (!child || !this.running) return this.exited;
    child.kill(signal);
    const info = await Promise.race([this.exited, sleep(timeoutMs).then(() => undefined)]);
    this.resetAgent();
    if (info) return info;
    child.kill('SIGKILL');
    await this.exited;
    throw new Error(
      `service did not exit within ${timeoutMs} ms after ${signal}; logs:\n${this.logs(40)}`,
    );
  }

  /** SIGTERM: drains and exits; resolves with the exit code and signal. */
  stop(timeoutMs = 30_000): Promise<ExitInfo> {
    return this.kill('SIGTERM', timeoutMs);
  }

  /** Same data dir, same port; a running service is stopped gracefully first. */
  async restart(env: Env = {}): Promise<void> {
    if (this.running) await this.stop();
    this.env = { ...this.env, ...env };
    await this.start();
  }

  /** Synchronous last resort (process exit). */
  killNow(): void {
    if (this.running) this.child?.kill('SIGKILL');
    this.watchdog?.kill('SIGKILL');
  }

  private resetAgent(): void {
    this.agent.destroy();
    this.agent = Service.newAgent();
    this.watchdog?.kill('SIGKILL');
    this.watchdog = undefined;
  }

  // ---- contract calls, one per step of a test ----

  placeOrder(body: unknown, options: RequestOptions = {}): Promise<HttpResponse<AcceptedOrder>> {
    return this.request<AcceptedOrder>('POST', '/v1/orders', { ...options, body });
  }

  /** Places an order and insists on 202. */
  async placeAccepted(body: OrderInput, options: RequestOptions = {}): Promise<AcceptedOrder> {
    const res = await this.placeOrder(body, options);
    if (res.status !== 202) throw new Error(`POST /v1/orders answered ${res.status}: ${res.text}`);
    return res.json;
  }

  async getOrder(orderId: string, key: KeyChoice = 'admin'): Promise<OrderView> {
    const res = await this.request<OrderView>('GET', `/v1/orders/${encodeURIComponent(orderId)}`, {
      key,
    });
    if (res.status !== 200)
      throw new Error(`GET order ${orderId} answered ${res.status}: ${res.text}`);
    return res.json;
  }

  cancel(orderId: string, key: KeyChoice = 'client'): Promise<HttpResponse> {
    return this.request('POST', `/v1/orders/${encodeURIComponent(orderId)}/cancel`, { key });
  }

  async product(sku: string): Promise<ProductView> {
    return this.ok<ProductView>('GET', `/v1/products/${encodeURIComponent(sku)}`, 'client');
  }

  /**
   * The admin view of a product once it matches `want`, or the last one seen after
   * `timeoutMs`: stock follows an order's status by a few milliseconds (the status decides,
   * the stock is given back right after), so a test that just saw CANCELLED, PAYMENT_FAILED
   * or REFUNDED waits for the stock instead of reading it once.
   */
  async productWhen(
    sku: string,
    want: Partial<AdminProductView>,
    timeoutMs = 10_000,
  ): Promise<AdminProductView> {
    const matches = (seen: AdminProductView): boolean =>
      Object.entries(want).every(
        ([field, value]) => seen[field as keyof AdminProductView] === value,
      );
    let last = await this.adminProduct(sku);
    const deadline = Date.now() + timeoutMs;
    while (!matches(last) && Date.now() < deadline) {
      await sleep(20);
      last = await this.adminProduct(sku);
    }
    return last;
  }

  async adminProduct(sku: string): Promise<AdminProductView> {
    return this.ok<AdminProductView>(
      'GET',
      `/v1/admin/products/${encodeURIComponent(sku)}`,
      'admin',
    );
  }

  async putProduct(
    sku: string,
    product: { name: string; price: Money; onHand: number },
  ): Promise<void> {
    const res = await this.request('PUT', `/v1/admin/products/${encodeURIComponent(sku)}`, {
      key: 'admin',
      body: product,
    });
    if (res.status < 200 || res.status > 299)
      throw new Error(`PUT product ${sku} answered ${res.status}: ${res.text}`);
  }

  async stats(): Promise<StatsView> {
    return this.ok<StatsView>('GET', '/v1/admin/stats', 'admin');
  }

  /** POST /v1/admin/sync/orders or /sync/stock; insists on a 2xx. */
  async syncNow(what: 'orders' | 'stock'): Promise<void> {
    const res = await this.request('POST', `/v1/admin/sync/${what}`, {
      key: 'admin',
      timeoutMs: 60_000,
    });
    if (res.status < 200 || res.status > 299)
      throw new Error(`POST sync/${what} answered ${res.status}: ${res.text}`);
  }

  /** POST /v1/admin/replay: the consumer group sees the log again from `fromSeq`. */
  async replay(consumer: string, fromSeq: number): Promise<void> {
    const res = await this.request('POST', '/v1/admin/replay', {
      key: 'admin',
      body: { consumer, fromSeq },
    });
    if (res.status < 200 || res.status > 299)
      throw new Error(`POST replay answered ${res.status}: ${res.text}`);
  }

  /**
   * Waits until the group has no lag and nothing in flight (admin stats): every event it
   * will be handed, a replay asked of it included, has been handled.
   */
  async waitForConsumerIdle(consumer: string, timeoutMs = 30_000): Promise<void> {
    let last = 'no stats yet';
    await waitFor(
      async () => {
        const group = (await this.stats()).consumers[consumer];
        last = JSON.stringify(group);
        return group && (group.lag ?? 0) === 0 && (group.inFlight ?? 0) === 0 ? true : undefined;
      },
      {
        timeoutMs,
        what: `consumer group ${consumer} to catch up`,
        describe: () => `last seen ${last}`,
      },
    );
  }

  private async ok<T>(method: string, urlPath: string, key: KeyChoice): Promise<T> {
    const res = await this.request<T>(method, urlPath, { key });
    if (res.status !== 200)
      throw new Error(`${method} ${urlPath} answered ${res.status}: ${res.text}`);
    return res.json;
  }

  /**
   * Polls the order (admin key) until `want` holds: a list of statuses or a predicate.
   * Connection errors (a restart) are retried until the timeout.
   */
  async waitForStatus(
    orderId: string,
    want: readonly string[] | ((order: OrderView) => boolean),
    timeoutMs = 30_000,
  ): Promise<OrderView> {
    const matches =
      typeof want === 'function' ? want : (order: OrderView) => want.includes(order.status);
    let last = 'no answer yet';
    return waitFor(
      async () => {
        const res = await this.request<OrderView>(
          'GET',
          `/v1/orders/${encodeURIComponent(orderId)}`,
          {
            key: 'admin',
            timeoutMs: 10_000,
          },
        );
        last = res.status === 200 ? `status ${res.json.status}` : `HTTP ${res.status} ${res.text}`;
        return res.status === 200 && matches(res.json) ? res.json : undefined;
      },
      {
        timeoutMs,
        intervalMs: 50,
        what: `order ${orderId} to reach ${typeof want === 'function' ? 'the expected state' : want.join('|')}`,
        describe: () => `last seen ${last}`,
      },
    );
  }

  waitForTerminal(orderId: string, timeoutMs = 30_000): Promise<OrderView> {
    return this.waitForStatus(orderId, (order) => isTerminal(order.status), timeoutMs);
  }

  /** Waits until every order is terminal; answers their final views by id. */
  async waitForAllTerminal(
    orderIds: readonly string[],
    timeoutMs = 120_000,
  ): Promise<Map<string, OrderView>> {
    const done = new Map<string, OrderView>();
    let pending = [...orderIds];
    const lastSeen = new Map<string, string>();
    await waitFor(
      async () => {
        await mapLimit(pending, 16, async (orderId) => {
          try {
            const res = await this.request<OrderView>(
              'GET',
              `/v1/orders/${encodeURIComponent(orderId)}`,
              {
                key: 'admin',
                timeoutMs: 10_000,
              },
            );
            lastSeen.set(orderId, res.status === 200 ? res.json.status : `HTTP ${res.status}`);
            if (res.status === 200 && isTerminal(res.json.status)) done.set(orderId, res.json);
          } catch (error) {
            lastSeen.set(orderId, error instanceof Error ? error.message : String(error));
          }
        });
        pending = pending.filter((orderId) => !done.has(orderId));
        return pending.length === 0 ? true : undefined;
      },
      {
        timeoutMs,
        intervalMs: 200,
        what: `${orderIds.length} orders to be terminal`,
        describe: () =>
          `${pending.length} not terminal, e.g. ${pending
            .slice(0, 5)
            .map((id) => `${id}: ${lastSeen.get(id) ?? '?'}`)
            .join(', ')}`,
      },
    );
    return done;
  }
}

/** Starts a service on a free port and a fresh data dir (unless given) and waits for readiness. */
export async function startService(options: StartOptions = {}): Promise<Service> {
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderflow-e2e-'));
    tempDirs.add(dataDir);
  }
  const port = options.port ?? (await freePort());
  const env: Env = {
    PORT: String(port),
    HOST: '127.0.0.1',
    ORDERFLOW_DATA_DIR: dataDir,
    ORDERFLOW_API_KEYS: DEFAULT_API_KEYS_ENV,
    ORDERFLOW_NAMESPACE: `e2e_${randomBytes(4).toString('hex')}`,
    ...options.env,
  };
  const service = new Service(port, dataDir, env, options.readyTimeoutMs ?? 45_000, options.args);
  try {
    await service.start();
  } catch (error) {
    service.killNow();
    throw error;
  }
  return service;
}

/** For `afterAll`: stops every service this process started (SIGTERM, then SIGKILL) and removes temp dirs. */
export async function stopAllServices(): Promise<void> {
  await Promise.all(
    [...live].map(async (service) => {
      try {
        await service.stop(15_000);
      } catch {
        service.killNow();
      }
    }),
  );
  if (process.env.ORDERFLOW_E2E_KEEP_DATA) return;
  // The pipeline process of a service killed with SIGKILL leaves on its own (its IPC channel
  // closes) and may still be writing a mail into the outbox: retry while a folder fills.
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch (error) {
      // A temporary folder left behind is not a failure of the test that used it.
      console.warn(`could not remove ${dir}: ${String(error)}`);
    }
  }
  tempDirs.clear();
}
