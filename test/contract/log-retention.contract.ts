import { afterEach, describe, expect, it } from 'vitest';
import type { Delivery, EventLog, NewEvent, Subscription } from '../../src/ports/event-log.js';
import type { RetentionPolicy } from '../../src/ports/retention.js';
import { appendSentinel, Collector, eventually } from './support.js';

/**
 * Storage for one retention test, opened with one policy. Time is the backend's to move: a
 * log on a manual clock moves it, a log whose engine ages events itself (JetStream's
 * `max_age`) waits it out.
 */
export interface RetentionLogFixture {
  /** The log on this fixture's storage; again after a close: the same data. */
  open(): EventLog;
  /** Lets `ms` pass for the log's retention. */
  pass(ms: number): Promise<void>;
  /** `applyRetention` counts what it removes (false: the engine removes events itself). */
  readonly countsRemoved: boolean;
  /** Closes what is still open and removes the storage. */
  dispose(): Promise<void>;
}

export type RetentionLogFactory = (policy: RetentionPolicy) => Promise<RetentionLogFixture>;

/** Short enough for an engine that ages events in real time. */
export const LOG_RETENTION_MS = 1_500;
const PAST_RETENTION_MS = LOG_RETENTION_MS + 500;
/** How long an engine may take to remove what the retention lets go. */
const REMOVAL_TIMEOUT_MS = 15_000;

export const LOG_POLICY: RetentionPolicy = {
  logMs: LOG_RETENTION_MS,
  orderMs: 0,
  deadLettersPerGroup: 1_000,
  logMaxBytes: 0,
};

function event(id: string, key: string, data: unknown = { id }): NewEvent {
  return { id, type: 'T', key, data };
}

/** The ids `trace` still finds under `key`, after a run of the retention. */
async function retained(log: EventLog, key: string): Promise<string[]> {
  await log.applyRetention();
  return (await log.trace(key)).map((trace) => trace.event.id);
}

