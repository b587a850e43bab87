import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Delivery, EventLog, NewEvent, Subscription } from '../../src/ports/event-log.js';
import { ManualClock, type Fixture, type FixtureFactory } from './fixture.js';
import { appendSentinel, Collector, eventually, sentinelEvent } from './support.js';

function event(n: number, type = 'T', key = 'k1'): NewEvent {
  return { id: `e${n}`, type, key, data: { n } };
}

function events(from: number, to: number, type = 'T', key = 'k1'): NewEvent[] {
  const list: NewEvent[] = [];
  for (let n = from; n <= to; n += 1) list.push(event(n, type, key));
  return list;
}

const hold = (): void => undefined;

/** The behaviour every EventLog adapter must show; `factory` gives isolated storage per test. */
export function describeEventLogContract(name: string, factory: FixtureFactory<EventLog>): void {
  describe(`${name} EventLog`, () => {
    let fixture: Fixture<EventLog>;
    let clock: ManualClock;
    const subscriptions: Subscription[] = [];

    const open = (): EventLog => fixture.open(clock);
    const consume = (
      log: EventLog,
      group: string,
      collector: Collector,
      types = ['T'],
      maxInFlight = 50,
    ) => {
      const subscription = log.consume({ group, types, maxInFlight }, collector.deliver);
      subscriptions.push(subscription);
      return subscription;
    };

    beforeEach(async () => {
      clock = new ManualClock();
      fixture = await factory();
    });

    afterEach(async () => {
      subscriptions.length = 0;
      await fixture.dispose();
    });

    it('delivers appended events in append order with attempt 1', async () => {
      const log = open();
      await log.append(events(1, 3));
      const collector = new Collector();
      consume(log, 'g', collector);
      await collector.waitFor(3);
      expect(collector.ids).toEqual(['e1', 'e2', 'e3']);
      expect(collector.deliveries.map((d) => d.attempt)).toEqual([1, 1, 1]);
      expect(collector.deliveries[0]?.event).toMatchObject({
        id: 'e1',
        type: 'T',
        key: 'k1',
        data: { n: 1 },
        at: clock.now(),
      });
      const seqs = collector.deliveries.map((d) => d.event.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(3);
    });

    it("starts a new group at 'now' past what is in the log; a group that exists goes on from its offset", async () => {
      const log = open();
      await log.append(events(1, 2));
      const late = new Collector();
      const lateSub = log.consume(
        { group: 'late', types: ['T'], maxInFlight: 50, startAt: 'now' },
        late.deliver,
      );
      subscriptions.push(lateSub);
      await eventually(async () =>
        expect((await log.stats()).late).toEqual({ lag: 0, inFlight: 0, dlq: 0 }),
      );
      await log.append([event(3)]);
      await late.waitForId('e3');
      expect(late.ids).toEqual(['e3']);
      await lateSub.stop();
      // From the beginning by default; and 'now' means nothing to a group that exists.
      const all = new Collector();
      consume(log, 'all', all);
      await all.waitFor(3);
      await log.append([event(4)]);
      const again = new Collector();
      subscriptions.push(
        log.consume(
          { group: 'late', types: ['T'], maxInFlight: 50, startAt: 'now' },
          again.deliver,
        ),
      );
      await again.waitForId('e4');
      expect(again.ids).toEqual(['e4']);
      expect(all.ids.slice(0, 3)).toEqual(['e1', 'e2', 'e3']);
    });

    it('wakes a running consumer as soon as an append commits', async () => {
      const log = open();
      const collector = new Collector();
      consume(log, 'g', collector);
      // Consuming and caught up on an empty log: only a wake can bring it what comes next.
      await eventually(async () =>
        expect((await log.stats()).g).toEqual({ lag: 0, inFlight: 0, dlq: 0 }),
      );
      await log.append([event(1)]);
      await collector.waitFor(1, 500);
      await log.append([event(2)]);
      await collector.waitFor(2, 500);
      expect(collector.ids).toEqual(['e1', 'e2']);
    });

    it('stores an event id once', async () => {
      const log = open();
      await log.append([event(1), event(1)]);
      await log.append([event(1), event(2)]);
      const collector = new Collector();
      consume(log, 'g', collector);
      await collector.waitFor(2);
      const sentinel = await appendSentinel(log, [collector]);
      expect(collector.ids).toEqual(['e1', 'e2', sentinel]);
      expect((await log.trace('k1')).map((t) => t.event.id)).toEqual(['e1', 'e2']);
    });

    it('resolves many concurrent appends, all durable after reopening', async () => {
      const log = open();
      await Promise.all(events(1, 500).map((e) => log.append([e])));
      await log.close();
      const reopened = open();
      const collector = new Collector();
      consume(reopened, 'g', collector);
      await collector.waitFor(500);
      expect(new Set(collector.ids).size).toBe(500);
    });

    it('delivers to each group on its own and remembers what a stopped group acked', async () => {
      const log = open();
      await log.append(events(1, 3));
      const acking = new Collector();
      const holding = new Collector(hold);
      const a = consume(log, 'a', acking);
      consume(log, 'b', holding);
      await acking.waitFor(3);
      await holding.waitFor(3);
      await a.stop();
      await log.close();

      const reopened = open();
      const againA = new Collector();
      const againB = new Collector();
      consume(reopened, 'a', againA);
      consume(reopened, 'b', againB);
      await againB.waitFor(3);
      // Group a acked all three before the restart: after it, it is handed the sentinel only.
      const sentinel = await appendSentinel(reopened, [againA, againB]);
      expect(againA.ids).toEqual([sentinel]);
      expect(againB.ids).toEqual(['e1', 'e2', 'e3', sentinel]);
    });

    it('redelivers what was not acked after a restart (at least once)', async () => {
      const log = open();
      await log.append(events(1, 3));
      const collector = new Collector(hold);
      consume(log, 'g', collector);
      await collector.waitFor(3);
      collector.deliveries[0]?.ack();
      await log.close();

      const reopened = open();
      const again = new Collector();
      consume(reopened, 'g', again);
      await again.waitFor(2);
      expect(again.ids).toEqual(expect.arrayContaining(['e2', 'e3']));
    });

    it('keeps at most maxInFlight deliveries outstanding', async () => {
      const log = open();
      await log.append(events(1, 10));
      const collector = new Collector(hold);
      consume(log, 'g', collector, ['T'], 3);
      await collector.waitFor(3);
      // The log's own account: three handed out, the other seven held back.
      await eventually(async () =>
        expect((await log.stats()).g).toEqual({ lag: 7, inFlight: 3, dlq: 0 }),
      );
      expect(collector.ids).toEqual(['e1', 'e2', 'e3']);
      collector.deliveries[0]?.ack();
      await collector.waitFor(4);
      // One ended, one more handed out: three outstanding again, six held back.
      await eventually(async () =>
        expect((await log.stats()).g).toEqual({ lag: 6, inFlight: 3, dlq: 0 }),
      );
      expect(collector.ids).toEqual(['e1', 'e2', 'e3', 'e4']);
    });

    it('delivers only the types of the group', async () => {
      const log = open();
      await log.append([event(1, 'A'), event(2, 'B'), event(3, 'A')]);
      const onlyA = new Collector();
      const onlyB = new Collector();
      consume(log, 'a', onlyA, ['A']);
      consume(log, 'b', onlyB, ['B']);
      await onlyA.waitFor(2);
      await onlyB.waitFor(1);
      const sentinels = [sentinelEvent('A'), sentinelEvent('B')];
      await log.append(sentinels);
      const [sentinelA, sentinelB] = sentinels.map((sentinel) => sentinel.id) as [string, string];
      await onlyA.waitForId(sentinelA);
      await onlyB.waitForId(sentinelB);
      expect(onlyA.ids).toEqual(['e1', 'e3', sentinelA]);
      expect(onlyB.ids).toEqual(['e2', sentinelB]);
    });

    it('ends a delivery once: a later nak or term is ignored', async () => {
      const log = open();
      await log.append([event(1)]);
      const collector = new Collector((d) => {
        d.ack();
        d.nak(0, 'late');
        d.term('late');
      });
      consume(log, 'g', collector);
      await collector.waitFor(1);
      // Caught up past a sentinel with nothing outstanding: the ack is e1's final outcome.
      const sentinel = await appendSentinel(log, [collector]);
      await eventually(async () =>
        expect((await log.stats()).g).toEqual({ lag: 0, inFlight: 0, dlq: 0 }),
      );
      expect(collector.ids).toEqual(['e1', sentinel]);
      const [first] = await log.trace('k1');
      expect(first?.outcomes.g).toEqual({ state: 'acked', attempts: 1 });
      expect(await log.deadLetters(10)).toEqual([]);
    });

    it('redelivers a nakked event after its delay with the next attempt', async () => {
      const log = open();
      await log.append([event(1)]);
      const delayMs = 300;
      const handedAt: number[] = [];
      const collector = new Collector((d) => {
        handedAt.push(Date.now());
        if (d.attempt === 1) d.nak(delayMs, 'boom');
        else d.ack();
      });
      consume(log, 'g', collector);
      await collector.waitFor(1);
      await eventually(async () => {
        const [trace] = await log.trace('k1');
        expect(trace?.outcomes.g).toEqual({ state: 'retrying', attempts: 1, lastError: 'boom' });
      });
      await collector.waitFor(2);
      expect(collector.deliveries[1]?.attempt).toBe(2);
      expect(collector.deliveries[1]?.event.id).toBe('e1');
      // Not before its delay (a timer may fire a few ms early by the wall clock).
      const [nakked = 0, redelivered = 0] = handedAt;
      expect(redelivered - nakked).toBeGreaterThanOrEqual(delayMs - 10);
      await eventually(async () => {
        const [trace] = await log.trace('k1');
        expect(trace?.outcomes.g).toMatchObject({ state: 'acked', attempts: 2 });
      });
    });

    it('keeps a pending retry across a restart', async () => {
      const log = open();
      await log.append([event(1)]);
      const collector = new Collector((d) => d.nak(200, 'later'));
      consume(log, 'g', collector);
      await collector.waitFor(1);
      await log.close();

      const reopened = open();
      const again = new Collector();
      consume(reopened, 'g', again);
      await eventually(() => expect(again.deliveries.some((d) => d.attempt === 2)).toBe(true));
      expect(again.ids).toContain('e1');
    });

    it('dead-letters a termed event with its attempts and reason', async () => {
      const log = open();
      await log.append([event(1), event(2)]);
      const collector = new Collector((d) => {
        if (d.event.id !== 'e1') d.ack();
        else if (d.attempt === 1) d.nak(0, 'first try failed');
        else d.term('gave up');
      });
      consume(log, 'g', collector);
      await collector.waitFor(3);
      const letters = await eventually(async () => {
        const found = await log.deadLetters(10);
        expect(found).toHaveLength(1);
        return found;
      });
      expect(letters[0]).toMatchObject({
        group: 'g',
        attempts: 2,
        lastError: 'gave up',
        at: clock.now(),
      });
      expect(letters[0]?.event).toMatchObject({ id: 'e1', type: 'T', key: 'k1', data: { n: 1 } });
      // A termed event is not handed out again: the group moves on past a sentinel without it.
      const sentinel = await appendSentinel(log, [collector]);
      await eventually(async () =>
        expect((await log.stats()).g).toEqual({ lag: 0, inFlight: 0, dlq: 1 }),
      );
      expect(collector.deliveries).toHaveLength(4);
      expect(collector.ids.at(-1)).toBe(sentinel);
      const [first] = await log.trace('k1');
      expect(first?.outcomes.g).toEqual({ state: 'dead', attempts: 2, lastError: 'gave up' });
    });

    it('discards a dead letter for good; its event stays in the log, its outcome dead', async () => {
      const log = open();
      await log.append([event(1)]);
      const collector = new Collector((d) => d.term('unwanted'));
      consume(log, 'g', collector);
      const [letter] = await eventually(async () => {
        const found = await log.deadLetters(10);
        expect(found).toHaveLength(1);
        return found;
      });
      expect(await log.discard(letter?.id ?? '')).toBe(true);
      expect(await log.deadLetters(10)).toEqual([]);
      await eventually(async () =>
        expect((await log.stats()).g).toEqual({ lag: 0, inFlight: 0, dlq: 0 }),
      );
      expect(await log.discard(letter?.id ?? '')).toBe(false);
      expect(await log.discard('no-such-letter')).toBe(false);
      expect(await log.redrive(letter?.id ?? '')).toBe(false);
      const [only] = await log.trace('k1');
      expect(only?.event.id).toBe('e1');
      expect(only?.outcomes.g?.state).toBe('dead');
      expect(collector.deliveries).toHaveLength(1);
    });

    it('redrives a dead letter once, to its own group only', async () => {
      const log = open();
      await log.append([event(1)]);
      const failing = new Collector((d) =>
        d.event.id === 'e1' && d.attempt === 1 ? d.term('broken') : d.ack(),
      );
      const other = new Collector();
      consume(log, 'a', failing);
      consume(log, 'b', other);
      await failing.waitFor(1);
      await other.waitFor(1);
      const [letter] = await eventually(async () => {
        const found = await log.deadLetters(10);
        expect(found).toHaveLength(1);
        return found;
      });
      expect(await log.redrive('no-such-letter')).toBe(false);
      expect(await log.redrive(letter?.id ?? '')).toBe(true);
      await failing.waitFor(2);
      expect(failing.deliveries[1]?.event.id).toBe('e1');
      expect(failing.deliveries[1]?.attempt).toBe(2);
      // Once, and to group a only: both groups are handed the sentinel next.
      const sentinel = await appendSentinel(log, [failing, other]);
      expect(failing.ids).toEqual(['e1', 'e1', sentinel]);
      expect(other.ids).toEqual(['e1', sentinel]);
      expect(await log.deadLetters(10)).toEqual([]);
      expect(await log.redrive(letter?.id ?? '')).toBe(false);
      await eventually(async () => {
        const [trace] = await log.trace('k1');
        expect(trace?.outcomes.a).toMatchObject({ state: 'acked', attempts: 2 });
        expect(trace?.outcomes.b).toMatchObject({ state: 'acked' });
      });
    });

    it('replays one group from a sequence number while it runs', async () => {
      const log = open();
      await log.append(events(1, 5));
      const a = new Collector();
      const b = new Collector();
      consume(log, 'a', a);
      consume(log, 'b', b);
      await a.waitFor(5);
      await b.waitFor(5);
      const third = a.deliveries[2]?.event.seq ?? 0;
      await log.replay('a', { seq: third });
      await a.waitFor(8);
      const sentinel = await appendSentinel(log, [a, b]);
      expect(a.ids.slice(5)).toEqual(['e3', 'e4', 'e5', sentinel]);
      expect(b.ids).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', sentinel]);
    });

    it('replays one group from a time', async () => {
      const log = open();
      const start = clock.now();
      await log.append(events(1, 2));
      clock.advance(60_000);
      await log.append(events(3, 4));
      const a = new Collector();
      const b = new Collector();
      consume(log, 'a', a);
      consume(log, 'b', b);
      await a.waitFor(4);
      await b.waitFor(4);
      await log.replay('a', { time: start + 60_000 });
      await a.waitFor(6);
      const sentinel = await appendSentinel(log, [a, b]);
      expect(a.ids.slice(4)).toEqual(['e3', 'e4', sentinel]);
      expect(b.ids).toEqual(['e1', 'e2', 'e3', 'e4', sentinel]);
    });

    it('keeps a replay of a stopped group across a restart', async () => {
      const log = open();
      await log.append(events(1, 3));
      const first = new Collector();
      const subscription = consume(log, 'a', first);
      await first.waitFor(3);
      await subscription.stop();
      await log.replay('a', { seq: 1 });
      await log.close();

      const reopened = open();
      const again = new Collector();
      consume(reopened, 'a', again);
      await again.waitFor(3);
      expect(again.ids).toEqual(['e1', 'e2', 'e3']);
    });

    it('reports lag, deliveries in flight and dead letters per group', async () => {
      const log = open();
      await log.append([...events(1, 5, 'T'), ...events(6, 8, 'U')]);
      const collector = new Collector(hold);
      consume(log, 'g', collector, ['T'], 2);
      await collector.waitFor(2);
      await eventually(async () =>
        expect((await log.stats()).g).toEqual({ lag: 3, inFlight: 2, dlq: 0 }),
      );
      collector.deliveries[0]?.term('no');
      await collector.waitFor(3);
      await eventually(async () =>
        expect((await log.stats()).g).toEqual({ lag: 2, inFlight: 2, dlq: 1 }),
      );
    });

    it('traces the events of a key with each matching group’s outcome', async () => {
      const log = open();
      await log.append([
        event(1, 'T', 'order-1'),
        event(2, 'U', 'order-1'),
        event(3, 'T', 'order-2'),
      ]);
      const all = new Collector();
      const flaky = new Collector((d) => d.nak(60_000, 'provider down'));
      const slow = new Collector(hold);
      consume(log, 'all', all, ['T', 'U']);
      consume(log, 'flaky', flaky, ['T']);
      consume(log, 'slow', slow, ['T'], 1);
      await all.waitFor(3);
      await flaky.waitFor(2);
      await slow.waitFor(1);
      await eventually(async () => {
        const trace = await log.trace('order-1');
        expect(trace.map((t) => t.event.id)).toEqual(['e1', 'e2']);
        expect(trace[0]?.outcomes).toEqual({
          all: { state: 'acked', attempts: 1 },
          flaky: { state: 'retrying', attempts: 1, lastError: 'provider down' },
          slow: { state: 'pending', attempts: 1 },
        });
        expect(trace[1]?.outcomes).toEqual({ all: { state: 'acked', attempts: 1 } });
      });
      const second = await log.trace('order-2');
      expect(second.map((t) => t.event.id)).toEqual(['e3']);
      expect(second[0]?.outcomes.slow).toEqual({ state: 'pending', attempts: 0 });
      expect(await log.trace('unknown')).toEqual([]);

      slow.deliveries[0]?.ack();
      await log.close();
      const reopened = open();
      const after = await reopened.trace('order-1');
      expect(after[0]?.outcomes.all).toEqual({ state: 'acked', attempts: 1 });
      expect(after[0]?.outcomes.slow).toEqual({ state: 'acked', attempts: 1 });
      expect(after[0]?.outcomes.flaky).toMatchObject({
        state: 'retrying',
        lastError: 'provider down',
      });
    });

    it('stops handing out deliveries and resolves stop once the outstanding ones end', async () => {
      const log = open();
      await log.append(events(1, 3));
      const collector = new Collector(hold);
      const subscription = consume(log, 'g', collector, ['T'], 1);
      // The sentinel for stop: a subscription with nothing to deliver, stopped alongside.
      const idle = consume(log, 'idle', new Collector(), ['none'], 1);
      await collector.waitFor(1);
      let stopped = false;
      const stopping = subscription.stop().then(() => {
        stopped = true;
      });
      // Once the idle one's stop resolved, all a stop does short of waiting has been done.
      await idle.stop();
      expect(stopped).toBe(false);
      (collector.deliveries[0] as Delivery).ack();
      await stopping;
      await log.append([event(4)]);
      // The group's next subscriber is handed what the stopped one was not, the new event last.
      const next = new Collector();
      consume(log, 'g', next, ['T'], 1);
      await next.waitForId('e4');
      expect(next.ids).toEqual(['e2', 'e3', 'e4']);
      expect(collector.ids).toEqual(['e1']);
    });

    it('answers ping while open', async () => {
      const log = open();
      expect(await log.ping()).toBe(true);
    });
  });
}
