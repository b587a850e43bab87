/**
 * Retention scaled out (Redis + NATS JetStream + PostgreSQL), with retentions of seconds:
 * the events stream loses what every group has settled, Redis the orders PostgreSQL holds,
 * and a group whose only process is stopped keeps every event it has not settled — the
 * retention guard raises the stream's max_age over it — until it comes back for them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsNames } from '../../src/adapters/nats/nats-subjects.js';
import { historyStatuses, type OrderView } from '../helpers/api.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { ENGINES } from '../helpers/engines.js';
import {
  countAll,
  deadLettersOf,
  discardAll,
  LEDGER_CONSUMER,
  placeMixedBatch,
  POISON_CONSUMER,
  replayToEnd,
  waitForLedger,
} from '../helpers/retention.js';
import type { Service } from '../helpers/service.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { parsePrometheusText } from '../ops/prometheus-text.js';

const RETENTION_MS = 2_000;
const NANOS_PER_MS = 1_000_000;

let cluster: Cluster;
let api: Service;
let ledgerWorker: Service;
let ledgerFile: string;
let redis: Redis;
let nc: NatsConnection;
let jsm: JetStreamManager;
let names: NatsNames;
const placed = new Map<string, OrderView>();
let firstBatch: string[] = [];
let secondBatch: string[] = [];

const place = (size: number): Promise<string[]> => placeMixedBatch(api, size, placed);

async function streamState(): Promise<{ messages: number; maxAgeMs: number }> {
  const info = await jsm.streams.info(names.eventsStream);
  return { messages: info.state.messages, maxAgeMs: info.config.max_age / NANOS_PER_MS };
}

async function cachedOrders(ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return redis.exists(...ids.map((id) => `${cluster.namespace}:order:${id}`));
}

/** PostgreSQL holds every terminal order once, in the status the API last showed. */
async function sotExact(): Promise<boolean> {
  const rows = await cluster.sql<{ order_id: string; status: string }>(
    'SELECT order_id, status FROM orders',
  );
  if (rows.length !== placed.size) return false;
  return rows.every((row) => placed.get(row.order_id)?.status === row.status);
}

beforeAll(async () => {
  ledgerFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'orderflow-ledger-')), 'ledger');
  cluster = await startCluster([], {
    ORDERFLOW_LOG_RETENTION: `${RETENTION_MS}ms`,
    ORDERFLOW_ORDER_RETENTION: `${RETENTION_MS}ms`,
    ORDERFLOW_TEST_LEDGER: ledgerFile,
  });
  api = await cluster.add('all', {}, ['--consumer', POISON_CONSUMER]);
  ledgerWorker = await cluster.add('worker', {}, ['--consumer', LEDGER_CONSUMER]);
  redis = new Redis(ENGINES.redis);
  nc = await connect({ servers: ENGINES.nats });
  jsm = await jetstreamManager(nc);
  names = new NatsNames(cluster.namespace);
  // A shop's own catalog: the demo's two SKUs, one of them out of stock.
  await api.putProduct('A123', {
    name: 'Widget',
    price: { amount: 1999, currency: 'USD' },
    onHand: 1000,
  });
  await api.putProduct('B456', {
    name: 'Gadget',
    price: { amount: 4900, currency: 'USD' },
    onHand: 0,
  });
}, 180_000);

afterAll(async () => {
  redis.disconnect();
  await nc.close();
  await cluster.destroy();
  fs.rmSync(path.dirname(ledgerFile), { recursive: true, force: true });
});

describe('retention scaled out (retentions of 2 s)', () => {
  it('sets the events stream max_age from ORDERFLOW_LOG_RETENTION', async () => {
    expect((await streamState()).maxAgeMs).toBe(RETENTION_MS);
  });

  it('runs a first batch through every group, the ledger on its own worker', async () => {
    firstBatch = await place(20);
    await waitForLedger(ledgerFile, firstBatch);
    await waitFor(async () => ((await sotExact()) ? true : undefined), {
      timeoutMs: 30_000,
      what: 'PostgreSQL to hold the first batch',
    });
  });

  it('keeps the events a stopped group has not settled past the retention', async () => {
    await ledgerWorker.stop();
    const secondStart = Date.now();
    secondBatch = await place(10);
    // The guard raises max_age over the ledger's oldest unsettled event…
    await waitFor(async () => ((await streamState()).maxAgeMs > RETENTION_MS ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the retention guard to raise max_age',
    });
    // …and keeps raising it while the ledger stays away, several retentions long.
    await sleep(RETENTION_MS * 4);
    expect((await streamState()).messages).toBeGreaterThan(0);
    // A replay of another group over the kept events runs to its end.
    const job = await replayToEnd(api, 'analytics', secondStart);
    expect(job.through).toBeGreaterThanOrEqual(job.from);
    expect(job.delivered).toBe(job.through - job.from + 1);
  });

  it('evicts the orders PostgreSQL holds from Redis and answers them from there', async () => {
    const all = [...firstBatch, ...secondBatch];
    await waitFor(async () => ((await sotExact()) ? true : undefined), {
      timeoutMs: 30_000,
      what: 'PostgreSQL to hold every order',
    });
    await waitFor(async () => ((await cachedOrders(all)) === 0 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the settled orders to leave Redis',
    });
    for (const id of all) {
      const order = await api.getOrder(id);
      const seen = placed.get(id);
      expect(order.status).toBe(seen?.status);
      expect(historyStatuses(order)).toEqual(seen && historyStatuses(seen));
      expect(order.items).toEqual(seen?.items);
    }
    expect(countAll((await api.stats()).orders)).toBe(all.length);
  });

  it('delivers every kept event to the stopped group when it comes back', async () => {
    ledgerWorker = await cluster.add('worker', {}, ['--consumer', LEDGER_CONSUMER]);
    await waitForLedger(ledgerFile, secondBatch);
    // Settled by every group: the stream empties and max_age comes back down.
    await waitFor(
      async () => {
        const state = await streamState();
        return state.messages === 0 && state.maxAgeMs === RETENTION_MS ? true : undefined;
      },
      { timeoutMs: 30_000, what: 'the events stream to empty with max_age back at 2 s' },
    );
  });

  it('keeps the dead letters after their events are gone; discarding drops the gauge', async () => {
    const completed = [...placed.values()].filter((o) => o.status === 'COMPLETED').length;
    const letters = await deadLettersOf(api, 'poison');
    expect(letters).toHaveLength(completed);
    const gauge = async (): Promise<number> =>
      parsePrometheusText((await api.request('GET', '/metrics')).text).find(
        'orderflow_consumer_dead_letters',
        { group: 'poison' },
      )[0]?.value ?? 0;
    expect(await gauge()).toBe(completed);
    await discardAll(api, letters);
    expect(await deadLettersOf(api, 'poison')).toHaveLength(0);
    expect(await gauge()).toBe(0);
  });
});
