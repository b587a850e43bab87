import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { ConsumerConfig, ConsumerInfo } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { NatsContext } from './nats-connection.js';
import type { NatsNames } from './nats-subjects.js';

/** Redelivery of a delivery nobody acked, nakked or reported `working()` on. */
const ACK_WAIT_MS = 30_000;
/** Far above the runner's attempts: the runner, not the server, decides dead-lettering. */
const MAX_DELIVER = 1_000;
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

/**
 * Creates the group's consumer (from the start of the log), or brings an existing one's
 * filter and types up to date. Concurrent creations with the same config are one.
 */
export async function ensureGroupConsumer(
  context: NatsContext,
  group: string,
  types: readonly string[],
): Promise<ConsumerInfo> {
  const { jsm, names } = context;
  const wanted = groupConfig(names, group, types);
  const current = await groupConsumerInfo(context, group);
  if (!current) {
    return jsm.consumers.add(names.eventsStream, {
      ...wanted,
      deliver_policy: DeliverPolicy.All,
    });
  }
  if (
    current.config.description === wanted.description &&
    current.config.filter_subject === wanted.filter_subject
  ) {
    return current;
  }
  return jsm.consumers.update(names.eventsStream, current.name, {
    description: wanted.description,
    filter_subject: wanted.filter_subject,
  });
}

/**
 * 2.9 cannot move a consumer's start (deliver policies are not editable): delete the
 * group's consumer and create it again from `start`.
 */
export async function recreateGroupConsumer(
  context: NatsContext,
  group: string,
  types: readonly string[],
  start: number,
  exists: boolean,
): Promise<ConsumerInfo> {
  const { jsm, names } = context;
  const config: Partial<ConsumerConfig> = {
    ...groupConfig(names, group, types),
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
  types: readonly string[],
): Partial<ConsumerConfig> & { description: string; filter_subject: string } {
  const description: GroupDescription = { group, types: [...types] };
  return {
    durable_name: names.consumerName(group),
    description: JSON.stringify(description),
    filter_subject: names.filterSubject(types),
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ACK_WAIT_MS),
    max_deliver: MAX_DELIVER,
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
