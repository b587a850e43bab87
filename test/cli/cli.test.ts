/**
 * The `orderflow` operator command against a running instance: the built service as a child
 * process (startService), the built CLI as child processes of its own, nothing mocked.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from '../helpers/api.js';
import { DEFAULT_KEYS } from '../helpers/http.js';
import { deadPort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import { REPO_ROOT, startService, stopAllServices, type Service } from '../helpers/service.js';
import { describeRun, jsonOf, runCli, type CliRun } from './run-cli.js';

let service: Service;

beforeAll(async () => {
  service = await startService({ env: { ORDERFLOW_RATE_LIMIT: '0' } });
  // One order through: the pipeline process is up and every consumer group exists.
  const { orderId } = await service.placeAccepted(orderBody({ sku: 'A123', qty: 1 }));
  await service.waitForTerminal(orderId);
  await service.waitForConsumerIdle('analytics');
}, 120_000);

afterAll(async () => {
  await stopAllServices();
});

/** `orderflow <args> --url <the service> --json` with the admin key. */
async function cli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli([...args, '--url', service.url, '--json'], {
    ORDERFLOW_ADMIN_KEY: DEFAULT_KEYS.admin,
    ...env,
  });
}

/** Like `cli`, insisting on exit 0; the parsed JSON. */
async function ok<T>(args: readonly string[]): Promise<T> {
  const run = await cli(args);
  expect(run.code, describeRun(run)).toBe(0);
  return jsonOf<T>(run);
}

