import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openNatsEventLog, type NatsEventLog } from '../../src/adapters/nats/nats-event-log.js';
import { deliveryLimit } from '../../src/adapters/nats/nats-groups.js';
import { NatsNames } from '../../src/adapters/nats/nats-subjects.js';
import { RetryableError } from '../../src/domain/errors.js';
import type { Delivery } from '../../src/ports/event-log.js';
import { ConsumerRunner, type RetryPolicy } from '../../src/runtime/consumer-runner.js';
import { createMetrics } from '../../src/runtime/metrics.js';
import { deleteNatsNamespace } from '../helpers/backends-nats.js';
import { ENGINES, enginesUp, randomNamespace } from '../helpers/engines.js';
import { systemClock } from './fixture.js';
import { Collector, eventually } from './support.js';

const up = await enginesUp('nats');

/** The workflow group's policy (service.ts): a backend outage is retried for as long as it lasts. */
const WORKFLOW_POLICY: Partial<RetryPolicy> = { maxRetryableAttempts: Number.MAX_SAFE_INTEGER };
/** What JetStream consumers allowed before: an outage of ~17 minutes at ~1 s per retry. */
const OLD_MAX_DELIVER = 1_000;

const outage = (): RetryableError =>
  new RetryableError('redis_unavailable', 'Redis: connect ECONNREFUSED', 0);

describe('deliveryLimit', () => {
  it('is unbounded for a group that retries forever, else above what the runner attempts', () => {
    expect(deliveryLimit(undefined)).toBe(-1);
    expect(deliveryLimit(Number.MAX_SAFE_INTEGER)).toBe(-1);
    expect(deliveryLimit(Infinity)).toBe(-1);
    expect(deliveryLimit(100)).toBeGreaterThan(100);
    expect(deliveryLimit(1)).toBeGreaterThan(1);
  });
});

