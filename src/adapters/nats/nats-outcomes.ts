import type { DeliveryOutcome } from '../../ports/event-log.js';
import { decodeOutcome, encodeOutcome } from './nats-codec.js';
import { PUBLISH_TIMEOUT_MS, type NatsContext } from './nats-connection.js';

/**
 * What a consumer's state cannot tell: that an event is waiting for a retry and why, that
 * it was dead-lettered, or how many attempts an acked one took. 2.9 consumer info has
 * only the ack floor and the last delivered sequence, and NAK delays live in server
 * memory, so the log keeps one record per (group, event) in a stream holding the last
 * message per subject (a key-value bucket without the KV client). Only events that went
 * wrong at least once get a record; they are few.
 */
export async function recordOutcome(
  context: NatsContext,
  group: string,
  seq: number,
  outcome: DeliveryOutcome,
): Promise<void> {
  await context.js.publish(context.names.outcomeSubject(group, seq), encodeOutcome(outcome), {
    timeout: PUBLISH_TIMEOUT_MS,
  });
}

export async function readOutcome(
  context: NatsContext,
  group: string,
  seq: number,
): Promise<DeliveryOutcome | undefined> {
  const { jsm, names } = context;
  const stored = await jsm.direct.getMessage(names.outcomeStream, {
    last_by_subj: names.outcomeSubject(group, seq),
  });
  return stored ? decodeOutcome(stored.data) : undefined;
}

export function withError(outcome: DeliveryOutcome, error: string | undefined): DeliveryOutcome {
  return error === undefined ? outcome : { ...outcome, lastError: error };
}
