import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  DeadLetter,
  Delivery,
  EventLog,
  NewEvent,
  Subscription,
} from '../../src/ports/event-log.js';
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
      expect(await log.deadLetters({ limit: 10 })).toEqual([]);
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
        const found = await log.deadLetters({ limit: 10 });
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
        const found = await log.deadLetters({ limit: 10 });
        expect(found).toHaveLength(1);
        return found;
      });
      expect(await log.discard(letter?.id ?? '')).toBe(true);
      expect(await log.deadLetters({ limit: 10 })).toEqual([]);
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
      let termed = false;
      const failing = new Collector((d) => {
        if (d.event.id !== 'e1' || termed) return d.ack();
        termed = true;
        d.term('broken');
      });
      const other = new Collector();
      consume(log, 'a', failing);
      consume(log, 'b', other);
      await failing.waitFor(1);
      await other.waitFor(1);
      const [letter] = await eventually(async () => {
        const found = await log.deadLetters({ limit: 10 });
        expect(found).toHaveLength(1);
        return found;
      });
      expect(await log.redrive('no-such-letter')).toBe(false);
      expect(await log.redrive(letter?.id ?? '')).toBe(true);
      await failing.waitFor(2);
      expect(failing.deliveries[1]?.event.id).toBe('e1');
      // A fresh set of attempts: the redriven delivery is a first attempt again.
      expect(failing.deliveries[1]?.attempt).toBe(1);
      // Once, and to group a only: both groups are handed the sentinel next.
      const sentinel = await appendSentinel(log, [failing, other]);
      expect(failing.ids).toEqual(['e1', 'e1', sentinel]);
      expect(other.ids).toEqual(['e1', sentinel]);
      expect(await log.deadLetters({ limit: 10 })).toEqual([]);
      expect(await log.redrive(letter?.id ?? '')).toBe(false);
      await eventually(async () => {
        const [trace] = await log.trace('k1');
        expect(trace?.outcomes.a).toMatchObject({ state: 'acked', attempts: 1 });
        expect(trace?.outcomes.b).toMatchObject({ state: 'acked' });
      });
    });

    it('gives a redriven letter a fresh set of attempts: it is retried, not dead-lettered again at once', async () => {
      const log = open();
      await log.append([event(1)]);
      const maxAttempts = 3;
      // Fails until told otherwise; like the runner, it terms on its last attempt.
      let failuresLeft = Number.POSITIVE_INFINITY;
      const collector = new Collector((d) => {
        if (failuresLeft <= 0) return d.ack();
        failuresLeft -= 1;
        if (d.attempt >= maxAttempts) d.term(`failed on attempt ${d.attempt}`);
        else d.nak(0, `failed on attempt ${d.attempt}`);
      });
      subscriptions.push(
        log.consume({ group: 'g', types: ['T'], maxInFlight: 10, maxAttempts }, collector.deliver),
      );
      const [letter] = await eventually(async () => {
        const found = await log.deadLetters({ limit: 10 });
        expect(found).toHaveLength(1);
        return found;
      });
      expect(letter).toMatchObject({ attempts: 3, lastError: 'failed on attempt 3' });
      expect(collector.deliveries.map((d) => d.attempt)).toEqual([1, 2, 3]);

      // The fault is half fixed: two more failures, then it succeeds.
      failuresLeft = 2;
      expect(await log.redrive(letter?.id ?? '')).toBe(true);
      await collector.waitFor(6);
      expect(collector.deliveries.slice(3).map((d) => d.attempt)).toEqual([1, 2, 3]);
      const sentinel = await appendSentinel(log, [collector]);
      expect(collector.ids.slice(3)).toEqual(['e1', 'e1', 'e1', sentinel]);
      expect(await log.deadLetters({ limit: 10 })).toEqual([]);
      await eventually(async () => {
        const [trace] = await log.trace('k1');
        expect(trace?.outcomes.g).toMatchObject({ state: 'acked', attempts: 3 });
        expect((await log.stats()).g).toMatchObject({ dlq: 0 });
      });
    });

    it('lists dead letters by group and by last error, oldest first, a page at a time', async () => {
      const log = open();
      await log.append(events(1, 3));
      const a = new Collector(hold);
      const b = new Collector(hold);
      consume(log, 'a', a);
      consume(log, 'b', b);
      await a.waitFor(3);
      await b.waitFor(3);
      const delivery = (collector: Collector, id: string): Delivery => {
        const found = collector.deliveries.find((d) => d.event.id === id);
        if (!found) throw new Error(`no delivery of ${id}`);
        return found;
      };
      // One at a time, the clock moving between them: their order is the order of the terms.
      const terms: [Delivery, string][] = [
        [delivery(a, 'e1'), 'timeout talking to the warehouse'],
        [delivery(b, 'e1'), 'refused by the warehouse'],
        [delivery(a, 'e2'), 'refused by the shop'],
        [delivery(a, 'e3'), 'another timeout'],
      ];
      for (const [index, [d, reason]] of terms.entries()) {
        clock.advance(1_000);
        d.term(reason);
        await eventually(async () =>
          expect(await log.deadLetters({ limit: 10 })).toHaveLength(index + 1),
        );
      }
      for (const d of b.deliveries.slice(1)) d.ack();
      const names = (letters: readonly DeadLetter[]): string[] =>
        letters.map((letter) => `${letter.group}:${letter.event.id}`);

      const all = await log.deadLetters({ limit: 10 });
      expect(names(all)).toEqual(['a:e1', 'b:e1', 'a:e2', 'a:e3']);
      expect(names(await log.deadLetters({ group: 'a', limit: 10 }))).toEqual([
        'a:e1',
        'a:e2',
        'a:e3',
      ]);
      expect(names(await log.deadLetters({ group: 'b', limit: 10 }))).toEqual(['b:e1']);
      expect(names(await log.deadLetters({ group: 'nobody', limit: 10 }))).toEqual([]);
      expect(names(await log.deadLetters({ errorContains: 'timeout', limit: 10 }))).toEqual([
        'a:e1',
        'a:e3',
      ]);
      expect(
        names(await log.deadLetters({ group: 'a', errorContains: 'refused', limit: 10 })),
      ).toEqual(['a:e2']);
      expect(await log.deadLetters({ errorContains: 'Timeout', limit: 10 })).toEqual([]);

      // Page after page, each letter once.
      const paged: DeadLetter[] = [];
      let after: DeadLetter | undefined;
      for (;;) {
        const page = await log.deadLetters({ limit: 1, ...(after && { after }) });
        const [only] = page;
        if (!only) break;
        paged.push(only);
        after = only;
      }
      expect(names(paged)).toEqual(names(all));
      expect(names(await log.deadLetters({ group: 'a', limit: 1, after: all[0] }))).toEqual([
        'a:e2',
      ]);

      // A page goes on after its last letter also when that letter is gone since.
      const [first, second] = await log.deadLetters({ limit: 2 });
      expect(await log.discard(second?.id ?? '')).toBe(true);
      expect(names(await log.deadLetters({ limit: 10, after: second }))).toEqual(['a:e2', 'a:e3']);
      expect(names(await log.deadLetters({ limit: 10, after: first }))).toEqual(['a:e2', 'a:e3']);
    });

    it('hands an event back with its headers: on each delivery, in its dead letter, redriven, traced', async () => {
      const log = open();
      const headers = {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'shop=checkout,vendor=t61rcWkgMzE',
      };
      await log.append([{ ...event(1), headers }, event(2)]);
      let handedE1 = 0;
      const collector = new Collector((d) => {
        if (d.event.id !== 'e1') {
          d.ack();
          return;
        }
        handedE1 += 1;
        if (handedE1 === 1) d.nak(0, 'once more');
        else if (handedE1 === 2) d.term('dead');
        else d.ack();
      });
      consume(log, 'g', collector);
      await collector.waitFor(3);
      const [letter] = await eventually(async () => {
        const found = await log.deadLetters({ limit: 10 });
        expect(found).toHaveLength(1);
        return found;
      });
      expect(letter?.event.headers).toEqual(headers);
      expect(await log.redrive(letter?.id ?? '')).toBe(true);
      await collector.waitFor(4);
      const e1 = collector.deliveries.filter((d) => d.event.id === 'e1');
      expect(e1).toHaveLength(3);
      for (const delivery of e1) expect(delivery.event.headers).toEqual(headers);
      const e2 = collector.deliveries.find((d) => d.event.id === 'e2');
      expect(e2?.event.headers).toBeUndefined();
      const traced = await log.trace('k1');
      expect(traced.map((t) => t.event.headers)).toEqual([headers, undefined]);
      // Stored with the event: another adapter on the same storage reads them too.
      await log.close();
      const reopened = open();
      const again = new Collector();
      consume(reopened, 'h', again);
      await again.waitForId('e1');
      expect(again.deliveries.find((d) => d.event.id === 'e1')?.event.headers).toEqual(headers);
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

    it('answers what a replay covers, and how far the group has got through it', async () => {
      const log = open();
      await log.append(events(1, 5));
      let holding = false;
      const held: Delivery[] = [];
      const a = new Collector((d) => (holding ? held.push(d) : d.ack()));
      consume(log, 'a', a);
      await a.waitFor(5);
      const seqs = a.deliveries.map((d) => d.event.seq);
      const [, , third = 0] = seqs;
      const last = seqs.at(-1) ?? 0;
      await eventually(async () => expect(await log.finishedThrough('a')).toBe(last));
      expect(await log.finishedThrough('nobody')).toBeUndefined();

      holding = true;
      expect(await log.replay('a', { seq: third })).toEqual({ from: third, through: last });
      await a.waitFor(8);
      // Handed out again, not done yet: the group stands just before the range.
      expect(await log.finishedThrough('a')).toBe(third - 1);
      for (const d of held) d.ack();
      await eventually(async () => expect(await log.finishedThrough('a')).toBe(last));

      // Appended since: a later replay covers more; one from before the log starts at seq 1.
      await log.append([event(6)]);
      holding = false;
      const range = await log.replay('a', { seq: 0 });
      expect(range.from).toBe(1);
      expect(range.through).toBeGreaterThan(last);
      await eventually(async () =>
        expect(await log.finishedThrough('a')).toBeGreaterThanOrEqual(range.through),
      );
    });

    it('counts a replay of a group consumed elsewhere at once, before that process takes it up', async () => {
      const log = open();
      await log.append(events(1, 3));
      const first = new Collector();
      const subscription = consume(log, 'a', first);
      await first.waitFor(3);
      const last = first.deliveries.at(-1)?.event.seq ?? 0;
      await eventually(async () => expect(await log.finishedThrough('a')).toBe(last));
      await subscription.stop();
      await log.close();

      // Another process (an `api` beside the `worker`) asks for the replay.
      const asking = open();
      const [, second = 0] = first.deliveries.map((d) => d.event.seq);
      expect(await asking.replay('a', { seq: second })).toEqual({ from: second, through: last });
      expect(await asking.finishedThrough('a')).toBe(second - 1);
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
