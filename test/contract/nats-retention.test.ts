/**
 * What the JetStream streams take from the retention policy, read from the server: the
 * events stream's max_age, max_bytes and discard policy (updated when a start brings a
 * changed policy, never lowered under what the guard raised), the DLQ's per-group bound, and
 * a full log refusing appends while keeping what it holds.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openNatsEventLog, type NatsEventLog } from '../../src/adapters/nats/nats-event-log.js';
import { guardedMaxAgeMs } from '../../src/adapters/nats/nats-retention.js';
import { NatsNames } from '../../src/adapters/nats/nats-subjects.js';
import type { RetentionPolicy } from '../../src/ports/retention.js';
import { deleteNatsNamespace } from '../helpers/backends-nats.js';
import { ENGINES, enginesUp, randomNamespace } from '../helpers/engines.js';
import { systemClock } from './fixture.js';

const up = await enginesUp('nats');
const NANOS = 1_000_000;

const policy = (fields: Partial<RetentionPolicy>): RetentionPolicy => ({
  logMs: 60_000,
  orderMs: 0,
  deadLettersPerGroup: 100,
  logMaxBytes: 0,
  ...fields,
});

describe('the retention guard', () => {
  it('keeps max_age over the oldest unsettled event, and back at the retention once caught up', () => {
    const logMs = 1_000;
    expect(guardedMaxAgeMs(0, 0, 10_000)).toBe(0);
    expect(guardedMaxAgeMs(logMs, logMs, 0)).toBe(logMs);
    expect(guardedMaxAgeMs(logMs, logMs, 400)).toBe(logMs);
    expect(guardedMaxAgeMs(logMs, logMs, 600)).toBe(2_600);
    // Raised only once the oldest has gained another retention: one update per retention.
    expect(guardedMaxAgeMs(logMs, 2_600, 1_500)).toBe(2_600);
    expect(guardedMaxAgeMs(logMs, 2_600, 1_700)).toBe(3_700);
    // A group stopped for twenty retentions, the pass every quarter retention: its oldest
    // event never comes near max_age, even just before the next pass.
    let current = logMs;
    let updates = 0;
    for (let age = 0; age < 20 * logMs; age += logMs / 4) {
      const wanted = guardedMaxAgeMs(logMs, current, age);
      if (wanted !== current) updates += 1;
      current = wanted;
      expect(current - (age + logMs / 4)).toBeGreaterThan(0);
    }
    expect(updates).toBeLessThanOrEqual(21);
    expect(guardedMaxAgeMs(logMs, 9_000, 100)).toBe(logMs);
  });
});

describe.skipIf(!up)('JetStream streams under a retention policy', () => {
  let namespace: string;
  let names: NatsNames;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const opened: NatsEventLog[] = [];

  const open = async (retention: RetentionPolicy): Promise<NatsEventLog> => {
    const log = await openNatsEventLog({
      url: ENGINES.nats,
      namespace,
      clock: systemClock,
      retention,
    });
    opened.push(log);
    return log;
  };
  const events = async () => (await jsm.streams.info(names.eventsStream)).config;

  beforeEach(async () => {
    namespace = randomNamespace();
    names = new NatsNames(namespace);
    nc = await connect({ servers: ENGINES.nats });
    jsm = await jetstreamManager(nc);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((log) => log.close()));
    await nc.close();
    await deleteNatsNamespace(ENGINES.nats, namespace);
  });

  it('sets max_age, max_bytes and discard from the policy, and updates them on a changed start', async () => {
    await open(policy({ logMs: 60_000 }));
    expect(await events()).toMatchObject({
      max_age: 60_000 * NANOS,
      max_bytes: -1,
      discard: 'old',
      duplicate_window: 60_000 * NANOS,
    });
    const dlq = (await jsm.streams.info(names.deadLetterStream)).config;
    expect(dlq).toMatchObject({
      max_msgs_per_subject: 100,
      discard: 'new',
      discard_new_per_subject: true,
    });
    await open(policy({ logMs: 2 * 60 * 60_000, logMaxBytes: 1024 ** 2 }));
    expect(await events()).toMatchObject({
      max_age: 2 * 60 * 60_000 * NANOS,
      max_bytes: 1024 ** 2,
      discard: 'new',
      duplicate_window: 2 * 60_000 * NANOS,
    });
  });

  it('does not lower on start a max_age the guard raised', async () => {
    const retention = policy({ logMs: 60_000 });
    await open(retention);
    const { subjects } = await events();
    await jsm.streams.update(names.eventsStream, { subjects, max_age: 600_000 * NANOS });
    await open(retention);
    expect((await events()).max_age).toBe(600_000 * NANOS);
  });

  it('refuses appends once max_bytes is reached and keeps every event it holds', async () => {
    const log = await open(policy({ logMaxBytes: 4096 }));
    const big = { pad: 'x'.repeat(600) };
    let appended = 0;
    let refused: unknown;
    for (let n = 0; n < 50 && refused === undefined; n += 1) {
      try {
        await log.append([{ id: `e${n}`, type: 'T', key: 'k', data: big }]);
        appended += 1;
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toBeDefined();
    expect(appended).toBeGreaterThan(0);
    const { state } = await jsm.streams.info(names.eventsStream);
    expect(state.messages).toBe(appended);
    expect(state.first_seq).toBe(1);
  });
});
