import autocannon from 'autocannon';
import http from 'node:http';
import { KEYS, startBaseline, startOrderflow, type Child } from './child.js';
import { startCluster } from './cluster.js';

/**
 * `npm run bench`: orderflow on the embedded default against a bare node:http server
 * measured in the same run, so the ratios hold on a noisy machine. Prints numbers; asserts
 * nothing.
 */
const CONNECTIONS = 50;
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 8);
const E2E_ORDERS = Number(process.env['BENCH_E2E_ORDERS'] ?? 5000);

const orderBody = (sku: string): string =>
  JSON.stringify({
    customerId: 'bench',
    email: 'bench@example.com',
    items: [{ sku, qty: 1 }],
    paymentMethod: 'pm_card_visa',
  });

interface Load {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
}

async function load(
  url: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<Load> {
  const result = await autocannon({
    url: url + path,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION_S,
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

async function admin(url: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${KEYS.admin}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function putStock(url: string, sku: string, onHand: number): Promise<void> {
  await admin(url, 'PUT', `/v1/admin/products/${sku}`, {
    name: sku,
    price: { amount: 1000, currency: 'USD' },
    onHand,
  });
}

const TERMINAL = ['COMPLETED', 'FAILED_NO_STOCK', 'PAYMENT_FAILED', 'CANCELLED', 'REFUNDED'];

async function terminalCount(url: string): Promise<number> {
  const stats = (await admin(url, 'GET', '/v1/admin/stats')) as { orders: Record<string, number> };
  return TERMINAL.reduce((sum, status) => sum + (stats.orders[status] ?? 0), 0);
}

/** Posts `count` orders over `CONNECTIONS` keep-alive sockets, then waits for all to end. */
async function endToEnd(
  service: Child,
  count: number,
): Promise<{ ordersPerS: number; ms: number }> {
  await putStock(service.url, 'E2E', count);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const body = orderBody('E2E');
  const started = performance.now();
  let next = 0;
  const post = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        service.url + '/v1/orders',
        {
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${KEYS.client}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 202 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < count) {
        next += 1;
        await post();
      }
    }),
  );
  const deadline = Date.now() + 300_000;
  while ((await terminalCount(service.url)) < count) {
    if (Date.now() > deadline) throw new Error('orders did not finish in 5 minutes');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const ms = performance.now() - started;
  agent.destroy();
  return { ordersPerS: Math.round((count / ms) * 1000), ms: Math.round(ms) };
}

const ratio = (a: number, b: number): string => (b === 0 ? 'n/a' : (a / b).toFixed(2));

async function main(): Promise<void> {
  console.log(
    `orderflow bench: ${CONNECTIONS} connections, ${DURATION_S} s per load, ${E2E_ORDERS} orders end to end\n`,
  );

  const baseline = await startBaseline();
  const base = await load(baseline.url, '/v1/orders', orderBody('A123'), {});
  await baseline.stop();

  const intakeService = await startOrderflow();
  await putStock(intakeService.url, 'BENCH', 1_000_000_000);
  const intake = await load(intakeService.url, '/v1/orders', orderBody('BENCH'), {
    authorization: `Bearer ${KEYS.client}`,
  });
  const intakeRss = await intakeService.peakRssMiB();
  await intakeService.stop();

  const e2eService = await startOrderflow();
  const e2e = await endToEnd(e2eService, E2E_ORDERS);
  const e2eRss = await e2eService.peakRssMiB();
  await e2eService.stop();

  const starts: number[] = [];
  const baseStarts: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const service = await startOrderflow();
    starts.push(service.startMs);
    await service.stop();
    const bare = await startBaseline();
    baseStarts.push(bare.startMs);
    await bare.stop();
  }
  const median = (values: number[]): number =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const start = median(starts);
  const baseStart = median(baseStarts);

  const distributed = process.env['BENCH_DISTRIBUTED'] !== '0';
  let cluster: { intake: Load; e2e1: number; e2e2: number } | undefined;
  if (distributed) {
    const intakeCluster = await startCluster(1);
    await putStock(intakeCluster.api.url, 'BENCH', 1_000_000_000);
    const distIntake = await load(intakeCluster.api.url, '/v1/orders', orderBody('BENCH'), {
      authorization: `Bearer ${KEYS.client}`,
    });
    await intakeCluster.stop();
    const one = await startCluster(1);
    const e2eOne = await endToEnd(one.api, E2E_ORDERS);
    await one.stop();
    const two = await startCluster(2);
    const e2eTwo = await endToEnd(two.api, E2E_ORDERS);
    await two.stop();
    cluster = { intake: distIntake, e2e1: e2eOne.ordersPerS, e2e2: e2eTwo.ordersPerS };
  }

  const rows: [string, string, string, string][] = [
    ['measure', 'orderflow (embedded)', 'bare node:http 202', 'orderflow / baseline'],
    ['intake req/s', String(intake.rps), String(base.rps), ratio(intake.rps, base.rps)],
    ['intake p50 ms', String(intake.p50), String(base.p50), ratio(intake.p50, base.p50)],
    ['intake p99 ms', String(intake.p99), String(base.p99), ratio(intake.p99, base.p99)],
    [
      'intake non-2xx / errors',
      `${intake.non2xx} / ${intake.errors}`,
      `${base.non2xx} / ${base.errors}`,
      '',
    ],
    [
      `end-to-end orders/s (${E2E_ORDERS}, 202 → terminal)`,
      String(e2e.ordersPerS),
      '',
      `${e2e.ms} ms in all`,
    ],
    [
      'start to ready ms (median of 3)',
      start.toFixed(0),
      baseStart.toFixed(0),
      ratio(start, baseStart),
    ],
    ['peak RSS MiB (intake / e2e)', `${intakeRss ?? '?'} / ${e2eRss ?? '?'}`, '', ''],
  ];
  if (cluster) {
    rows.push(
      [
        'distributed intake req/s (api process)',
        String(cluster.intake.rps),
        String(base.rps),
        ratio(cluster.intake.rps, base.rps),
      ],
      [
        'distributed intake p99 ms',
        String(cluster.intake.p99),
        String(base.p99),
        ratio(cluster.intake.p99, base.p99),
      ],
      [
        'distributed intake non-2xx / errors',
        `${cluster.intake.non2xx} / ${cluster.intake.errors}`,
        '',
        '',
      ],
      [
        `distributed end-to-end orders/s, 1 worker`,
        String(cluster.e2e1),
        '',
        ratio(cluster.e2e1, e2e.ordersPerS) + ' × embedded',
      ],
      [
        `distributed end-to-end orders/s, 2 workers`,
        String(cluster.e2e2),
        '',
        ratio(cluster.e2e2, e2e.ordersPerS) + ' × embedded',
      ],
    );
  }
  const widths = [0, 1, 2, 3].map((column) =>
    Math.max(...rows.map((row) => row[column]?.length ?? 0)),
  );
  for (const row of rows)
    console.log(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  '));
}

await main();