describe.skipIf(!up)('NATS delivery limit: the log never drops an event', () => {
  let namespace: string;
  let names: NatsNames;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const logs: NatsEventLog[] = [];
  const runners: ConsumerRunner[] = [];

  const open = async (): Promise<NatsEventLog> => {
    const log = await openNatsEventLog({ url: ENGINES.nats, namespace, clock: systemClock });
    logs.push(log);
    return log;
  };

  const run = (
    log: NatsEventLog,
    group: string,
    policy: Partial<RetryPolicy>,
    handle: (delivery: Delivery) => Promise<void>,
  ): ConsumerRunner => {
    const runner = new ConsumerRunner(
      log,
      { group, types: ['T'], concurrency: 4, policy, handle: (_, delivery) => handle(delivery) },
      pino({ level: 'silent' }),
      createMetrics(),
    );
    runners.push(runner);
    runner.start();
    return runner;
  };

  /** The group's consumer as an older version created it. */
  const oldConsumer = (group: string, maxDeliver: number) =>
    jsm.consumers.add(names.eventsStream, {
      durable_name: names.consumerName(group),
      description: JSON.stringify({ group, types: ['T'] }),
      filter_subject: names.filterSubject(['T']),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_deliver: maxDeliver,
    });

  beforeEach(async () => {
    namespace = randomNamespace();
    names = new NatsNames(namespace);
    nc = await connect({ servers: ENGINES.nats });
    jsm = await jetstreamManager(nc);
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
    await Promise.all(logs.splice(0).map((log) => log.close()));
    await nc.close();
    await deleteNatsNamespace(ENGINES.nats, namespace);
  });

  it(
    'keeps retrying a workflow event past 1,000 deliveries until the outage ends',
    { timeout: 60_000 },
    async () => {
      const log = await open();
      const failures = OLD_MAX_DELIVER + 50;
      let attempts = 0;
      let handledAt = 0;
      run(log, 'workflow', WORKFLOW_POLICY, (delivery) => {
        attempts += 1;
        if (attempts <= failures) return Promise.reject(outage());
        handledAt = delivery.attempt;
        return Promise.resolve();
      });
      await log.append([{ id: 'e1', type: 'T', key: 'order-1', data: {} }]);

      await eventually(() => expect(handledAt).toBe(failures + 1), 50_000);
      const info = await jsm.consumers.info(names.eventsStream, names.consumerName('workflow'));
      expect(info.config.max_deliver).toBe(-1);
      expect(await log.deadLetters({ limit: 10 })).toEqual([]);
      await eventually(async () =>
        expect((await log.stats())['workflow']).toEqual({ lag: 0, inFlight: 0, dlq: 0 }),
      );
    },
  );

  it("lifts an older deployment's delivery limit on start", async () => {
    await open(); // the streams, as the older version left them
    await oldConsumer('workflow', 3);
    const log = await open();
    let attempts = 0;
    let handled = false;
    run(log, 'workflow', WORKFLOW_POLICY, () => {
      attempts += 1;
      if (attempts <= 8) return Promise.reject(outage());
      handled = true;
      return Promise.resolve();
    });
    await log.append([{ id: 'e1', type: 'T', key: 'order-1', data: {} }]);

    await eventually(() => expect(handled).toBe(true), 15_000);
    expect(attempts).toBe(9);
    const info = await jsm.consumers.info(names.eventsStream, names.consumerName('workflow'));
    expect(info.config.max_deliver).toBe(-1);
  });

  it('bounds a bounded group above its attempts, and dead-letters at its last delivery', async () => {
    const log = await open();
    // A raw consumer that never gives up on its own: the log's limit is the last word.
    const collector = new Collector((delivery) => delivery.nak(0, 'still down'));
    log.consume(
      { group: 'bounded', types: ['T'], maxInFlight: 4, maxAttempts: 2 },
      collector.deliver,
    );
    await log.append([{ id: 'e1', type: 'T', key: 'k1', data: { n: 1 } }]);

    const limit = deliveryLimit(2);
    const [letter] = await eventually(async () => {
      const letters = await log.deadLetters({ limit: 10 });
      expect(letters).toHaveLength(1);
      return letters;
    }, 15_000);
    expect(collector.deliveries).toHaveLength(limit);
    expect(letter).toMatchObject({ group: 'bounded', attempts: limit, event: { id: 'e1' } });
    expect(letter?.lastError).toContain('still down');
    // Termed, not dropped: the consumer's ack floor moved past it.
    await eventually(async () =>
      expect((await log.stats())['bounded']).toEqual({ lag: 0, inFlight: 0, dlq: 1 }),
    );
  });

  it('dead-letters an event the server stopped delivering (MAX_DELIVERIES advisory)', async () => {
    const log = await open();
    let seen = 0;
    run(log, 'workflow', WORKFLOW_POLICY, () => {
      seen += 1;
      return Promise.reject(outage());
    });
    await eventually(async () =>
      expect(
        await jsm.consumers.info(names.eventsStream, names.consumerName('workflow')),
      ).toBeDefined(),
    );
    // An older version's process, still running in a rolling deploy, sets its own limit.
    await jsm.consumers.update(names.eventsStream, names.consumerName('workflow'), {
      max_deliver: 3,
    });
    await log.append([{ id: 'e1', type: 'T', key: 'order-1', data: { n: 1 } }]);

    const [letter] = await eventually(async () => {
      const letters = await log.deadLetters({ limit: 10 });
      expect(letters).toHaveLength(1);
      return letters;
    }, 15_000);
    expect(seen).toBe(3);
    expect(letter).toMatchObject({ group: 'workflow', attempts: 3, event: { id: 'e1' } });
    expect(letter?.lastError).toContain('redis_unavailable');
    const [trace] = await log.trace('order-1');
    expect(trace?.outcomes['workflow']).toMatchObject({ state: 'dead', attempts: 3 });

    // The operator fixes the outage and redrives: handled once, nothing left behind.
    await jsm.consumers.update(names.eventsStream, names.consumerName('workflow'), {
      max_deliver: -1,
    });
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
    let handled = 0;
    run(log, 'workflow', WORKFLOW_POLICY, () => {
      handled += 1;
      return Promise.resolve();
    });
    expect(await log.redrive(letter?.id ?? '')).toBe(true);
    await eventually(() => expect(handled).toBe(1), 10_000);
    expect(await log.deadLetters({ limit: 10 })).toEqual([]);
  });
});
