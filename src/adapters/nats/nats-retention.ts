import type { StreamInfo } from '@nats-io/jetstream';
import type { RetentionPolicy } from '../../ports/retention.js';
import { nanos } from '@nats-io/transport-node';
import type { NatsContext } from './nats-connection.js';

/** What the events stream keeps when no policy is given: everything, for good. */
export const KEEP_EVERYTHING: RetentionPolicy = {
  logMs: 0,
  orderMs: 0,
  deadLettersPerGroup: 0,
  logMaxBytes: 0,
};

const NANOS_PER_MS = 1_000_000;

/** The stream's `max_age` in ms (0: none). */
export function maxAgeMs(maxAgeNanos: number | undefined): number {
  return Math.round((maxAgeNanos ?? 0) / NANOS_PER_MS);
}

/**
 * How old the oldest event is that some group has not settled (ms; 0 when every group is
 * caught up): per durable consumer on the events stream, the first message after its ack
 * floor while it has messages pending or unacked. Conservative: a filtered consumer's floor
 * may sit below messages not of its types, which only makes the answer older.
 */
export async function oldestUnsettledAgeMs(
  context: NatsContext,
  stream: StreamInfo,
): Promise<number> {
  const { jsm, names, clock } = context;
  if (stream.state.messages === 0) return 0;
  let oldestSeq: number | undefined;
  for await (const consumer of jsm.consumers.list(names.eventsStream)) {
    if (consumer.num_pending === 0 && consumer.num_ack_pending === 0) continue;
    const seq = Math.max(consumer.ack_floor.stream_seq + 1, stream.state.first_seq);
    oldestSeq = oldestSeq === undefined ? seq : Math.min(oldestSeq, seq);
  }
  if (oldestSeq === undefined || oldestSeq > stream.state.last_seq) return 0;
  // Only the head of the stream is ever removed (max_age, max_bytes): a seq between its
  // first and last is there.
  const stored = await jsm.direct.getMessage(names.eventsStream, { seq: oldestSeq });
  if (!stored) return 0;
  return Math.max(0, clock.now() - stored.time.getTime());
}

/**
 * The events stream's `max_age` that keeps every unsettled event (see `guardedMaxAgeMs`),
 * given where it stands now: JetStream's limits retention removes a message past `max_age`
 * whether or not a durable consumer acked it, so for a group that lags, the age is raised
 * above its oldest unsettled event; once every group has caught up, it goes back to the
 * configured retention.
 *
 * - An oldest unsettled event younger than half the retention needs nothing more: the pass
 *   runs at least four times per retention, long before it could age out.
 * - Older: `max_age` becomes its age plus two retentions, raised again only once its age
 *   has gained another retention — one update per retention while a group stays away, with
 *   at least three quarters of a retention to spare between passes.
 */
export function guardedMaxAgeMs(logMs: number, currentMs: number, oldestAgeMs: number): number {
  if (logMs <= 0) return 0;
  if (oldestAgeMs <= logMs / 2) return logMs;
  if (currentMs >= oldestAgeMs + logMs && currentMs <= oldestAgeMs + 3 * logMs) return currentMs;
  return oldestAgeMs + 2 * logMs;
}

/** `max_age` in the stream config's nanoseconds. */
export function maxAgeNanos(ms: number): number {
  return ms <= 0 ? 0 : nanos(ms);
}
