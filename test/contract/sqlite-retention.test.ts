import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteBackend, type SqliteBackend } from '../../src/adapters/sqlite/sqlite-backend.js';
import { SqliteEventLog } from '../../src/adapters/sqlite/sqlite-event-log.js';
import type { EventLog, NewEvent, Subscription } from '../../src/ports/event-log.js';
import type { RetentionPolicy } from '../../src/ports/retention.js';
import { sqliteRetentionCaches, sqliteRetentionLog } from '../helpers/backends.js';
import { ManualClock } from './fixture.js';
import { appendSentinel, Collector, eventually, makeOrder } from './support.js';

const POLICY: RetentionPolicy = {
  logMs: 60_000,
  orderMs: 60_000,
  deadLettersPerGroup: 2,
  logMaxBytes: 0,
};
const PAST = 61_000;
const EXPIRES = Date.UTC(2030, 0, 1, 12, 15);

function events(prefix: string, count: number, key = prefix, size = 16): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: 'T',
    key,
    data: { pad: 'x'.repeat(size) },
  }));
}

/** Reads the file as another connection would, closed again at once. */
function query<T>(file: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<unknown[], T>(sql).all(...params);
  } finally {
    db.close();
  }
}

function count(file: string, table: string, where = '1 = 1'): number {
  return query<{ n: number }>(file, `SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`)[0]?.n ?? 0;
}

function pragma(file: string, name: string): number {
  return Object.values(query<Record<string, number>>(file, `PRAGMA ${name}`)[0] ?? {})[0] ?? 0;
}

