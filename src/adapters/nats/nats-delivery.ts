import { JetStreamApiError, type JsMsg } from '@nats-io/jetstream';
import type { Delivery, DeliveryOutcome, LogEvent } from '../../ports/event-log.js';
import type { DeliveredEvent } from './nats-codec.js';
import type { NatsContext, PendingWork } from './nats-connection.js';
import { deadLetterTermed } from './nats-dead-letters.js';
import { recordOutcome, withError } from './nats-outcomes.js';
import type { OutstandingDeliveries, OutstandingDelivery } from './nats-outstanding.js';
import type { ConsumerIncarnation } from './nats-pull-loop.js';
import type { NatsSettlement } from './nats-settlement.js';

/** A dead letter that could not be stored comes back this much later, to be termed again. */
const DEAD_LETTER_RETRY_MS = 5_000;
/** JetStream's error code for a publish refused by `discard_new_per_subject`. */
const MAX_MESSAGES_PER_SUBJECT_EXCEEDED = 10077;
/** A term refused by a full dead-letter queue is tried again this much later. */
const DEAD_LETTER_FULL_RETRY_MS = 30_000;

/** The DLQ stream refused a letter: its group's subject holds `max_msgs_per_subject`. */
function isDeadLetterQueueFull(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === MAX_MESSAGES_PER_SUBJECT_EXCEEDED;
}

/** What a delivery works with: the parts of its subscription. */
export interface DeliveryScope {
  readonly context: NatsContext;
  readonly group: string;
  readonly settlement: NatsSettlement;
  readonly outstanding: OutstandingDeliveries;
  /** Settles, outcome records and dead letters in flight, for `stop()` to wait for. */
  readonly work: PendingWork;
  /** False once a replay replaced the consumer `incarnation`. */
  isCurrent(incarnation: ConsumerIncarnation): boolean;
  /** A slot came free. */
  freed(): void;
}

interface Handed {
  readonly msg: JsMsg;
  readonly event: LogEvent;
  readonly attempt: number;
  /** A dead letter's copy: its outcome record says `retrying` until this delivery ends. */
  readonly redriven: boolean;
  readonly from: ConsumerIncarnation;
}

/**
 * A pulled message of the group as the port's `Delivery`, outstanding until its first
 * verdict: what each verb does at the server and in the group's outcome records.
 */
export function openDelivery(
  scope: DeliveryScope,
  msg: JsMsg,
  delivered: DeliveredEvent,
  from: ConsumerIncarnation,
): Delivery {
  const { event } = delivered;
  const handed: Handed = {
    msg,
    event,
    attempt: delivered.priorAttempts + msg.info.deliveryCount,
    redriven: delivered.redriveFor !== undefined,
    from,
  };
  const outstanding: OutstandingDelivery = {
    handBack: () => end(() => scope.work.add(scope.settlement.nak(msg, 0))),
  };
  scope.outstanding.add(outstanding);
  function end(settle: () => void): void {
    if (!scope.outstanding.end(outstanding)) return;
    // A delivery of a consumer a replay has since replaced: the new one hands it out again.
    if (scope.isCurrent(from)) settle();
    scope.freed();
  }
  return {
    event,
    attempt: handed.attempt,
    ack: () => end(() => ack(scope, handed)),
    nak: (delayMs, error) => end(() => nak(scope, handed, delayMs, error)),
    term: (reason) => end(() => scope.work.add(deadLetter(scope, handed, reason))),
    working: () => {
      if (scope.outstanding.has(outstanding) && scope.isCurrent(from)) msg.working();
    },
  };
}

function ack(scope: DeliveryScope, { msg, event, attempt, redriven }: Handed): void {
  scope.work.add(scope.settlement.ack(msg));
  if (attempt > 1 || redriven) record(scope, event, { state: 'acked', attempts: attempt });
}

function nak(
  scope: DeliveryScope,
  handed: Handed,
  delayMs: number,
  error: string | undefined,
): void {
  const { msg, event, attempt, from } = handed;
  if (from.maxDeliver > 0 && msg.info.deliveryCount >= from.maxDeliver) {
    // The server would not deliver it again (a limit an older version set): keep it.
    const reason = `${error ?? 'not done'} (the consumer allows ${from.maxDeliver} deliveries)`;
    scope.work.add(deadLetter(scope, handed, reason));
    return;
  }
  scope.work.add(scope.settlement.nak(msg, Math.max(0, delayMs)));
  record(scope, event, withError({ state: 'retrying', attempts: attempt }, error));
}

/** First the DLQ copy, then the term: a crash between the two redelivers, never loses. */
async function deadLetter(scope: DeliveryScope, handed: Handed, reason: string): Promise<void> {
  const { msg, event, attempt, from } = handed;
  try {
    await deadLetterTermed(scope.context, {
      group: scope.group,
      msg,
      seq: event.seq,
      attempts: attempt,
      reason,
      consumerCreated: from.created,
    });
  } catch (error) {
    // Not stored: hand it back for later; the runner will term it again.
    if (isDeadLetterQueueFull(error)) {
      // Full (ORDERFLOW_DLQ_LIMIT): the event waits in the log, retried now and then.
      const lastError = `the dead-letter queue of group ${scope.group} is full: ${reason}`;
      record(scope, event, { state: 'retrying', attempts: attempt, lastError });
      await scope.settlement.nak(msg, DEAD_LETTER_FULL_RETRY_MS);
      return;
    }
    await scope.settlement.nak(msg, DEAD_LETTER_RETRY_MS);
    return;
  }
  await scope.settlement.term(msg);
}

function record(scope: DeliveryScope, event: LogEvent, outcome: DeliveryOutcome): void {
  scope.work.add(recordOutcome(scope.context, scope.group, event.seq, outcome));
}
