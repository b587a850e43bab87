/**
 * One order is one OpenTelemetry trace: from `POST /v1/orders` through every saga step and
 * every consumer, across the processes that handle it (the embedded default's pipeline
 * process, an `api` and a `worker`, the distributed set) and across redeliveries, exported
 * over OTLP/HTTP (JSON) to a real receiver. The order's log lines carry the trace's id and
 * the order id; no span carries an API key, a payment method or an email. Without an OTLP
 * endpoint nothing is sent, and log lines still carry trace ids.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINED, orderBody, type OrderInput } from '../helpers/api.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { enginesUp } from '../helpers/engines.js';
import { DEFAULT_KEYS } from '../helpers/http.js';
import {
  startOtlpReceiver,
  type AttributeValue,
  type OtlpReceiver,
  type ReceivedSpan,
} from '../helpers/otlp-receiver.js';
import {
  REPO_ROOT,
  startService,
  stopAllServices,
  type Env,
  type Service,
} from '../helpers/service.js';

const distributedUp = await enginesUp('redis', 'nats', 'postgres');

/** Built by `npm run build` from test/fixtures/flaky-consumer.ts. */
const FLAKY = path.join(REPO_ROOT, 'dist/test/fixtures/flaky-consumer.js');
const BUILT_IN_GROUPS = ['workflow', 'notifications', 'warehouse', 'analytics', 'sync-out'];
const KIND = { internal: 1, server: 2, consumer: 5 } as const;
const ERROR = 2;

let receiver: OtlpReceiver;
/** Every body placed in this file: none of their secrets may be in any span. */
const placedBodies: OrderInput[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  await stopAllServices();
  await receiver?.close();
});

/** OTLP/HTTP JSON to the receiver, exported every 50 ms; nothing else from the runner's env. */
function exportingEnv(): Env {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: undefined,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_SDK_DISABLED: undefined,
    OTEL_TRACES_EXPORTER: undefined,
    OTEL_SERVICE_NAME: undefined,
    ORDERFLOW_RATE_LIMIT: '0',
  };
}

const orderIdOf = (span: ReceivedSpan): AttributeValue | undefined =>
  span.attributes['orderflow.order_id'];

/** The SERVER span of the request `name` (`POST /v1/orders`) about `orderId`, once exported. */
function serverSpan(orderId: string, name: string): Promise<ReceivedSpan> {
  return receiver.waitFor(
    (spans) =>
      spans.find((s) => s.kind === KIND.server && s.name === name && orderIdOf(s) === orderId),
    `the ${name} span of ${orderId}`,
  );
}

interface Expected {
  readonly steps: readonly string[];
  /** Consumer groups that must have handled an event of the order in this trace. */
  readonly groups: readonly string[];
  /** The caller's span the root continues, if any (never exported by the service). */
  readonly externalParent?: string;
}

/**
 * The trace once it holds the expected step and consumer spans and is whole: every span's
 * parent is in it (the context went from span to span, not just the trace id).
 */
