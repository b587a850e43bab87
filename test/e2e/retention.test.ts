/**
 * Retention on the embedded default, with retentions of seconds: the log drops what every
 * group has settled, the order cache the orders the SoT holds, and nothing still needed
 * goes — a stopped group's events, a dead letter. Read from the SQLite file directly.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQLITE_FILES } from '../../src/adapters/sqlite/sqlite-files.js';
import { historyStatuses, type OrderView } from '../helpers/api.js';
import { waitForSotConsistent } from '../helpers/invariants.js';
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
import { startService, stopAllServices, type Env, type Service } from '../helpers/service.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { parsePrometheusText } from '../ops/prometheus-text.js';

const RETENTION_MS = 2_000;

let service: Service;
let dataDir: string;
let ledgerFile: string;
let env: Env;
/** Every order placed, as last seen terminal. */
const placed = new Map<string, OrderView>();
let firstBatch: string[] = [];
let secondBatch: string[] = [];

function count(sql: string, orderIds: readonly string[]): number {
  const db = new Database(path.join(dataDir, SQLITE_FILES.hot), { readonly: true });
  try {
    return db.prepare<[string], { n: number }>(sql).get(JSON.stringify(orderIds))?.n ?? 0;
  } finally {
    db.close();
  }
}

const IN_IDS = 'IN (SELECT value FROM json_each(?))';
/** Rows of the log for these orders (events are keyed by order id). */
const eventsOf = (ids: readonly string[]): number =>
  count(`SELECT COUNT(*) AS n FROM events WHERE key ${IN_IDS}`, ids);
/** Dead letters of these orders: their events are kept whatever their age. */
const lettersOf = (ids: readonly string[]): number =>
  count(
    `SELECT COUNT(*) AS n FROM dead_letters d JOIN events e ON e.seq = d.seq WHERE e.key ${IN_IDS}`,
    ids,
  );
const cachedOf = (ids: readonly string[]): number =>
  count(`SELECT COUNT(*) AS n FROM orders WHERE order_id ${IN_IDS}`, ids);

const place = (size: number): Promise<string[]> => placeMixedBatch(service, size, placed);

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const scrape = parsePrometheusText((await service.request('GET', '/metrics')).text);
  return scrape.find(name, labels)[0]?.value ?? 0;
}

/** Same data dir and port, these consumer modules. */
async function restart(consumers: readonly string[]): Promise<void> {
  await service.stop();
  service = await startService({
    dataDir,
    env,
    port: service.port,
    args: ['--consumer', ...consumers],
  });
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderflow-retention-'));
  ledgerFile = path.join(dataDir, 'ledger.txt');
  env = {
    ORDERFLOW_LOG_RETENTION: `${RETENTION_MS}ms`,
    ORDERFLOW_ORDER_RETENTION: `${RETENTION_MS}ms`,
    ORDERFLOW_SYNC_OUT_INTERVAL: '200ms',
    ORDERFLOW_RATE_LIMIT: '0',
    ORDERFLOW_TEST_LEDGER: ledgerFile,
  };
  service = await startService({
    dataDir,
    env,
    args: ['--consumer', LEDGER_CONSUMER, POISON_CONSUMER],
  });
}, 120_000);

afterAll(async () => {
  await stopAllServices();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('retention on the embedded default (retentions of 2 s)', () => {
  it('runs a first batch through every consumer, the ledger included', async () => {
    firstBatch = await place(20);
    await waitForLedger(ledgerFile, firstBatch);
    expect(await waitForSotConsistent(service, placed.values(), ['A123'])).toEqual([]);
  });

  it('keeps every event a stopped group has not settled, past the retention', async () => {
    // The ledger's process goes; its group stays, at its position.
    await restart([POISON_CONSUMER]);
    const secondStart = Date.now();
    secondBatch = await place(10);
    expect(await waitForSotConsistent(service, placed.values(), ['A123'])).toEqual([]);
    const kept = eventsOf(secondBatch);
    expect(kept).toBeGreaterThan(0);
    // Past the retention, several passes later, the first batch's settled events are gone…
    await waitFor(() => (eventsOf(firstBatch) === lettersOf(firstBatch) ? true : undefined), {
      timeoutMs: 30_000,
      what: "the first batch's settled events to be removed",
    });
    await sleep(RETENTION_MS * 2);
    // …and the second batch's, which the ledger has not seen, are all still there.
    expect(eventsOf(secondBatch)).toBe(kept);
    // A replay of another group over them runs to its end.
    const job = await replayToEnd(service, 'analytics', secondStart);
    expect(job.through).toBeGreaterThanOrEqual(job.from);
    expect(job.delivered).toBe(job.through - job.from + 1);
  });

  it('evicts settled orders from the cache and answers them from the SoT', async () => {
    const all = [...firstBatch, ...secondBatch];
    await waitFor(() => (cachedOf(all) === 0 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the settled orders to leave the order cache',
    });
    for (const id of all) {
      const order = await service.getOrder(id);
      const seen = placed.get(id);
      expect(order.status).toBe(seen?.status);
      expect(historyStatuses(order)).toEqual(seen && historyStatuses(seen));
      expect(order.items).toEqual(seen?.items);
      expect(order.total).toEqual(seen?.total);
    }
    // Still counted by status: they are orders, only no longer cached.
    expect(countAll((await service.stats()).orders)).toBe(all.length);
    expect(await waitForSotConsistent(service, placed.values(), ['A123'])).toEqual([]);
  });

  it('delivers every kept event to the stopped group when it comes back', async () => {
    await restart([LEDGER_CONSUMER, POISON_CONSUMER]);
    await waitForLedger(ledgerFile, secondBatch);
    // Settled by every group now: they go too, all but the dead letters'.
    await waitFor(() => (eventsOf(secondBatch) === lettersOf(secondBatch) ? true : undefined), {
      timeoutMs: 30_000,
      what: "the second batch's events to be removed once settled",
    });
  });

  it('never removes a dead letter; discarding it does, and the gauge drops', async () => {
    const completed = [...placed.values()].filter((o) => o.status === 'COMPLETED').length;
    const letters = await deadLettersOf(service, 'poison');
    expect(letters).toHaveLength(completed);
    // The letters' events outlived the retention many times over.
    expect(eventsOf(letters.map((letter) => letter.event.key))).toBe(completed);
    expect(await metric('orderflow_consumer_dead_letters', { group: 'poison' })).toBe(completed);
    await discardAll(service, letters);
    expect(await deadLettersOf(service, 'poison')).toHaveLength(0);
    expect(await metric('orderflow_consumer_dead_letters', { group: 'poison' })).toBe(0);
    // With no letter holding them, the next passes remove those events as well.
    await waitFor(() => (eventsOf([...placed.keys()]) === 0 ? true : undefined), {
      timeoutMs: 30_000,
      what: "the discarded letters' events to be removed",
    });
    expect(await metric('orderflow_retention_removed_total', { store: 'events' })).toBeGreaterThan(
      0,
    );
  });
});
