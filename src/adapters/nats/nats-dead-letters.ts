import { JetStreamApiError, type JsMsg } from '@nats-io/jetstream';
import type { DeadLetter, DeadLetterQuery } from '../../ports/event-log.js';
import {
  deadLetterHeaders,
  decodeDeadLetter,
  decodeDelivered,
  redriveHeaders,
  type DeadLetterFields,
} from './nats-codec.js';
import { PUBLISH_TIMEOUT_MS, type NatsContext } from './nats-connection.js';
import { readOutcome, recordOutcome } from './nats-outcomes.js';
import { token } from './nats-subjects.js';

/**
 * Stores a copy of a delivered event in the DLQ stream on `<ns>.dlq.<group>`: the original
 * data and headers plus group, sequence, attempts, reason and time. `msgID` makes a retry
 * of the same dead-lettering (a crash before the original was termed) store it once.
 */
export async function publishDeadLetter(
  context: NatsContext,
  msg: Pick<JsMsg, 'data' | 'headers'>,
  fields: DeadLetterFields,
  msgID: string,
): Promise<void> {
  await context.js.publish(context.names.deadLetterSubject(fields.group), msg.data, {
    msgID,
    headers: deadLetterHeaders(msg.headers, fields),
    timeout: PUBLISH_TIMEOUT_MS,
  });
}

/** A delivery its group's runner termed, or nakked when the consumer allows no more. */
export interface TermedDelivery {
  readonly group: string;
  readonly msg: Pick<JsMsg, 'data' | 'headers' | 'seq'>;
  /** Sequence of the original event (a redriven copy's differs from `msg.seq`). */
  readonly seq: number;
  readonly attempts: number;
  readonly reason: string;
  /**
   * When the delivering consumer was created. The letter's id is per message and consumer:
   * the same term retried stores one letter, a term after a replay (the consumer
   * recreated) another.
   */
  readonly consumerCreated: number;
}

/**
 * Dead-letters what a group's runner termed: the `dead` outcome, then the copy. Throws
 * when the copy was not stored; the caller then hands the message back instead of
 * terming it, so that a failure here never loses the event.
 */
export async function deadLetterTermed(
  context: NatsContext,
  termed: TermedDelivery,
): Promise<void> {
  const { group, msg, seq, attempts, reason } = termed;
  // Recorded first: a redrive (possible once the letter exists) records after it. Best
  // effort: the letter is what must not be lost.
  const dead = { state: 'dead', attempts, lastError: reason } as const;
  await recordOutcome(context, group, seq, dead).catch(() => undefined);
  await publishDeadLetter(
    context,
    msg,
    { group, seq, attempts, lastError: reason, at: context.clock.now() },
    `${group}:${msg.seq}:${termed.consumerCreated}`,
  );
}

/** What the server says when it stopped delivering an event to a group's consumer. */
export interface DroppedDelivery {
  readonly group: string;
  /** Stream sequence of the message (a redriven copy's own). */
  readonly streamSeq: number;
  readonly deliveries: number;
  /** The advisory's id: dead-lettering the same advisory twice stores one letter. */
  readonly id: string;
}

/**
 * Dead-letters an event the server stopped delivering to a group (its `max_deliver` was
 * reached): the copy a term would have stored, with the group's last recorded error. A
 * message gone from the stream, or a redriven copy meant for another group, leaves nothing.
 * Unlike a term, this cannot settle the message: 2.9 leaves the group's ack floor below it.
 */
export async function deadLetterDropped(
  context: NatsContext,
  dropped: DroppedDelivery,
): Promise<void> {
  const { jsm, names, clock } = context;
  const { group, streamSeq, deliveries } = dropped;
  const stored = await jsm.direct.getMessage(names.eventsStream, { seq: streamSeq });
  const delivered = stored && decodeDelivered(streamSeq, stored.header, stored.data);
  if (!stored || !delivered || (delivered.redriveFor ?? group) !== group) return;
  const { event, priorAttempts } = delivered;
  const attempts = priorAttempts + deliveries;
  const last = await readOutcome(context, group, event.seq);
  const lastError = `${last?.lastError ?? 'no error recorded'} (the server stopped after ${deliveries} deliveries)`;
  // Recorded first, as a term does: a redrive (possible once the letter exists) records after it.
  await recordOutcome(context, group, event.seq, { state: 'dead', attempts, lastError });
  await publishDeadLetter(
    context,
    { data: stored.data, headers: stored.header },
    { group, seq: event.seq, attempts, lastError, at: clock.now() },
    `dropped:${group}:${streamSeq}:${dropped.id}`,
  );
}

