import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HEADER } from '../../src/adapters/nats/nats-codec.js';
import { openNatsEventLog, type NatsEventLog } from '../../src/adapters/nats/nats-event-log.js';
import { NatsNames } from '../../src/adapters/nats/nats-subjects.js';
import { RetryableError } from '../../src/domain/errors.js';
import type { Delivery, NewEvent } from '../../src/ports/event-log.js';
import { deadPort, deleteNatsNamespace, TcpRelay } from '../helpers/backends-nats.js';
import { ENGINES, enginesUp, randomNamespace } from '../helpers/engines.js';
import { ManualClock } from './fixture.js';
import { appendSentinel, Collector, eventually, sentinelEvent, sleep } from './support.js';

const up = await enginesUp('nats');

function event(n: number, type = 'T', key = `k${n % 7}`): NewEvent {
  return { id: `e${n}`, type, key, data: { n } };
}

function range(from: number, to: number, type = 'T'): NewEvent[] {
  return Array.from({ length: to - from + 1 }, (_, index) => event(from + index, type));
}

describe('NatsNames', () => {
  const names = new NatsNames('shop.eu');

  it('files events key first, with sanitized tokens', () => {
    expect(names.ns).toBe('shop_eu');
    expect(names.eventsStream).toBe('SHOP_EU_EVENTS');
    expect(names.eventSubject('a.b c', 'OrderStatusChanged.COMPLETED')).toBe(
      'shop_eu.ev.a_b_c.OrderStatusChanged.COMPLETED',
    );
  });

  it('filters on the narrowest single subject covering the types', () => {
    expect(names.filterSubject([])).toBe('shop_eu.ev.>');
    expect(names.filterSubject(['OrderPlaced'])).toBe('shop_eu.ev.*.OrderPlaced');
    expect(names.filterSubject(['OrderPlaced', 'OrderPlaced'])).toBe('shop_eu.ev.*.OrderPlaced');
    expect(
      names.filterSubject(['OrderStatusChanged.COMPLETED', 'OrderStatusChanged.REFUNDED']),
    ).toBe('shop_eu.ev.*.OrderStatusChanged.>');
    expect(names.filterSubject(['A', 'A.B'])).toBe('shop_eu.ev.>');
    expect(names.filterSubject(['A.B.C', 'A.B'])).toBe('shop_eu.ev.*.A.>');
    expect(names.filterSubject(['OrderPlaced', 'CancelRequested'])).toBe('shop_eu.ev.>');
  });
});