describe('sqlite retention in the file', () => {
  const cleanups: (() => Promise<void>)[] = [];
  const subscriptions: Subscription[] = [];

  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((subscription) => subscription.stop()));
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const logFixture = async (policy = POLICY) => {
    const fixture = await sqliteRetentionLog(policy);
    cleanups.push(() => fixture.dispose());
    return fixture;
  };
  const consume = (log: EventLog, group: string, collector: Collector): void => {
    subscriptions.push(log.consume({ group, types: ['T'], maxInFlight: 500 }, collector.deliver));
  };

  it('removes settled old events with their outcome rows, keeping dead-lettered and retrying ones', async () => {
    const fixture = await logFixture();
    const log = fixture.open();
    const collector = new Collector((delivery) => {
      const { id } = delivery.event;
      if (id === 'bad-0' && delivery.attempt === 1) delivery.term('bad');
      else if (id === 'slow-0') delivery.nak(3_600_000, 'later');
      else if (id === 'flaky-0' && delivery.attempt === 1) delivery.nak(0, 'once');
      else delivery.ack();
    });
    consume(log, 'g', collector);
    await log.append([
      ...events('ok', 10),
      ...events('bad', 1),
      ...events('slow', 1),
      ...events('flaky', 1),
    ]);
    await collector.waitForId('flaky-0');
    await eventually(() => expect(collector.ids.filter((id) => id === 'flaky-0')).toHaveLength(2));
    await appendSentinel(log, [collector]);
    expect(count(fixture.file, 'retries')).toBe(3);
    await fixture.pass(PAST);

    // The sentinel was acked too: 10 ok, the flaky one (and its acked retries row), the sentinel.
    expect(await log.applyRetention()).toBe(12);
    expect(query<{ id: string }>(fixture.file, 'SELECT id FROM events ORDER BY seq')).toEqual([
      { id: 'bad-0' },
      { id: 'slow-0' },
    ]);
    expect(
      query<{ state: string }>(fixture.file, 'SELECT state FROM retries ORDER BY seq'),
    ).toEqual([{ state: 'dead' }, { state: 'waiting' }]);

    const [letter] = await log.deadLetters({ group: 'g', limit: 1 });
    expect(await log.discard(letter?.id ?? '')).toBe(true);
    expect(await log.applyRetention()).toBe(1);
    expect(count(fixture.file, 'events')).toBe(1);
    expect(count(fixture.file, 'retries')).toBe(1);
    expect(await log.applyRetention()).toBe(0);
  });

  it('holds back at the lowest offset of every group, a pending replay and a stopped group included', async () => {
    const fixture = await logFixture();
    const log = fixture.open();
    const ahead = new Collector();
    consume(log, 'ahead', ahead);
    await log.append(events('e', 10));
    await appendSentinel(log, [ahead]);
    // A group another process consumes, its row at seq 4, and a replay asked of it from 3.
    const writer = new Database(fixture.file);
    writer
      .prepare(`INSERT INTO consumer_groups (name, offset, types) VALUES ('other', 4, '["T"]')`)
      .run();
    writer.close();
    await fixture.pass(PAST);
    expect(await log.applyRetention()).toBe(4);
    await log.replay('other', { seq: 3 });
    expect(await log.applyRetention()).toBe(0);
    expect(count(fixture.file, 'events')).toBe(7);
  });

  it('deletes in windows that let other writes commit in between', async () => {
    const fixture = await logFixture();
    const log = fixture.open();
    const collector = new Collector();
    consume(log, 'g', collector);
    await log.append(events('e', 2_000));
    await appendSentinel(log, [collector], 'T', 20_000);
    await fixture.pass(PAST);
    const retention = log.applyRetention();
    await new Promise((resolve) => setImmediate(resolve));
    await log.append(events('late', 1));
    const oldLeftAtAppend = count(fixture.file, 'events', "id LIKE 'e-%'");
    expect(await retention).toBe(2_001);
    // The append committed between two windows: old events were still there.
    expect(oldLeftAtAppend).toBeGreaterThan(0);
    expect(count(fixture.file, 'events')).toBe(1);
  });

  it('gives the pages of removed events back: the file shrinks', async () => {
    const fixture = await logFixture();
    const log = fixture.open();
    const collector = new Collector();
    consume(log, 'g', collector);
    await log.append(events('big', 3_000, 'big', 1_000));
    await appendSentinel(log, [collector], 'T', 20_000);
    expect(pragma(fixture.file, 'auto_vacuum')).toBe(2);
    const pagesBefore = pragma(fixture.file, 'page_count');
    const sizeBefore = fs.statSync(fixture.file).size;
    await fixture.pass(PAST);
    expect(await log.applyRetention()).toBe(3_001);
    expect(pragma(fixture.file, 'freelist_count')).toBe(0);
    expect(pragma(fixture.file, 'page_count')).toBeLessThan(pagesBefore / 4);
    expect(fs.statSync(fixture.file).size).toBeLessThan(sizeBefore / 2);
  });

  it('converts a file made without incremental vacuum once, keeping its data', async () => {
    const fixture = await logFixture();
    const plain = new SqliteEventLog(fixture.file, new ManualClock());
    await plain.append(events('kept', 3));
    await plain.close();
    expect(pragma(fixture.file, 'auto_vacuum')).toBe(0);
    const log = fixture.open();
    expect(pragma(fixture.file, 'auto_vacuum')).toBe(2);
    expect((await log.trace('kept')).map((trace) => trace.event.id)).toEqual([
      'kept-0',
      'kept-1',
      'kept-2',
    ]);
  });

  it('past the dead-letter limit records the term as a waiting retry that says the queue is full', async () => {
    const fixture = await logFixture();
    const log = fixture.open();
    const collector = new Collector((delivery) => delivery.term('poison'));
    consume(log, 'g', collector);
    await log.append(events('p', 3));
    await eventually(() => expect(count(fixture.file, 'retries', "state = 'waiting'")).toBe(1));
    expect(count(fixture.file, 'dead_letters')).toBe(2);
    const [trace] = await log.trace('p').then((traces) => traces.slice(2));
    expect(trace?.outcomes['g']).toMatchObject({
      state: 'retrying',
      lastError: expect.stringContaining('dead-letter queue of group g is full') as unknown,
    });
    await fixture.pass(PAST);
    await log.applyRetention();
    expect(count(fixture.file, 'events')).toBe(3);
  });

  it('evicts settled orders and synced reservation records in the file, keeping the counts', async () => {
    const fixture = await sqliteRetentionCaches(POLICY);
    cleanups.push(() => fixture.dispose());
    const { orders, stock } = fixture.open();
    const settled = Array.from({ length: 1_200 }, () => makeOrder({ status: 'COMPLETED' }));
    const unsettled = makeOrder({ status: 'COMPLETED' });
    for (const order of [...settled, unsettled]) await orders.create(order);
    await orders.settled(settled.map(({ orderId }) => ({ orderId, status: 'COMPLETED' })));
    await stock.reconcile([
      { sku: 'A', name: 'A', price: { amount: 1, currency: 'USD' }, onHand: 9 },
    ]);
    for (const id of ['sold', 'held']) await stock.reserve(id, [{ sku: 'A', qty: 1 }], EXPIRES);
    await stock.commit('sold');
    await stock.markSynced('sold', true);
    await stock.markSynced('held', false);
    await fixture.pass(PAST);

    expect(await orders.evictSettled()).toBe(1_200);
    expect(count(fixture.file, 'orders')).toBe(1);
    expect(await orders.countByStatus()).toEqual({ COMPLETED: 1_201 });
    expect(await stock.evictSettled()).toBe(1);
    expect(query(fixture.file, 'SELECT order_id, state FROM reservations')).toEqual([
      { order_id: 'held', state: 'held' },
    ]);
    expect(pragma(fixture.file, 'freelist_count')).toBe(0);
  });

  describe('openSqliteBackend', () => {
    let backend: SqliteBackend | undefined;
    afterEach(async () => {
      await backend?.close();
    });

    it('hands the retention to the log and the caches of the hot file', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderflow-retention-backend-'));
      cleanups.push(() => fs.promises.rm(dir, { recursive: true, force: true }));
      const clock = new ManualClock();
      backend = openSqliteBackend(dir, clock, { retention: POLICY });
      const collector = new Collector();
      consume(backend.log, 'g', collector);
      await backend.log.append(events('e', 3));
      await appendSentinel(backend.log, [collector]);
      const order = makeOrder({ status: 'CANCELLED' });
      await backend.orders.create(order);
      await backend.orders.settled([{ orderId: order.orderId, status: 'CANCELLED' }]);
      clock.advance(PAST);
      expect(await backend.log.applyRetention()).toBe(4);
      expect(await backend.orders.evictSettled()).toBe(1);
      expect(await backend.stock.evictSettled()).toBe(0);
      const file = path.join(dir, 'orderflow.db');
      expect(pragma(file, 'auto_vacuum')).toBe(2);
    });
  });
});