/** The retention every EventLog adapter must apply; `factory` opens isolated storage per test. */
export function describeLogRetentionContract(name: string, factory: RetentionLogFactory): void {
  describe(`${name} EventLog retention`, () => {
    let fixture: RetentionLogFixture | undefined;
    const subscriptions: Subscription[] = [];

    const openWith = async (policy: RetentionPolicy = LOG_POLICY): Promise<EventLog> => {
      fixture = await factory(policy);
      return fixture.open();
    };
    const pass = (ms: number): Promise<void> => fixture?.pass(ms) ?? Promise.resolve();
    const consume = (log: EventLog, group: string, collector: Collector): Subscription => {
      const subscription = log.consume({ group, types: ['T'], maxInFlight: 50 }, collector.deliver);
      subscriptions.push(subscription);
      return subscription;
    };

    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((subscription) => subscription.stop()));
      await fixture?.dispose();
      fixture = undefined;
    });

    it('removes events past the retention that every group has acked, and only those', async () => {
      const log = await openWith();
      const first = new Collector();
      const second = new Collector();
      consume(log, 'first', first);
      consume(log, 'second', second);
      await log.append([event('old-1', 'old'), event('old-2', 'old'), event('old-3', 'old')]);
      await appendSentinel(log, [first, second]);
      await pass(PAST_RETENTION_MS);
      await log.append([event('young', 'young')]);
      await appendSentinel(log, [first, second]);

      let removed = 0;
      await eventually(async () => {
        removed += await log.applyRetention();
        expect((await log.trace('old')).map((trace) => trace.event.id)).toEqual([]);
      }, REMOVAL_TIMEOUT_MS);
      if (fixture?.countsRemoved) expect(removed).toBeGreaterThanOrEqual(3);
      expect(await retained(log, 'young')).toEqual(['young']);

      // A replay from the start hands out only what the log still holds.
      const delivered = first.deliveries.length;
      await log.replay('first', { seq: 1 });
      await appendSentinel(log, [first]);
      const replayed = first.deliveries.slice(delivered).map((d) => d.event.id);
      expect(replayed).toContain('young');
      expect(replayed.filter((id) => id.startsWith('old-'))).toEqual([]);
    });

    it('keeps what a stopped group has not settled, however old, and hands it all over when it resumes', async () => {
      const log = await openWith();
      const live = new Collector();
      const stopped = new Collector();
      consume(log, 'live', live);
      const paused = consume(log, 'paused', stopped);
      await log.append([event('seen', 'k')]);
      await appendSentinel(log, [live, stopped]);
      await paused.stop();

      await log.append([event('unseen-1', 'k'), event('unseen-2', 'k')]);
      await appendSentinel(log, [live]);
      await pass(PAST_RETENTION_MS);
      await log.applyRetention();
      await pass(PAST_RETENTION_MS);
      expect(await retained(log, 'k')).toEqual(expect.arrayContaining(['unseen-1', 'unseen-2']));

      const resumed = new Collector();
      consume(log, 'paused', resumed);
      await resumed.waitForId('unseen-2', REMOVAL_TIMEOUT_MS);
      expect(resumed.ids.filter((id) => id.startsWith('unseen-'))).toEqual([
        'unseen-1',
        'unseen-2',
      ]);
      await appendSentinel(log, [live, resumed]);
      await pass(PAST_RETENTION_MS);
      await eventually(
        async () => expect(await retained(log, 'k')).toEqual([]),
        REMOVAL_TIMEOUT_MS,
      );
    });

    it('keeps a dead letter past the retention, with its payload, and redrives it', async () => {
      const log = await openWith();
      const collector = new Collector((delivery) => {
        if (delivery.event.id === 'poison' && delivery.attempt === 1) delivery.term('bad data');
        else delivery.ack();
      });
      consume(log, 'g', collector);
      const poison: NewEvent = {
        ...event('poison', 'p', { n: 42 }),
        headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      };
      await log.append([poison, event('fine', 'p')]);
      await appendSentinel(log, [collector]);
      await pass(PAST_RETENTION_MS);
      await eventually(async () => {
        expect(await retained(log, 'p')).not.toContain('fine');
      }, REMOVAL_TIMEOUT_MS);
      await pass(PAST_RETENTION_MS);
      await log.applyRetention();

      const letters = await log.deadLetters({ group: 'g', limit: 10 });
      expect(letters).toHaveLength(1);
      expect(letters[0]?.event).toMatchObject({
        id: 'poison',
        data: { n: 42 },
        headers: poison.headers,
      });
      const before = collector.deliveries.length;
      expect(await log.redrive(letters[0]?.id ?? '')).toBe(true);
      await collector.waitFor(before + 1, REMOVAL_TIMEOUT_MS);
      const redriven = collector.deliveries.at(-1);
      expect(redriven?.event).toMatchObject({ id: 'poison', data: { n: 42 } });
    });

    it('keeps every event when the retention is 0', async () => {
      const log = await openWith({ ...LOG_POLICY, logMs: 0 });
      const collector = new Collector();
      consume(log, 'g', collector);
      await log.append([event('a', 'k'), event('b', 'k')]);
      await appendSentinel(log, [collector]);
      await pass(PAST_RETENTION_MS);
      expect(await log.applyRetention()).toBe(0);
      expect(await retained(log, 'k')).toEqual(['a', 'b']);
    });

    it('past the dead-letter limit keeps a termed event in the log and dead-letters it once there is room', async () => {
      const log = await openWith({ ...LOG_POLICY, deadLettersPerGroup: 2 });
      const terms: Delivery[] = [];
      const collector = new Collector((delivery) => {
        if (delivery.event.key !== 'p') return delivery.ack();
        terms.push(delivery);
        delivery.term(`poison ${delivery.event.id}`);
      });
      consume(log, 'g', collector);
      await log.append([event('p1', 'p'), event('p2', 'p'), event('p3', 'p')]);
      await collector.waitForId('p3');
      await appendSentinel(log, [collector]);
      const letters = await eventually(async () => {
        const listed = await log.deadLetters({ group: 'g', limit: 10 });
        expect(listed).toHaveLength(2);
        return listed;
      });
      expect(letters.map((letter) => letter.event.id).sort()).toEqual(['p1', 'p2']);
      await pass(PAST_RETENTION_MS);
      await log.applyRetention();
      expect((await log.stats())['g']?.dlq).toBe(2);

      expect(await log.discard(letters[0]?.id ?? '')).toBe(true);
      const again = await eventually(async () => {
        const listed = await log.deadLetters({ group: 'g', limit: 10 });
        expect(listed.map((letter) => letter.event.id)).toContain('p3');
        return listed;
      }, 45_000);
      expect(again).toHaveLength(2);
      expect(again.find((letter) => letter.event.id === 'p3')?.event.data).toEqual({ id: 'p3' });
      expect(terms.filter((delivery) => delivery.event.id === 'p3').length).toBeGreaterThan(1);
    }, 60_000);
  });
}