describe.skipIf(!up)('NATS JetStream', () => {
  describe('NatsEventLog on a shared server', () => {
    let namespace: string;
    let clock: ManualClock;
    const opened: NatsEventLog[] = [];
    const open = async (url = ENGINES.nats): Promise<NatsEventLog> => {
      const log = await openNatsEventLog({ url, namespace, clock });
      opened.push(log);
      return log;
    };

    beforeEach(() => {
      namespace = randomNamespace();
      clock = new ManualClock();
    });

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((log) => log.close()));
      await deleteNatsNamespace(ENGINES.nats, namespace);
    });

    it('creates the streams once when several processes open a namespace at once', async () => {
      for (let round = 0; round < 5; round += 1) {
        namespace = randomNamespace();
        const logs = await Promise.all([open(), open(), open(), open()]);
        await logs[0]?.append([event(1)]);
        expect(await logs[3]?.trace('k1')).toHaveLength(1);
        await Promise.all(opened.splice(0).map((log) => log.close()));
        await deleteNatsNamespace(ENGINES.nats, namespace);
      }
    });

    it('stores an event id once across two instances (Nats-Msg-Id)', async () => {
      const [a, b] = await Promise.all([open(), open()]);
      await Promise.all([a.append(range(1, 20)), b.append(range(1, 20)), a.append(range(10, 30))]);
      const collector = new Collector();
      a.consume({ group: 'g', types: ['T'], maxInFlight: 50 }, collector.deliver);
      await collector.waitFor(30);
      const sentinel = await appendSentinel(b, [collector]);
      expect(collector.deliveries).toHaveLength(31);
      expect(new Set(collector.ids).size).toBe(31);
      expect(collector.ids.at(-1)).toBe(sentinel);
      expect((await b.trace('k3')).map((t) => t.event.id)).toEqual(['e3', 'e10', 'e17', 'e24']);
    });

    it('shares one group between two instances, each event handled once', async () => {
      const [a, b] = await Promise.all([open(), open()]);
      const handled = new Map<string, number>();
      const handler = (name: string) => (delivery: Delivery) => {
        handled.set(name, (handled.get(name) ?? 0) + 1);
        setTimeout(() => delivery.ack(), 10);
      };
      const byA = new Collector(handler('a'));
      const byB = new Collector(handler('b'));
      const spec = { group: 'g', types: ['T'], maxInFlight: 8 };
      a.consume(spec, byA.deliver);
      b.consume(spec, byB.deliver);
      // Both instances attach before the load, so that both take a share of it.
      await sleep(200);
      await a.append(range(1, 200));
      await eventually(
        () => expect(byA.deliveries.length + byB.deliveries.length).toBe(200),
        15_000,
      );
      // Past a sentinel, every delivery acked: no event was handed out a second time.
      const sentinel = sentinelEvent();
      await a.append([sentinel]);
      await eventually(() => expect([...byA.ids, ...byB.ids]).toContain(sentinel.id));
      await eventually(async () =>
        expect((await a.stats()).g).toEqual({ lag: 0, inFlight: 0, dlq: 0 }),
      );
      const ids = [...byA.ids, ...byB.ids];
      expect(ids).toHaveLength(201);
      expect(new Set(ids).size).toBe(201);
      expect(handled.get('a')).toBeGreaterThan(0);
      expect(handled.get('b')).toBeGreaterThan(0);
    });

    it('dead-letters a copy with the original data and headers, attempts and last error', async () => {
      const log = await open();
      const names = new NatsNames(namespace);
      const nc = await connect({ servers: ENGINES.nats });
      try {
        const jsm = await jetstreamManager(nc);
        const original = headers();
        original.set(HEADER.id, 'e1');
        original.set(HEADER.type, 'T');
        original.set(HEADER.key, 'k1');
        original.set(HEADER.appendedAt, String(clock.now()));
        original.set('Traceparent', '00-abc-def-01');
        const data = JSON.stringify({ n: 1 });
        const ack = await jsm
          .jetstream()
          .publish(names.eventSubject('k1', 'T'), data, { headers: original, msgID: 'e1' });

        const collector = new Collector((d) =>
          d.attempt === 1 ? d.nak(0, 'first failure') : d.term('gave up'),
        );
        log.consume({ group: 'g', types: ['T'], maxInFlight: 10 }, collector.deliver);
        await collector.waitFor(2);
        const [letter] = await eventually(async () => {
          const letters = await log.deadLetters({ limit: 10 });
          expect(letters).toHaveLength(1);
          return letters;
        });
        const stored = await jsm.direct.getMessage(names.deadLetterStream, {
          seq: Number(letter?.id),
        });
        expect(stored?.subject).toBe(`${names.ns}.dlq.g`);
        expect(stored?.string()).toBe(data);
        const h = stored?.header;
        expect(h?.get('Traceparent')).toBe('00-abc-def-01');
        expect(h?.get(HEADER.id)).toBe('e1');
        expect(h?.get(HEADER.type)).toBe('T');
        expect(h?.get(HEADER.key)).toBe('k1');
        expect(h?.get(HEADER.group)).toBe('g');
        expect(h?.get(HEADER.seq)).toBe(String(ack.seq));
        expect(h?.get(HEADER.attempts)).toBe('2');
        expect(h?.get(HEADER.lastError)).toBe('gave up');
        expect(h?.get(HEADER.at)).toBe(String(clock.now()));
        expect(h?.get(HEADER.msgId)).toMatch(new RegExp(`^g:${ack.seq}:`));
        expect(letter).toMatchObject({ group: 'g', attempts: 2, lastError: 'gave up' });
      } finally {
        await nc.close();
      }
    });

    it('hands a group only its types under a shared filter, and skips the rest', async () => {
      const log = await open();
      await log.append([
        event(1, 'OrderPlaced'),
        event(2, 'OrderStatusChanged.COMPLETED'),
        event(3, 'OrderStatusChanged.CANCELLED'),
        event(4, 'OrderStatusChanged.REFUNDED'),
        event(5, 'OrderStatusChanged'),
      ]);
      const collector = new Collector();
      const types = ['OrderStatusChanged.COMPLETED', 'OrderStatusChanged.REFUNDED'];
      log.consume({ group: 'mail', types, maxInFlight: 10 }, collector.deliver);
      await collector.waitFor(2);
      const sentinel = await appendSentinel(log, [collector], 'OrderStatusChanged.REFUNDED');
      expect(collector.ids).toEqual(['e2', 'e4', sentinel]);
      await eventually(async () =>
        expect((await log.stats()).mail).toEqual({ lag: 0, inFlight: 0, dlq: 0 }),
      );
    });

    it('replays a group for a subscription running in another process', async () => {
      const [a, b] = await Promise.all([open(), open()]);
      await a.append(range(1, 3));
      const collector = new Collector();
      b.consume({ group: 'g', types: ['T'], maxInFlight: 10 }, collector.deliver);
      await collector.waitFor(3);
      await eventually(async () => expect((await a.stats()).g?.inFlight).toBe(0));
      await a.replay('g', { seq: 1 });
      await collector.waitFor(6, 20_000);
      expect(collector.ids.slice(3)).toEqual(['e1', 'e2', 'e3']);
    });

    it("updates a stream an older version created, and refuses another namespace's", async () => {
      const names = new NatsNames(namespace);
      const nc = await connect({ servers: ENGINES.nats });
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({ name: names.eventsStream, subjects: [names.events] });
        const log = await open();
        const { config } = await jsm.streams.info(names.eventsStream);
        expect(config.allow_direct).toBe(true);
        expect(config.duplicate_window).toBe(120_000_000_000);
        await log.append([event(1)]);
        expect(await log.trace('k1')).toHaveLength(1);
        await expect(
          openNatsEventLog({ url: ENGINES.nats, namespace: namespace.toUpperCase(), clock }),
        ).rejects.toThrow(/another namespace/);
      } finally {
        await nc.close();
      }
    });

    it('rejects group names that are not plain tokens', async () => {
      const log = await open();
      expect(() =>
        log.consume({ group: 'a.b', types: [], maxInFlight: 1 }, () => undefined),
      ).toThrow(/group names/);
    });

    it('fails fast where nothing listens', async () => {
      const started = Date.now();
      const opening = openNatsEventLog({
        url: `nats://127.0.0.1:${await deadPort()}`,
        namespace,
        clock,
      });
      await expect(opening).rejects.toBeInstanceOf(RetryableError);
      await expect(opening).rejects.toMatchObject({ code: 'event_log_unavailable' });
      expect(Date.now() - started).toBeLessThan(3_000);
    });

    it('fails fast while the server is away, then reconnects and delivers again', async () => {
      const relay = new TcpRelay(ENGINES.nats);
      await relay.start();
      try {
        const log = await open(relay.url);
        const collector = new Collector();
        log.consume({ group: 'g', types: ['T'], maxInFlight: 10 }, collector.deliver);
        await log.append([event(1)]);
        await collector.waitFor(1);

        await relay.cut();
        await eventually(async () => expect(await log.ping()).toBe(false));
        const started = Date.now();
        await expect(log.append([event(2)])).rejects.toBeInstanceOf(RetryableError);
        await expect(log.stats()).rejects.toBeInstanceOf(RetryableError);
        expect(Date.now() - started).toBeLessThan(1_500);

        await relay.start();
        await eventually(async () => expect(await log.ping()).toBe(true), 15_000);
        await log.append([event(2)]);
        await collector.waitFor(2, 15_000);
        expect(collector.ids).toEqual(['e1', 'e2']);
        await log.close();
      } finally {
        await relay.cut();
      }
    });
  });
});
