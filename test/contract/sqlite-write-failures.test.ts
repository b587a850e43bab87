/**
 * A SQLite file that cannot be written for a while (read-only, or a full disk) must not cost
 * an event: the group-commit writer rejects the callers of a failed tick and goes on working,
 * and a consumer group never moves its offset past an event whose outcome (ack, retry record
 * or dead letter) did not commit. A spell is made on the writer's own connection with
 * `PRAGMA query_only`, a full disk with a `max_page_count` the file has reached.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RetryableError } from '../../src/domain/errors.js';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.js';
import { SqliteEventLog } from '../../src/adapters/sqlite/sqlite-event-log.js';
import type { Delivery, NewEvent } from '../../src/ports/event-log.js';
import { ManualClock } from './fixture.js';
import { Collector, eventually } from './support.js';

const GROUP = 'g';
const NAK_DELAY_MS = 100;

/** Ack ends at once; Nak is retried once, then acked; Poison is dead-lettered. */
type Plan = 'Ack' | 'Nak' | 'Poison';
const PLANS: readonly Plan[] = ['Ack', 'Nak', 'Poison'];

function plannedEvents(count: number): NewEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    return { id: `e${n}`, type: PLANS[i % PLANS.length] as Plan, key: `k${n}`, data: { n } };
  });
}

function follow(delivery: Delivery): void {
  const type = delivery.event.type as Plan;
  if (type === 'Poison') delivery.term('poison');
  else if (type === 'Nak' && delivery.attempt === 1) delivery.nak(NAK_DELAY_MS, 'later');
  else delivery.ack();
}

function readOnly(db: SqliteDatabase, on: boolean): void {
  db.statement(`PRAGMA query_only = ${on ? 'ON' : 'OFF'}`).run();
}

/** Fills the file up to a `max_page_count` it has reached: a dead letter no longer fits. */
function fillDisk(db: SqliteDatabase): void {
  const pages = db.statement<[], { page_count: number }>('PRAGMA page_count').get()?.page_count;
  db.statement(`PRAGMA max_page_count = ${pages}`).get();
  const filler = db.statement<[string], never>(
    "INSERT INTO dead_letters (id, group_name, seq, attempts, last_error, at) VALUES (?, 'f', 0, 0, '', 0)",
  );
  for (let n = 0; ; n++) {
    try {
      filler.run(n.toString(36));
    } catch (error) {
      // The adapter's statements say what the driver said, as a RetryableError.
      expect(error).toBeInstanceOf(RetryableError);
      expect(((error as RetryableError).cause as { code?: string }).code).toBe('SQLITE_FULL');
      return;
    }
  }
}

function freeDisk(db: SqliteDatabase): void {
  db.statement('PRAGMA max_page_count = 1073741823').get();
}