/**
 * Oldest first; the id of a dead letter is its DLQ stream sequence, so `after` is where the
 * page goes on whether or not that letter is still there. Each direct get asks for the
 * next message on the group's subject (every group's without one): the server skips other
 * groups' letters and deleted ones, and a page reads only what it answers and what the
 * error filter drops.
 */
export async function listDeadLetters(
  context: NatsContext,
  query: DeadLetterQuery,
): Promise<DeadLetter[]> {
  const { jsm, names } = context;
  const { group, errorContains, after, limit } = query;
  const { state } = await jsm.streams.info(names.deadLetterStream);
  // A group name that is no subject token (`a.b`, `*`) matches no letter on its own subject.
  const subject = group === undefined ? names.deadLetters : names.deadLetterSubject(token(group));
  const afterSeq = after !== undefined && /^[0-9]{1,16}$/.test(after.id) ? Number(after.id) : 0;
  const letters: DeadLetter[] = [];
  let seq = Math.max(state.first_seq, afterSeq + 1);
  while (state.messages > 0 && letters.length < limit && seq <= state.last_seq) {
    const stored = await jsm.direct.getMessage(names.deadLetterStream, {
      seq,
      next_by_subj: subject,
    });
    if (!stored) break;
    seq = stored.seq + 1;
    const letter = decodeDeadLetter(stored.seq, stored.header, stored.data);
    if (!letter || (group !== undefined && letter.group !== group)) continue;
    if (errorContains !== undefined && !letter.lastError.includes(errorContains)) continue;
    letters.push(letter);
  }
  return letters;
}

/**
 * Puts a dead letter back for its group only. There is no per-group inbox to put it in
 * (a 2.9 consumer has one filter, already spent on its types), so the copy goes back on
 * the event's own subject marked `Orderflow-Redrive-Group`: that group's consumer takes it
 * as the original sequence, every other group acks it unseen. The copy says no attempts
 * were made so far: it is a new message to the consumer, so its first delivery is attempt
 * 1 and the group gets a fresh set of attempts.
 */
export async function redriveDeadLetter(context: NatsContext, id: string): Promise<boolean> {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return false;
  const { js, jsm, names } = context;
  const seq = Number(id);
  const stored = await jsm.direct.getMessage(names.deadLetterStream, { seq });
  const letter = stored && decodeDeadLetter(seq, stored.header, stored.data);
  if (!stored || !letter) return false;
  const { event } = letter;
  // Recorded before the copy exists, so that the copy's own outcome always comes after.
  await recordOutcome(context, letter.group, event.seq, {
    state: 'retrying',
    attempts: 0,
    lastError: letter.lastError,
  });
  await js.publish(names.eventSubject(event.key, event.type), stored.data, {
    msgID: `redrive:${seq}`,
    headers: redriveHeaders({ ...letter, attempts: 0 }, stored.header),
    timeout: PUBLISH_TIMEOUT_MS,
  });
  try {
    return await jsm.streams.deleteMessage(names.deadLetterStream, seq, false);
  } catch (error) {
    // Redriven by someone else meanwhile: the copy's message id made theirs and ours one.
    if (error instanceof JetStreamApiError) return false;
    throw error;
  }
}

/** Removes a dead letter from the DLQ stream; false when there is no such letter. */
export async function discardDeadLetter(context: NatsContext, id: string): Promise<boolean> {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return false;
  const { jsm, names } = context;
  try {
    return await jsm.streams.deleteMessage(names.deadLetterStream, Number(id), false);
  } catch (error) {
    // No such message (never there, redriven or discarded meanwhile).
    if (error instanceof JetStreamApiError) return false;
    throw error;
  }
}

/** Dead letters per DLQ subject (`<ns>.dlq.<group>`). */
export async function deadLetterCounts(context: NatsContext): Promise<Record<string, number>> {
  const { jsm, names } = context;
  const info = await jsm.streams.info(names.deadLetterStream, {
    subjects_filter: names.deadLetters,
  });
  return info.state.subjects ?? {};
}