describe('orderflow --version and --help', () => {
  it('prints the version of package.json', async () => {
    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const run = await runCli(['--version']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.stdout.trim()).toBe(manifest.version);
  });

  it('lists every command and the exit codes', async () => {
    const run = await runCli(['--help']);
    expect(run.code, describeRun(run)).toBe(0);
    for (const command of ['start', 'dlq', 'replay', 'stock', 'sync', 'orders', 'stats', 'doctor'])
      expect(run.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(run.stdout).not.toMatch(/^ {2}pipeline\b/m);
    expect(run.stdout).toContain('Exit codes');
    const dlq = await runCli(['dlq', '--help']);
    expect(dlq.stdout).toMatch(/list/);
    expect(dlq.stdout).toMatch(/redrive/);
  });
});

describe('orderflow against a running instance', () => {
  it('stats: orders by status and every consumer group', async () => {
    const stats = await ok<{
      orders: Record<string, number>;
      consumers: Record<string, { lag: number; inFlight: number; dlq: number }>;
      sync: { backlog: number };
    }>(['stats']);
    expect(stats.orders).toHaveProperty('COMPLETED');
    expect(stats.consumers['analytics']).toMatchObject({ dlq: 0 });
    expect(typeof stats.sync.backlog).toBe('number');
    const table = await runCli(['stats', '--url', service.url], {
      ORDERFLOW_ADMIN_KEY: DEFAULT_KEYS.admin,
    });
    expect(table.code, describeRun(table)).toBe(0);
    expect(table.stdout).toMatch(/^CONSUMER\s+LAG\s+IN FLIGHT\s+DEAD LETTERS$/m);
    expect(table.stdout).toMatch(/^analytics\s+\d+\s+\d+\s+0$/m);
  });

  it('stock get A123: the demo product as the SoT and the stock cache have it', async () => {
    const product = await ok<Record<string, unknown>>(['stock', 'get', 'A123']);
    expect(product).toMatchObject({
      sku: 'A123',
      name: 'Widget',
      price: { amount: 1999, currency: 'USD' },
      reserved: 0,
    });
    const text = await runCli(['stock', 'get', 'A123', '--url', service.url], {
      ORDERFLOW_ADMIN_KEY: DEFAULT_KEYS.admin,
    });
    expect(text.stdout).toMatch(/^price:\s+19\.99 USD$/m);
  });

  it('stock set: creates a product, then changes its stock keeping name and price', async () => {
    const created = await ok<Record<string, unknown>>([
      ...['stock', 'set', 'C789', '--on-hand', '25'],
      ...['--name', 'Gizmo', '--price', '500', '--currency', 'eur'],
    ]);
    expect(created).toMatchObject({
      sku: 'C789',
      name: 'Gizmo',
      price: { amount: 500, currency: 'EUR' },
      onHand: 25,
      available: 25,
    });
    await ok(['stock', 'set', 'C789', '--on-hand', '30']);
    expect(await service.adminProduct('C789')).toMatchObject({
      name: 'Gizmo',
      price: { amount: 500, currency: 'EUR' },
      onHand: 30,
      available: 30,
    });
  });

  it('stock set of an unknown SKU without --name and --price exits 2 and changes nothing', async () => {
    const run = await cli(['stock', 'set', 'NOPE1', '--on-hand', '3']);
    expect(run.code, describeRun(run)).toBe(2);
    expect(run.stderr).toContain('--name and --price');
    const res = await service.request('GET', '/v1/admin/products/NOPE1', { key: 'admin' });
    expect(res.status).toBe(404);
  });

  it('orders show: a placed order with its history and its timeline', async () => {
    const { orderId } = await service.placeAccepted(orderBody({ sku: 'A123', qty: 2 }));
    await service.waitForTerminal(orderId);
    const shown = await ok<{
      order: { orderId: string; status: string; history: { status: string }[] };
      timeline: { events: { seq: number; type: string; outcomes: Record<string, unknown> }[] };
    }>(['orders', 'show', orderId]);
    expect(shown.order).toMatchObject({ orderId, status: 'COMPLETED' });
    expect(shown.order.history.map(({ status }) => status)).toEqual([
      'PENDING',
      'RESERVED',
      'PAID',
      'COMPLETED',
    ]);
    expect(shown.timeline.events[0]?.type).toBe('OrderPlaced');
    expect(shown.timeline.events[0]?.outcomes).toHaveProperty('workflow');
    const text = await runCli(['orders', 'show', orderId, '--url', service.url], {
      ORDERFLOW_ADMIN_KEY: DEFAULT_KEYS.admin,
    });
    expect(text.code, describeRun(text)).toBe(0);
    expect(text.stdout).toMatch(/^status:\s+COMPLETED$/m);
    expect(text.stdout).toMatch(/^\d+\s+OrderPlaced\s+\S+\s+workflow\s+acked$/m);
  });

  it('sync orders: sync-out now', async () => {
    const report = await ok<{ count: number; at: string }>(['sync', 'orders']);
    expect(report.count).toBeGreaterThanOrEqual(0);
    expect(Number.isNaN(Date.parse(report.at))).toBe(false);
  });

  it('replay --group analytics --from 1: a job, followed with a progress bar until the group is through', async () => {
    const run = await cli(['replay', '--group', 'analytics', '--from', '1', '--progress']);
    expect(run.code, describeRun(run)).toBe(0);
    const replay = jsonOf<{
      jobId: string;
      consumer: string;
      fromSeq: number;
      from: number;
      through: number;
      caughtUp: boolean;
      delivered: number;
      total: number;
    }>(run);
    expect(replay).toMatchObject({ consumer: 'analytics', fromSeq: 1, from: 1, caughtUp: true });
    expect(replay.jobId).toEqual(expect.any(String));
    expect(replay.total).toBe(replay.through - replay.from + 1);
    expect(replay.delivered).toBe(replay.total);
    expect(run.stderr).toContain(
      `replaying analytics [${'#'.repeat(30)}] ${replay.total}/${replay.total} 100%`,
    );
    // The API process answers from the log; the group runs in the pipeline process.
    const job = await service.request<{ done: boolean; delivered: number }>(
      'GET',
      `/v1/admin/replay/${replay.jobId}`,
      { key: 'admin' },
    );
    expect(job.json).toMatchObject({ done: true, delivered: replay.total });
  });

  it('replay --no-wait: prints the job id, whose progress the API answers', async () => {
    const text = await runCli(
      ['replay', '--group', 'analytics', '--from', '1', '--no-wait', '--url', service.url],
      { ORDERFLOW_ADMIN_KEY: DEFAULT_KEYS.admin },
    );
    expect(text.code, describeRun(text)).toBe(0);
    const jobId = /job (\S+) \(seq 1–\d+\)/.exec(text.stdout)?.[1];
    expect(jobId, text.stdout).toBeDefined();
    const done = await waitFor(
      async () => {
        const { json } = await service.request<{ done: boolean; total: number }>(
          'GET',
          `/v1/admin/replay/${jobId ?? ''}`,
          { key: 'admin' },
        );
        return json.done ? json : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the replay job to be done' },
    );
    expect(done.total).toBeGreaterThan(0);
  });

  it('orders list: newest first, by status, a page at a time', async () => {
    const placed: string[] = [];
    for (let n = 0; n < 2; n++) {
      const { orderId } = await service.placeAccepted(orderBody({ sku: 'A123', qty: 1 }));
      await service.waitForTerminal(orderId);
      placed.push(orderId);
    }
    type Listed = { orders: { orderId: string; status: string }[]; nextCursor?: string };
    const first = await ok<Listed>(['orders', 'list', '--status', 'COMPLETED', '--limit', '1']);
    expect(first.orders).toEqual([expect.objectContaining({ orderId: placed[1] })]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await ok<Listed>([
      ...['orders', 'list', '--status', 'COMPLETED', '--limit', '1'],
      ...['--cursor', first.nextCursor ?? ''],
    ]);
    expect(second.orders).toEqual([expect.objectContaining({ orderId: placed[0] })]);
    const all = await ok<Listed>(['orders', 'list']);
    expect(all.orders.slice(0, 2).map(({ orderId }) => orderId)).toEqual([...placed].reverse());
    const none = await ok<Listed>(['orders', 'list', '--status', 'PAYMENT_FAILED']);
    expect(none.orders).toEqual([]);

    const text = await runCli(['orders', 'list', '--limit', '1', '--url', service.url], {
      ORDERFLOW_ADMIN_KEY: DEFAULT_KEYS.admin,
    });
    expect(text.code, describeRun(text)).toBe(0);
    expect(text.stdout).toMatch(/^ORDER\s+STATUS\s+CUSTOMER\s+TOTAL\s+CREATED\s+UPDATED$/m);
    expect(text.stdout).toContain(`${placed[1] ?? ''}  COMPLETED`);
    expect(text.stdout).toMatch(/^1 orders; next page: --cursor \S+$/m);

    const unknown = await cli(['orders', 'list', '--status', 'STUCK']);
    expect(unknown.code, describeRun(unknown)).toBe(2);
    expect(jsonOf(unknown)).toMatchObject({ error: { code: 'validation_error' } });
    const tooMany = await cli(['orders', 'list', '--limit', '501']);
    expect(tooMany.code, describeRun(tooMany)).toBe(1);
  });

  it('dlq list: none yet', async () => {
    const listed = await ok<{ deadLetters: unknown[]; nextCursor?: string }>(['dlq', 'list']);
    expect(listed).toEqual({ deadLetters: [] });
  });

  it('orders show of an unknown order exits 2 with the API error in plain words', async () => {
    const run = await cli(['orders', 'show', 'nope']);
    expect(run.code, describeRun(run)).toBe(2);
    expect(run.stderr).toContain('no order nope');
    expect(jsonOf(run)).toMatchObject({ error: { code: 'not_found' } });
  });

  it('a replay of an unknown group exits 2', async () => {
    const run = await cli(['replay', '--group', 'no-such-group', '--from', '1']);
    expect(run.code, describeRun(run)).toBe(2);
    expect(run.stderr).toContain('no-such-group');
  });

  it('without the admin key exits 2 and says which variable to set', async () => {
    const run = await runCli(['stats', '--url', service.url]);
    expect(run.code, describeRun(run)).toBe(2);
    expect(run.stderr).toContain('ORDERFLOW_ADMIN_KEY');
  });

  it('an unreachable --url exits 3', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const run = await runCli(['stats', '--url', url, '--json'], {
      ORDERFLOW_ADMIN_KEY: DEFAULT_KEYS.admin,
    });
    expect(run.code, describeRun(run)).toBe(3);
    expect(run.stderr).toContain(`could not reach orderflow at ${url}`);
    expect(jsonOf(run)).toMatchObject({ error: { code: 'unreachable' } });
  });

  it('a wrong command line exits 1', async () => {
    const run = await cli(['stock', 'set', 'A123', '--on-hand', 'many']);
    expect(run.code, describeRun(run)).toBe(1);
    expect(run.stderr).toContain('--on-hand');
  });
});

describe('orderflow doctor', () => {
  it('passes on a good embedded configuration', async () => {
    const run = await runCli(['doctor', '--json'], { ORDERFLOW_DATA_DIR: service.dataDir });
    expect(run.code, describeRun(run)).toBe(0);
    const report = jsonOf<{ ok: boolean; checks: { name: string; ok: boolean }[] }>(run);
    expect(report.ok).toBe(true);
    expect(report.checks.map(({ name }) => name)).toEqual([
      'configuration',
      'data directory',
      'sqlite orderflow.db',
      'sqlite sot.db',
    ]);
    const text = await runCli(['doctor'], { ORDERFLOW_DATA_DIR: service.dataDir });
    expect(text.stdout).toMatch(/^ok\s+data directory\s+/m);
  });

  it('fails naming each backend that does not answer', async () => {
    const env = {
      ORDERFLOW_DATA_DIR: service.dataDir,
      ORDERFLOW_REDIS_URL: 'redis://127.0.0.1:1',
      ORDERFLOW_NATS_URL: 'nats://127.0.0.1:1',
      ORDERFLOW_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test',
    };
    const run = await runCli(['doctor'], env);
    expect(run.code, describeRun(run)).toBe(1);
    expect(run.stdout).toMatch(/^FAIL\s+redis\s+127\.0\.0\.1:1: nothing answers there/m);
    expect(run.stdout).toMatch(/^FAIL\s+nats\s+127\.0\.0\.1:1: nothing answers there/m);
    expect(run.stdout).toMatch(/^FAIL\s+postgresql\s+127\.0\.0\.1:1: nothing answers there/m);
    expect(run.stdout).toMatch(/^ok\s+configuration\s+scale-out/m);
    const json = jsonOf<{ ok: boolean; checks: { name: string; ok: boolean }[] }>(
      await runCli(['doctor', '--json'], env),
    );
    expect(json.ok).toBe(false);
    expect(json.checks.filter(({ ok }) => !ok).map(({ name }) => name)).toEqual([
      'redis',
      'nats',
      'postgresql',
    ]);
  });

  it('fails on a configuration the service would refuse', async () => {
    const run = await runCli(['doctor'], {
      ORDERFLOW_DATA_DIR: service.dataDir,
      ORDERFLOW_REDIS_URL: 'redis://127.0.0.1:1',
    });
    expect(run.code, describeRun(run)).toBe(1);
    expect(run.stdout).toMatch(
      /^FAIL\s+configuration\s+ORDERFLOW_REDIS_URL and ORDERFLOW_NATS_URL/m,
    );
  });
});