describe('sqlite: writes that fail for a spell', () => {
  let dir: string;
  let file: string;
  let clock: ManualClock;
  const open: { close(): unknown }[] = [];

  const database = (): SqliteDatabase => {
    const db = new SqliteDatabase(file);
    open.push(db);
    return db;
  };

  const eventLog = (db: SqliteDatabase): SqliteEventLog => {
    const log = new SqliteEventLog(db, clock);
    open.unshift(log);
    return log;
  };

  /** What another process sees in the file. */
  const committed = <T>(sql: string, ...params: unknown[]): T[] => {
    const reader = new Database(file, { readonly: true });
    try {
      return reader.prepare<unknown[], T>(sql).all(...params);
    } finally {
      reader.close();
    }
  };

  /**
   * Appends `count` planned events and hands them out while the file is read-only; lifts
   * the spell once every outcome written meanwhile has failed.
   */
  const throughReadOnlySpell = async (db: SqliteDatabase, log: SqliteEventLog, count: number) => {
    await log.append(plannedEvents(count));
    readOnly(db, true);
    const collector = new Collector(follow);
    const subscription = log.consume(
      { group: GROUP, types: [], maxInFlight: 50 },
      collector.deliver,
    );
    await collector.waitFor(count);
    // Queued after those outcomes: once it has failed, they have been tried.
    await expect(db.write(() => undefined)).rejects.toThrow();
    readOnly(db, false);
    return { collector, subscription };
  };

  /** Each event of `plannedEvents` as the group must end it. */
  const settled = async (log: SqliteEventLog, count: number): Promise<void> => {
    const expected = plannedEvents(count).map((event) => ({
      id: event.id,
      state: event.type === 'Poison' ? 'dead' : 'acked',
    }));
    await eventually(async () => {
      const outcomes = [];
      for (const event of plannedEvents(count)) {
        const [trace] = await log.trace(event.key);
        outcomes.push({ id: event.id, state: trace?.outcomes[GROUP]?.state });
      }
      expect(outcomes).toEqual(expected);
      const dead = (await log.deadLetters({ limit: 100 })).filter(
        (letter) => letter.group === GROUP,
      );
      expect(dead.map((letter) => letter.event.id).sort()).toEqual(
        expected
          .filter((e) => e.state === 'dead')
          .map((e) => e.id)
          .sort(),
      );
    }, 10_000);
  };

  /** After a reopen, only a new event is delivered: nothing settled comes back. */
  const onlyNewAfterReopen = async (db: SqliteDatabase, log: SqliteEventLog): Promise<void> => {
    await log.close();
    db.close();
    const again = eventLog(database());
    const after = new Collector();
    again.consume({ group: GROUP, types: [], maxInFlight: 50 }, after.deliver);
    await again.append([{ id: 'sentinel', type: 'Ack', key: 'sentinel', data: null }]);
    await after.waitFor(1);
    expect(after.ids).toEqual(['sentinel']);
  };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-sqlite-fail-'));
    file = path.join(dir, 'orderflow.db');
    clock = new ManualClock();
  });

  afterEach(async () => {
    for (const item of open.splice(0)) await item.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('group-commit writer', () => {
    const CHILDREN = {
      id: 'test/1-parents-children',
      sql: `CREATE TABLE parents (id INTEGER PRIMARY KEY);
        CREATE TABLE children (id INTEGER PRIMARY KEY,
          parent INTEGER NOT NULL REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)`,
    };
    const insertParent = (db: SqliteDatabase, id: number) =>
      db.write((d) => d.statement<[number], never>('INSERT INTO parents (id) VALUES (?)').run(id));

    it('rejects every caller of a tick whose COMMIT fails, and commits the next ticks', async () => {
      const db = database();
      db.migrate([CHILDREN]);
      const before = db.commits;
      const tick = await Promise.allSettled([
        insertParent(db, 1),
        // A deferred foreign key is checked only at COMMIT: the whole tick fails there.
        db.write((d) =>
          d.statement<[], never>('INSERT INTO children (id, parent) VALUES (1, 99)').run(),
        ),
        insertParent(db, 2),
      ]);
      expect(tick.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect(db.commits).toBe(before);
      expect(committed('SELECT id FROM parents')).toEqual([]);

      await Promise.all([insertParent(db, 3), insertParent(db, 4)]);
      await insertParent(db, 5);
      expect(db.commits).toBe(before + 2);
      expect(committed<{ id: number }>('SELECT id FROM parents ORDER BY id')).toEqual([
        { id: 3 },
        { id: 4 },
        { id: 5 },
      ]);
    });

    it('resolves a write only after a real COMMIT, also when a failure left a transaction open', async () => {
      const db = database();
      db.migrate([CHILDREN]);
      // What a failed COMMIT whose ROLLBACK failed too leaves behind.
      db.statement('BEGIN').run();
      db.statement<[], never>('INSERT INTO parents (id) VALUES (7)').run();
      await insertParent(db, 1);
      expect(committed('SELECT id FROM parents')).toEqual([{ id: 1 }]);
      await insertParent(db, 2);
      expect(committed('SELECT id FROM parents ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    });

    it('turns a read-only or full file into a RetryableError and leaves other errors alone', async () => {
      const db = database();
      db.migrate([CHILDREN]);
      readOnly(db, true);
      const readOnlyError = await db.write(() => undefined).catch((error: unknown) => error);
      expect(readOnlyError).toBeInstanceOf(RetryableError);
      expect(readOnlyError).toMatchObject({
        code: 'sqlite_unavailable',
        cause: { code: 'SQLITE_READONLY' },
      });
      readOnly(db, false);

      await insertParent(db, 1);
      const own = new Error('op failed');
      await expect(
        db.write(() => {
          throw own;
        }),
      ).rejects.toBe(own);
      await expect(insertParent(db, 1)).rejects.toMatchObject({
        code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
      });

      const pages = db.statement<[], { page_count: number }>('PRAGMA page_count').get();
      db.statement(`PRAGMA max_page_count = ${pages?.page_count}`).get();
      // SQLite rolls the whole transaction back on a full disk: nothing of the tick commits,
      // not even the op after the one that filled it.
      const tick = await Promise.allSettled([
        db.write((d) => {
          const insert = d.statement<[number], never>('INSERT INTO parents (id) VALUES (?)');
          for (let id = 100; id < 100_000; id++) insert.run(id);
        }),
        insertParent(db, 3),
      ]);
      expect(tick.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
      const full = (tick[0] as PromiseRejectedResult).reason as unknown;
      expect(full).toBeInstanceOf(RetryableError);
      expect(full).toMatchObject({ cause: { code: 'SQLITE_FULL' } });
      freeDisk(db);
      await insertParent(db, 2);
      expect(committed('SELECT id FROM parents ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    });
  });

  describe('event log', () => {
    it('loses no outcome of a read-only spell, also across a stop and reopen', async () => {
      const db = database();
      const log = eventLog(db);
      const { collector: first, subscription } = await throughReadOnlySpell(db, log, 9);
      await subscription.stop();
      await log.close();
      db.close();

      const reopened = database();
      const again = eventLog(reopened);
      const second = new Collector(follow);
      again.consume({ group: GROUP, types: [], maxInFlight: 50 }, second.deliver);
      await settled(again, 9);
      // Every Nak was handled again after its nak.
      const retried = [...first.deliveries, ...second.deliveries]
        .filter((d) => d.event.type === 'Nak' && d.attempt >= 2)
        .map((d) => d.event.id);
      expect([...new Set(retried)].sort()).toEqual(['e2', 'e5', 'e8']);
      await onlyNewAfterReopen(reopened, again);
    });

    it('redelivers what a read-only spell could not record, and records the offset after it', async () => {
      const db = database();
      const log = eventLog(db);
      await throughReadOnlySpell(db, log, 6);
      await settled(log, 6);
      await eventually(() =>
        expect(committed('SELECT offset FROM consumer_groups WHERE name = ?', GROUP)).toEqual([
          { offset: 6 },
        ]),
      );
      await onlyNewAfterReopen(db, log);
    });

    it('keeps the offset below a dead letter a full disk refused, until there is room', async () => {
      const db = database();
      const log = eventLog(db);
      await log.append(plannedEvents(6));
      fillDisk(db);
      const collector = new Collector(follow);
      log.consume({ group: GROUP, types: [], maxInFlight: 50 }, collector.deliver);
      await collector.waitFor(6);
      // A barrier behind the outcomes in flight: on the full disk its batch may fail with them.
      await db.write(() => undefined).catch(() => undefined);
      // The disk stays full over a few redeliveries: the offset never passes the first poison.
      await eventually(() =>
        expect(
          collector.deliveries.filter((d) => d.event.id === 'e3').length,
        ).toBeGreaterThanOrEqual(2),
      );
      expect(
        committed<{ offset: number }>('SELECT offset FROM consumer_groups WHERE name = ?', GROUP)
          .map((row) => row.offset)
          .every((offset) => offset < 3),
      ).toBe(true);
      freeDisk(db);
      await settled(log, 6);
      await onlyNewAfterReopen(db, log);
    });
  });
});