function wholeTrace(traceId: string, orderId: string, want: Expected): Promise<ReceivedSpan[]> {
  let missing: string[] = [];
  return receiver
    .waitFor(() => {
      const spans = receiver.trace(traceId);
      const ids = new Set(spans.map((s) => s.spanId));
      if (want.externalParent !== undefined) ids.add(want.externalParent);
      const names = new Set(spans.map((s) => s.name));
      const groups = new Set(
        spans
          .filter((s) => s.kind === KIND.consumer && orderIdOf(s) === orderId)
          .map((s) => s.attributes['messaging.consumer.group.name']),
      );
      missing = [
        ...want.steps.filter((step) => !names.has(step)).map((step) => `step ${step}`),
        ...want.groups.filter((group) => !groups.has(group)).map((group) => `group ${group}`),
        ...spans
          .filter((s) => s.parentSpanId !== '' && !ids.has(s.parentSpanId))
          .map((s) => `the parent of ${s.name}`),
      ];
      return missing.length === 0 ? spans : undefined;
    }, `the whole trace of ${orderId}`)
    .catch((error: unknown) => {
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}; missing: ${missing.join(', ')}`,
      );
    });
}

function consumerSpansOf(orderId: string, group?: string): ReceivedSpan[] {
  return receiver.spans.filter(
    (s) =>
      s.kind === KIND.consumer &&
      orderIdOf(s) === orderId &&
      (group === undefined || s.attributes['messaging.consumer.group.name'] === group),
  );
}

interface LogLine {
  readonly msg?: string;
  readonly orderId?: string;
  readonly traceId?: string;
  readonly spanId?: string;
  readonly group?: string;
  readonly route?: string;
  readonly method?: string;
  readonly statusCode?: number;
  readonly durationMs?: number;
  readonly err?: { readonly message?: string; readonly stack?: string };
}

function logLines(services: readonly Service[]): LogLine[] {
  return services.flatMap((service) =>
    service
      .logs()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine),
  );
}

async function place(service: Service, body: OrderInput): Promise<string> {
  placedBodies.push(body);
  return (await service.placeAccepted(body)).orderId;
}

interface Deployment {
  /** Where orders are placed. */
  readonly api: Service;
  /** Every process, for their logs. */
  readonly services: readonly Service[];
  /** Whether the `flaky` consumer (fails each order's first delivery) runs. */
  readonly flaky: boolean;
}

function describeTracing(name: string, skip: boolean, deploy: () => Promise<Deployment>): void {
  describe.skipIf(skip)(`tracing: ${name}`, () => {
    let deployment: Deployment;
    let completed: { orderId: string; traceId: string; placedAt: number } | undefined;

    beforeAll(async () => {
      deployment = await deploy();
    }, 120_000);

    it('one order is one trace: the POST, every saga step and every consumer', async () => {
      const { api, services, flaky } = deployment;
      const placedAt = Date.now();
      const orderId = await place(api, orderBody({ sku: 'A123', qty: 1 }));
      expect((await api.waitForTerminal(orderId)).status).toBe('COMPLETED');
      const root = await serverSpan(orderId, 'POST /v1/orders');
      expect(root.parentSpanId).toBe('');
      expect(root.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.route': '/v1/orders',
        'url.path': '/v1/orders',
        'http.response.status_code': 202,
      });
      expect(root.resource['service.name']).toBe('orderflow');
      const groups = flaky ? [...BUILT_IN_GROUPS, 'flaky'] : BUILT_IN_GROUPS;
      const spans = await wholeTrace(root.traceId, orderId, {
        steps: ['reserve-stock', 'charge-payment', 'commit-stock'],
        groups,
      });
      completed = { orderId, traceId: root.traceId, placedAt };
      // Every consumer span about the order, in every process, is in this one trace.
      expect(new Set(consumerSpansOf(orderId).map((s) => s.traceId))).toEqual(
        new Set([root.traceId]),
      );
      const placed = spans.find((s) => s.name === 'workflow process OrderPlaced');
      expect(placed).toMatchObject({ kind: KIND.consumer, parentSpanId: root.spanId });
      expect(placed?.attributes).toMatchObject({
        'messaging.system': 'orderflow',
        'messaging.consumer.group.name': 'workflow',
        'messaging.destination.name': 'OrderPlaced',
        'messaging.message.id': `${orderId}.placed`,
        'orderflow.attempt': 1,
        'orderflow.order_id': orderId,
      });
      for (const step of spans.filter((s) => s.attributes['orderflow.step'] !== undefined)) {
        expect(step.kind).toBe(KIND.internal);
      }

      const lines = logLines(services);
      const request = lines.find((line) => line.route === '/v1/orders' && line.orderId === orderId);
      expect(request).toMatchObject({ method: 'POST', statusCode: 202, traceId: root.traceId });
      expect(request?.spanId).toBe(root.spanId);
      expect(typeof request?.durationMs).toBe('number');

      if (flaky) {
        // The redelivery after the failed first attempt continues the same trace.
        const attempts = await receiver.waitFor(() => {
          const found = consumerSpansOf(orderId, 'flaky');
          return found.length >= 2 ? found : undefined;
        }, 'both deliveries to flaky');
        expect(attempts.map((s) => s.traceId)).toEqual([root.traceId, root.traceId]);
        const sorted = [...attempts].sort(
          (a, b) =>
            Number(a.attributes['orderflow.attempt']) - Number(b.attributes['orderflow.attempt']),
        );
        expect(sorted.map((s) => s.attributes['orderflow.attempt'])).toEqual([1, 2]);
        expect(sorted[0]?.statusCode).toBe(ERROR);
        expect(sorted[0]?.events.map((event) => event.name)).toContain('exception');
        expect(sorted[1]?.statusCode).not.toBe(ERROR);
        const retrying = logLines(services).find(
          (line) => line.msg === 'event failed: retrying' && line.orderId === orderId,
        );
        expect(retrying).toMatchObject({ group: 'flaky', traceId: root.traceId });
        expect(retrying?.err?.stack).toContain('the first delivery of');
      }
      // Every line a consumer logged about the order is in its trace.
      const consumerLines = logLines(services).filter(
        (line) => line.orderId === orderId && line.group !== undefined,
      );
      for (const line of consumerLines) expect(line.traceId).toBe(root.traceId);
    });

    it("continues the caller's trace when the request carries a traceparent", async () => {
      const { api } = deployment;
      const traceId = randomBytes(16).toString('hex');
      const parentSpanId = randomBytes(8).toString('hex');
      const body = orderBody({ sku: 'A123' });
      placedBodies.push(body);
      const { orderId } = await api.placeAccepted(body, {
        headers: { traceparent: `00-${traceId}-${parentSpanId}-01` },
      });
      await api.waitForTerminal(orderId);
      const root = await serverSpan(orderId, 'POST /v1/orders');
      expect(root).toMatchObject({ traceId, parentSpanId });
      await wholeTrace(traceId, orderId, {
        steps: ['reserve-stock', 'charge-payment', 'commit-stock'],
        groups: ['workflow', 'notifications'],
        // The caller's own span: not ours to export.
        externalParent: parentSpanId,
      });
      expect(new Set(consumerSpansOf(orderId).map((s) => s.traceId))).toEqual(new Set([traceId]));
    });

    it('a declined order shows the release of its hold in its trace', async () => {
      const { api } = deployment;
      const orderId = await place(api, orderBody({ sku: 'A123', paymentMethod: DECLINED }));
      expect((await api.waitForTerminal(orderId)).status).toBe('PAYMENT_FAILED');
      const root = await serverSpan(orderId, 'POST /v1/orders');
      const spans = await wholeTrace(root.traceId, orderId, {
        steps: ['reserve-stock', 'charge-payment', 'release-stock'],
        groups: ['workflow', 'notifications', 'analytics', 'sync-out'],
      });
      const release = spans.find((s) => s.name === 'release-stock');
      expect(release?.attributes).toMatchObject({
        'orderflow.step': 'release-stock',
        'orderflow.compensates': 'reserve-stock',
      });
    });

    it('a cancel after payment is traced from its request through the refund', async () => {
      const { api } = deployment;
      const orderId = await place(api, orderBody({ sku: 'A123' }));
      await api.waitForStatus(orderId, ['COMPLETED']);
      expect((await api.cancel(orderId)).status).toBe(202);
      await api.waitForStatus(orderId, ['REFUNDED']);
      const root = await serverSpan(orderId, 'POST /v1/orders/:id/cancel');
      expect(root.attributes['http.route']).toBe('/v1/orders/:id/cancel');
      await wholeTrace(root.traceId, orderId, {
        steps: ['refund-payment', 'return-stock'],
        groups: ['workflow', 'notifications', 'analytics', 'sync-out'],
      });
      const handled = receiver
        .trace(root.traceId)
        .find((s) => s.name === 'workflow process CancelRequested');
      expect(handled?.attributes['orderflow.order_id']).toBe(orderId);
    });

    it('a replayed delivery continues the trace the stored event carries', async () => {
      const { api } = deployment;
      if (!completed) throw new Error('the first test placed no order');
      const { orderId, traceId, placedAt } = completed;
      const before = consumerSpansOf(orderId, 'analytics').length;
      const replay = await api.request('POST', '/v1/admin/replay', {
        key: 'admin',
        body: { consumer: 'analytics', fromTime: placedAt },
      });
      expect(replay.status).toBeLessThan(300);
      const spans = await receiver.waitFor(() => {
        const found = consumerSpansOf(orderId, 'analytics');
        return found.length > before ? found : undefined;
      }, 'the replayed analytics delivery');
      expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
    });
  });
}

describeTracing('embedded default (API process + pipeline process)', false, async () => {
  const service = await startService({ env: exportingEnv(), args: ['--consumer', FLAKY] });
  return { api: service, services: [service], flaky: true };
});

describeTracing('api + worker processes on one data dir', false, async () => {
  const api = await startService({ env: { ...exportingEnv(), ORDERFLOW_ROLE: 'api' } });
  const worker = await startService({
    dataDir: api.dataDir,
    env: { ...exportingEnv(), ORDERFLOW_ROLE: 'worker' },
    args: ['--consumer', FLAKY],
  });
  return { api, services: [api, worker], flaky: true };
});

let cluster: Cluster | undefined;
describeTracing('redis+nats+postgres', !distributedUp, async () => {
  cluster = await startCluster(['all'], exportingEnv());
  const [service] = cluster.services;
  if (!service) throw new Error('the cluster started no process');
  // A fresh database has no demo catalog: the SKU the orders buy.
  await service.putProduct('A123', {
    name: 'Widget',
    price: { amount: 1999, currency: 'USD' },
    onHand: 100,
  });
  return { api: service, services: cluster.services, flaky: false };
});

afterAll(async () => {
  await cluster?.destroy();
});

describe('what spans carry', () => {
  it('no span attribute holds an API key, a payment method or an email', () => {
    expect(receiver.spans.length).toBeGreaterThan(0);
    const secrets = [
      DEFAULT_KEYS.client,
      DEFAULT_KEYS.admin,
      ...placedBodies.flatMap((body) => [body.paymentMethod, body.email]),
    ];
    const leaks: string[] = [];
    for (const span of receiver.spans) {
      const values = [
        ...Object.entries(span.attributes),
        ...Object.entries(span.resource),
        ...span.events.flatMap((event) => Object.entries(event.attributes)),
      ];
      for (const [name, value] of values) {
        const text = JSON.stringify(value);
        for (const secret of secrets) {
          if (text.includes(secret)) leaks.push(`${span.name} ${name} holds ${secret}`);
        }
      }
    }
    expect(leaks).toEqual([]);
  });
});

describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('exports nothing, while log lines still carry trace ids', async () => {
    // Where an exporter would send by default (http://localhost:4318), if that port is free.
    const silent = await startOtlpReceiver({ port: 4318 }).catch(() => startOtlpReceiver());
    try {
      const service = await startService({
        env: { ...exportingEnv(), OTEL_EXPORTER_OTLP_ENDPOINT: '' },
      });
      const body = orderBody({ sku: 'A123' });
      const orderId = await place(service, body);
      await service.waitForTerminal(orderId);
      // The sentinel: a stopped service has exported all it ever would (shutdown flushes).
      expect(await service.stop()).toMatchObject({ code: 0 });
      expect(silent.requests).toBe(0);
      const request = logLines([service]).find(
        (line) => line.route === '/v1/orders' && line.orderId === orderId,
      );
      expect(request?.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(request?.traceId).not.toBe('0'.repeat(32));
    } finally {
      await silent.close();
    }
  });
});
