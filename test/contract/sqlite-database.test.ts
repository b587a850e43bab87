import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteBackend } from '../../src/adapters/sqlite/sqlite-backend.js';
import { RetryableError } from '../../src/domain/errors.js';
import type { Order } from '../../src/domain/order.js';
import { openBackends } from '../../src/runtime/backends.js';
import { loadConfig } from '../../src/runtime/config.js';
import { DatabaseClosedError, SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.js';
import { SqliteEventLog } from '../../src/adapters/sqlite/sqlite-event-log.js';
import { SqliteIdempotencyStore } from '../../src/adapters/sqlite/sqlite-idempotency-store.js';
import { SqliteOrderStore } from '../../src/adapters/sqlite/sqlite-order-store.js';
import { ManualClock } from './fixture.js';
import { Collector, eventually, makeOrder } from './support.js';

const MIGRATION = {
  id: 'test/1-items',
  sql: 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)',
};

describe('sqlite database and group-commit writer', () => {
  let dir: string;
  const open: { close(): void }[] = [];

  const database = (file = 'orderflow.db'): SqliteDatabase => {
    const db = new SqliteDatabase(path.join(dir, file), { otherCommitsCheckMs: 20 });
    open.push(db);
    return db;
  };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-sqlite-'));
  });

  afterEach(async () => {
    for (const db of open.splice(0)) db.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('opens the file in WAL mode and runs each migration once', () => {
    const db = database();
    db.migrate([MIGRATION]);
    db.migrate([MIGRATION]);
    db.close();
    const again = database();
    again.migrate([
      MIGRATION,
      { id: 'test/2-more', sql: 'ALTER TABLE items ADD COLUMN note TEXT' },
    ]);
    const raw = new Database(path.join(dir, 'orderflow.db'), { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.prepare('SELECT id FROM schema_migrations ORDER BY id').all()).toEqual([
        { id: 'test/1-items' },
        { id: 'test/2-more' },
      ]);
    } finally {
      raw.close();
    }
  });

  it('commits the writes of one tick in one transaction and resolves them after the commit', async () => {
    const db = database();
    db.migrate([MIGRATION]);
    const before = db.commits;
    const insert = (name: string) =>
      db.write((d) =>
        Number(
          d.statement<[string], never>('INSERT INTO items (name) VALUES (?)').run(name).changes,
        ),
      );
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => insert(`item-${i}`)));
    expect(results).toEqual(Array.from({ length: 100 }, () => 1));
    expect(db.commits - before).toBe(1);
    const other = new Database(path.join(dir, 'orderflow.db'), { readonly: true });
    try {
      expect(other.prepare('SELECT COUNT(*) AS n FROM items').get()).toEqual({ n: 100 });
    } finally {
      other.close();
    }
  });

  it('rolls back a failing op alone: its neighbours in the batch commit', async () => {
    const db = database();
    db.migrate([MIGRATION]);
    const insert = (name: string) =>
      db.write((d) => {
        d.statement<[string], never>('INSERT INTO items (name) VALUES (?)').run(name);
        return name;
      });
    const outcomes = await Promise.allSettled([
      insert('a'),
      db.write((d) => {
        d.statement<[string], never>('INSERT INTO items (name) VALUES (?)').run('half-done');
        throw new Error('op failed');
      }),
      insert('a'),
      insert('b'),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toEqual(new Error('op failed'));
    const names = db.statement<[], { name: string }>('SELECT name FROM items ORDER BY name').all();
    expect(names.map((row) => row.name)).toEqual(['a', 'b']);
  });

  /**
   * Another process takes the file's write lock, inserts a row and holds the lock for
   * `holdMs`, or until told to commit (a line on its stdin). Resolves once it holds the lock.
   */
  async function lockInOtherProcess(file: string, holdMs?: number) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const script = `
      const Database = require(${JSON.stringify(driver)});
      const db = new Database(${JSON.stringify(file)});
      db.exec("BEGIN IMMEDIATE; INSERT INTO items (name) VALUES ('other process')");
      const commit = () => { db.exec('COMMIT'); db.close(); process.exit(0); };
      process.stdout.write('locked\\n');
      ${holdMs === undefined ? '' : `setTimeout(commit, ${holdMs});`}
      process.stdin.once('data', commit);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    child.stdin.on('error', () => undefined);
    const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('locked\n');
    return {
      release: async () => {
        if (child.exitCode === null) child.stdin.write('commit\n');
        await exited;
      },
    };
  }

  it('waits for another process that holds the write lock, then commits its own writes', async () => {
    const db = database();
    db.migrate([MIGRATION]);
    // The writer waits inside its tick (this event loop stands still): the child lets go alone.
    const other = await lockInOtherProcess(db.path, 200);
    await db.write((d) =>
      d.statement<[string], never>('INSERT INTO items (name) VALUES (?)').run('this process'),
    );
    await other.release();
    const names = db.statement<[], { name: string }>('SELECT name FROM items ORDER BY id').all();
    expect(names.map((row) => row.name)).toEqual(['other process', 'this process']);
  });

  it('fails a write with a RetryableError when the lock stays taken past the busy timeout', async () => {
    const db = new SqliteDatabase(path.join(dir, 'orderflow.db'), { busyTimeoutMs: 50 });
    open.push(db);
    db.migrate([MIGRATION]);
    const other = await lockInOtherProcess(db.path);
    const failed = await db.write(() => 1).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(RetryableError);
    expect((failed as RetryableError).code).toBe('sqlite_unavailable');
    await other.release();
    await expect(db.write(() => 2)).resolves.toBe(2);
  });

  it('counts the orders of a file written before status counts were kept', async () => {
    const file = path.join(dir, 'orderflow.db');
    const before = new Database(file);
    before.exec(`
      CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL);
      INSERT INTO schema_migrations VALUES ('order-store/1-orders', 0);
      CREATE TABLE orders (order_id TEXT PRIMARY KEY, status TEXT NOT NULL, data TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE INDEX orders_status ON orders (status);
      INSERT INTO orders VALUES ('o1', 'PENDING', '{}', '', ''), ('o2', 'COMPLETED', '{}', '', ''),
        ('o3', 'COMPLETED', '{}', '', '');`);
    before.close();
    const store = new SqliteOrderStore(database());
    expect(await store.countByStatus()).toEqual({ PENDING: 1, COMPLETED: 2 });
    await store.create(makeOrder({ orderId: 'o4' }));
    expect(await store.countByStatus()).toEqual({ PENDING: 2, COMPLETED: 2 });
  });

  it('rejects writes after close', async () => {
    const db = database();
    db.close();
    await expect(db.write(() => 1)).rejects.toBeInstanceOf(DatabaseClosedError);
  });

  it('puts an order, its event and its idempotency record of one tick in one commit', async () => {
    const clock = new ManualClock();
    const hot = database();
    const orders = new SqliteOrderStore(hot);
    const log = new SqliteEventLog(hot, clock);
    const idempotency = new SqliteIdempotencyStore(hot, clock);
    const order = makeOrder();
    expect(await idempotency.begin('client', 'key-1', 'fp', 60_000, order.orderId)).toEqual({
      state: 'started',
    });
    const before = hot.commits;
    await Promise.all([
      orders.create(order),
      log.append([
        { id: `${order.orderId}.placed`, type: 'OrderPlaced', key: order.orderId, data: { order } },
      ]),
      idempotency.complete('client', 'key-1', {
        status: 202,
        body: { orderId: order.orderId },
        headers: {},
      }),
    ]);
    expect(hot.commits - before).toBe(1);
    await log.close();
    hot.close();

    const reopened = database();
    expect(await new SqliteOrderStore(reopened).get(order.orderId)).toEqual(order);
    expect(
      await new SqliteIdempotencyStore(reopened, clock).begin(
        'client',
        'key-1',
        'fp',
        60_000,
        order.orderId,
      ),
    ).toMatchObject({
      state: 'replay',
    });
    const collector = new Collector();
    const again = new SqliteEventLog(reopened, clock);
    again.consume({ group: 'g', types: ['OrderPlaced'], maxInFlight: 10 }, collector.deliver);
    await collector.waitFor(1);
    expect(collector.ids).toEqual([`${order.orderId}.placed`]);
    await again.close();
  });

  it('wakes its consumers for appends of another connection (another process)', async () => {
    const clock = new ManualClock();
    const consuming = new SqliteEventLog(database(), clock);
    const appending = new SqliteEventLog(database(), clock);
    // Appended after the consuming log opened, before it consumes: found when it starts.
    await appending.append([{ id: 'e1', type: 'Any', key: 'k', data: null }]);
    const collector = new Collector();
    consuming.consume({ group: 'g', types: [], maxInFlight: 10 }, collector.deliver);
    await collector.waitFor(1, 1_000);
    await appending.append([{ id: 'e2', type: 'Any', key: 'k', data: null }]);
    await collector.waitFor(2, 1_000);
    expect(collector.ids).toEqual(['e1', 'e2']);
    await consuming.close();
    await appending.close();
  });

  it('applies a redrive and a replay asked for on another connection (an api process)', async () => {
    const clock = new ManualClock();
    const worker = new SqliteEventLog(database(), clock);
    const api = new SqliteEventLog(database(), clock);
    await api.append([
      { id: 'e1', type: 'T', key: 'k1', data: null },
      { id: 'e2', type: 'T', key: 'k2', data: null },
    ]);
    let broken = true;
    const collector = new Collector((d) => {
      if (d.event.id === 'e1' && broken) d.term('broken');
      else d.ack();
    });
    worker.consume({ group: 'g', types: [], maxInFlight: 10 }, collector.deliver);
    await collector.waitFor(2);
    const [letter] = await eventually(async () => {
      const found = await api.deadLetters({ limit: 10 });
      expect(found).toHaveLength(1);
      return found;
    });
    broken = false;
    expect(await api.redrive(letter?.id ?? '')).toBe(true);
    await collector.waitFor(3, 1_000);
    // Redriven with a fresh set of attempts.
    expect(collector.deliveries[2]).toMatchObject({ attempt: 1, event: { id: 'e1' } });

    await api.replay('g', { seq: 1 });
    await collector.waitFor(5, 1_000);
    expect(collector.ids).toEqual(['e1', 'e2', 'e1', 'e1', 'e2']);
    const group = () => {
      const raw = new Database(path.join(dir, 'orderflow.db'), { readonly: true });
      try {
        return raw.prepare('SELECT offset, rewind_to FROM consumer_groups').all();
      } finally {
        raw.close();
      }
    };
    await eventually(() => expect(group()).toEqual([{ offset: 2, rewind_to: null }]));
    expect(await api.deadLetters({ limit: 10 })).toEqual([]);
    await worker.close();
    await api.close();
  });

  it('counts a replay asked of a group that another process consumes as lag at once', async () => {
    const clock = new ManualClock();
    const worker = new SqliteEventLog(database(), clock);
    const api = new SqliteEventLog(database(), clock);
    await api.append([
      { id: 'e1', type: 'T', key: 'k1', data: null },
      { id: 'e2', type: 'T', key: 'k2', data: null },
    ]);
    const collector = new Collector();
    const subscription = worker.consume(
      { group: 'g', types: [], maxInFlight: 10 },
      collector.deliver,
    );
    await collector.waitFor(2);
    await subscription.stop();
    await eventually(async () => expect((await api.stats()).g?.lag).toBe(0));
    // Nobody consumes the group now: the request waits in the file, and the group is behind.
    await api.replay('g', { seq: 1 });
    expect((await api.stats()).g).toEqual({ lag: 2, inFlight: 0, dlq: 0 });
    await worker.close();
    await api.close();
  });

  it('tells watchers of an order about changes written by another connection', async () => {
    const watching = new SqliteOrderStore(database());
    const writing = new SqliteOrderStore(database());
    const order = makeOrder();
    await writing.create(order);
    const seen: Order[] = [];
    const sentinel: Order[] = [];
    const unwatch = watching.watch(order.orderId, (changed) => seen.push(changed));
    watching.watch(order.orderId, (changed) => sentinel.push(changed));
    await writing.transition(order.orderId, 'PENDING', 'RESERVED', '2030-01-01T12:00:01.000Z');
    await eventually(() => expect(seen.map((o) => o.status)).toEqual(['RESERVED']), 1_000);
    await writing.requestCancel(order.orderId);
    await eventually(() => expect(seen.map((o) => o.cancelRequested)).toEqual([undefined, true]));
    unwatch();
    await writing.transition(order.orderId, 'RESERVED', 'CANCELLED', '2030-01-01T12:00:02.000Z');
    await eventually(() => expect(sentinel.map((o) => o.status)).toContain('CANCELLED'));
    expect(seen).toHaveLength(2);
    expect(sentinel).toHaveLength(3);
    await watching.close();
    await writing.close();
  });

  it('applies ORDERFLOW_SQLITE_SYNC as PRAGMA synchronous to both embedded files', async () => {
    const clock = new ManualClock();
    const synchronous = (db: SqliteDatabase) =>
      db.statement<[], { synchronous: number }>('PRAGMA synchronous').get()?.synchronous;
    for (const [setting, level] of [
      [undefined, 1],
      ['normal', 1],
      ['full', 2],
    ] as const) {
      const dataDir = path.join(dir, `sync-${setting ?? 'default'}`);
      const config = loadConfig({ ORDERFLOW_DATA_DIR: dataDir, ORDERFLOW_SQLITE_SYNC: setting });
      const backends = await openBackends(config, clock);
      try {
        expect('hot' in backends && 'sotFile' in backends).toBe(true);
        const { hot, sotFile } = backends as unknown as {
          hot: SqliteDatabase;
          sotFile: SqliteDatabase;
        };
        expect([synchronous(hot), synchronous(sotFile)]).toEqual([level, level]);
      } finally {
        await backends.close();
      }
    }
  });

  it('opens the embedded backend: two files in a new data dir, adapters on them', async () => {
    const dataDir = path.join(dir, 'nested', 'data');
    const clock = new ManualClock();
    const backend = openSqliteBackend(dataDir, clock);
    await backend.sot.putProduct({
      sku: 'A123',
      name: 'Widget',
      price: { amount: 1999, currency: 'USD' },
      onHand: 100,
    });
    await backend.stock.reconcile(await backend.sot.products());
    const order = makeOrder();
    await backend.orders.create(order);
    await backend.outbox.add(order.orderId, 'COMPLETED');
    expect(await backend.log.ping()).toBe(true);
    expect(await backend.sot.ping()).toBe(true);
    await backend.close();
    await backend.close();
    expect((await fs.readdir(dataDir)).filter((f) => f.endsWith('.db')).sort()).toEqual([
      'orderflow.db',
      'sot.db',
    ]);

    const again = openSqliteBackend(dataDir, clock);
    try {
      expect((await again.stock.items(['A123'])).get('A123')?.available).toBe(100);
      expect(await again.orders.get(order.orderId)).toEqual(order);
      expect(await again.outbox.size()).toBe(1);
    } finally {
      await again.close();
    }
  });
});
