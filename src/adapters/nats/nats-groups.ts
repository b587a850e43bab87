import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { StartAt } from '../../ports/event-log.js';
import type { ConsumerConfig, ConsumerInfo } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { NatsContext } from './nats-connection.js';
import type { NatsNames } from './nats-subjects.js';

/** Redelivery of a delivery nobody acked, nakked or reported `working()` on. */
const ACK_WAIT_MS = 30_000;
/**
 * Deliveries a group's consumer allows beyond the attempts its runner makes: the runner,
 * not the server, decides when an event is dead-lettered (a term). The margin covers
 * deliveries that end without an attempt (handed back at shutdown, pulled past the slots).
 */
const DELIVERY_MARGIN = 10;
/** A server-side backstop only; each subscription keeps its own `maxInFlight`. */
const MAX_ACK_PENDING = 10_000;

/** What a group's durable consumer remembers about it (2.9 has no consumer metadata). */
export interface GroupDescription {
  readonly group: string;
  readonly types: readonly string[];
}

export interface GroupView extends GroupDescription {
  readonly info: ConsumerInfo;
}

/** What a group's consumer is made of: its types, and the most deliveries of one event. */
export interface GroupSettings {
  readonly types: readonly string[];
  /** The server's `max_deliver`; -1: no limit. */
  readonly maxDeliver: number;
  /** Where a consumer created now starts (see `ConsumerSpec.startAt`). */
  readonly startAt?: StartAt;
}

/**
 * The server's `max_deliver` for a consumer whose runner makes at most `maxAttempts`
 * attempts of one event (undefined: as many as it takes): never fewer, so that the server
 * never drops an event the runner would still retry.
 */
export function deliveryLimit(maxAttempts: number | undefined): number {
  if (maxAttempts === undefined) return -1;
  const limit = Math.ceil(maxAttempts) + DELIVERY_MARGIN;
  return Number.isSafeInteger(limit) ? Math.max(1, limit) : -1;
}

/**
 * Creates the group's consumer (from the start of the log, or from now on), or brings an existing one's
 * filter, types and delivery limit up to date (one an older version made allowed 1,000
 * deliveries). Concurrent creations with the same config are one.
 */
export async function ensureGroupConsumer(
  context: NatsContext,
  group: string,
  settings: GroupSettings,
): Promise<ConsumerInfo> {
  const { jsm, names } = context;
  const wanted = groupConfig(names, group, settings);
  const current = await groupConsumerInfo(context, group);
  if (!current) {
    return jsm.consumers.add(names.eventsStream, {
      ...wanted,
      deliver_policy: settings.startAt === 'now' ? DeliverPolicy.New : DeliverPolicy.All,
    });
  }
  if (
    current.config.description === wanted.description &&
    current.config.filter_subject === wanted.filter_subject &&
    maxDeliverOf(current) === wanted.max_deliver
  ) {
    return current;
  }
  return jsm.consumers.update(names.eventsStream, current.name, {
    description: wanted.description,
    filter_subject: wanted.filter_subject,
    max_deliver: wanted.max_deliver,
  });
}

/** The consumer's delivery limit, -1 for none (the server may report none as 0). */
export function maxDeliverOf(info: ConsumerInfo): number {
  const limit = info.config.max_deliver ?? -1;
  return limit > 0 ? limit : -1;
}

/**
 * 2.9 cannot move a consumer's start (deliver policies are not editable): delete the
 * group's consumer and create it again from `start`.
 */
export async function recreateGroupConsumer(
  context: NatsContext,
  group: string,
  settings: GroupSettings,
  start: number,
  exists: boolean,
): Promise<ConsumerInfo> {
  const { jsm, names } = context;
  const config: Partial<ConsumerConfig> = {
    ...groupConfig(names, group, settings),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: start,
  };
  for (let attempt = 1; ; attempt += 1) {
    if (exists || attempt > 1) {
      await jsm.consumers.delete(names.eventsStream, names.consumerName(group)).catch(notFound);
    }
    try {
      return await jsm.consumers.add(names.eventsStream, config);
    } catch (error) {
      // Someone created it from the start meanwhile (a process starting up): once more.
      if (attempt >= 3) throw error;
    }
  }
}

export async function groupConsumerInfo(
  context: NatsContext,
  group: string,
): Promise<ConsumerInfo | undefined> {
  const { jsm, names } = context;
  return jsm.consumers.info(names.eventsStream, names.consumerName(group)).catch(notFound);
}

/** Every group with a consumer on the events stream, as it describes itself. */
export async function groupViews(context: NatsContext): Promise<GroupView[]> {
  const { jsm, names } = context;
  const views: GroupView[] = [];
  for await (const info of jsm.consumers.list(names.eventsStream)) {
    const description = parseDescription(info.config.description);
    if (description) views.push({ ...description, info });
  }
  return views;
}

function groupConfig(
  names: NatsNames,
  group: string,
  { types, maxDeliver }: GroupSettings,
): Partial<ConsumerConfig> & { description: string; filter_subject: string; max_deliver: number } {
  const description: GroupDescription = { group, types: [...types] };
  return {
    durable_name: names.consumerName(group),
    description: JSON.stringify(description),
    filter_subject: names.filterSubject(types),
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ACK_WAIT_MS),
    max_deliver: maxDeliver,
    max_ack_pending: MAX_ACK_PENDING,
  };
}

function parseDescription(description: string | undefined): GroupDescription | undefined {
  if (!description) return undefined;
  try {
    const value = JSON.parse(description) as Partial<GroupDescription>;
    const { group, types } = value;
    if (typeof group !== 'string' || !Array.isArray(types)) return undefined;
    return { group, types: types.filter((type): type is string => typeof type === 'string') };
  } catch {
    return undefined;
  }
}

export function describedTypes(info: ConsumerInfo): readonly string[] {
  return parseDescription(info.config.description)?.types ?? [];
}

/** For `.catch`: a missing consumer is `undefined`, anything else fails. */
function notFound(error: unknown): undefined {
  if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) {
    return undefined;
  }
  throw error;
}
