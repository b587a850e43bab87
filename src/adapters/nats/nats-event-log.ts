import type { ConsumerInfo } from '@nats-io/jetstream';
import type { RetentionPolicy } from '../../ports/retention.js';
import type { Clock } from '../../ports/clock.js';
import type {
  ConsumerSpec,
  DeadLetter,
  DeadLetterQuery,
  Delivery,
  DeliveryOutcome,
  EventLog,
  EventTrace,
  GroupStats,
  LogEvent,
  NewEvent,
  ReplayFrom,
  ReplayRange,
  Subscription,
} from '../../ports/event-log.js';
import { decodeEvent, encodeData, eventHeaders, isRedriveCopy } from './nats-codec.js';
import { NatsLink, PUBLISH_TIMEOUT_MS, unavailable, type NatsContext } from './nats-connection.js';
import {
  deadLetterCounts,
  discardDeadLetter,
  listDeadLetters,
  redriveDeadLetter,
} from './nats-dead-letters.js';
import { NatsDroppedWatch } from './nats-dropped-watch.js';
import {
  deliveryLimit,
  describedTypes,
  ensureGroupConsumer,
  groupConsumerInfo,
  groupViews,
  maxDeliverOf,
  recreateGroupConsumer,
  type GroupView,
} from './nats-groups.js';
import { readOutcome } from './nats-outcomes.js';
import { KEEP_EVERYTHING } from './nats-retention.js';
import { ensureStreams, guardEventsStream } from './nats-streams.js';
import { assertGroupName, NatsNames, token } from './nats-subjects.js';
import { NatsSubscription } from './nats-subscription.js';

const PING_TIMEOUT_MS = 1_000;

export interface NatsEventLogOptions {
  readonly url: string;
  /** `ORDERFLOW_NAMESPACE`: prefixes the streams, subjects and consumers. */
  readonly namespace: string;
  readonly clock: Clock;
  /** What the events stream keeps; omitted: every event, for good. */
  readonly retention?: RetentionPolicy;
}

/**
 * Connects (failing fast when nothing answers; reconnecting forever once connected) and
 * creates or updates the namespace's streams, idempotently, so that any number of
 * processes may open the same namespace at once.
 */
export async function openNatsEventLog(options: NatsEventLogOptions): Promise<NatsEventLog> {
  const names = new NatsNames(options.namespace);
  const link = await NatsLink.open(options.url, `orderflow:${names.ns}`);
  try {
    const jsm = await link.manager();
    const context: NatsContext = {
      link,
      nc: link.nc,
      jsm,
      js: jsm.jetstream(),
      names,
      clock: options.clock,
    };
    const retention = options.retention ?? KEEP_EVERYTHING;
    await ensureStreams(context, retention);
    return new NatsEventLog(context, retention);
  } catch (error) {
    await link.close();
    throw unavailable(error);
  }
}

/**
 * The event log on NATS JetStream (server 2.9): events in `<NS>_EVENTS`, one durable pull
 * consumer per group, dead letters in `<NS>_DLQ`, and the few per-event outcomes consumer
 * state cannot express in `<NS>_OUTCOMES`. Appends are deduplicated by `Nats-Msg-Id` within
 * the stream's two-minute window. A group with an empty `types` list receives every type.
 * A group's consumer never drops an event its runner would retry (`max_deliver` follows
 * the spec's `maxAttempts`), and one the server gives up on anyway lands in the DLQ.
 */
export class NatsEventLog implements EventLog {
  private readonly subscriptions = new Set<NatsSubscription>();
  /** Dead-letters what the server stopped delivering; runs where groups consume. */
  private droppedWatch: NatsDroppedWatch | undefined;
  private closed = false;

  constructor(
    private readonly context: NatsContext,
    private readonly retention: RetentionPolicy = KEEP_EVERYTHING,
  ) {}

  /** Publishes all, then awaits every PubAck: one round trip for the batch, not one each. */
  async append(events: readonly NewEvent[]): Promise<void> {
    this.assertOpen();
    if (events.length === 0) return;
    const { js, names, clock } = this.context;
    const at = clock.now();
    await this.call(() =>
      Promise.all(
        events.map((event) =>
          js.publish(names.eventSubject(event.key, event.type), encodeData(event.data), {
            msgID: event.id,
            headers: eventHeaders(event, at),
            timeout: PUBLISH_TIMEOUT_MS,
          }),
        ),
      ),
    );
  }

  /**
   * The server removes what is past the events stream's `max_age`; this keeps `max_age`
   * over every event a group has not settled (see `guardEventsStream`), so it removes
   * nothing itself: 0. Dead letters are copies in their own stream, which has no age limit.
   */
  async applyRetention(): Promise<number> {
    this.assertOpen();
    if (this.retention.logMs <= 0) return 0;
    await this.call(() => guardEventsStream(this.context, this.retention.logMs));
    return 0;
  }

  consume(spec: ConsumerSpec, deliver: (delivery: Delivery) => void): Subscription {
    this.assertOpen();
    assertGroupName(spec.group);
    this.droppedWatch ??= new NatsDroppedWatch(this.context);
    const settings = {
      types: spec.types,
      maxDeliver: deliveryLimit(spec.maxAttempts),
      startAt: spec.startAt,
    };
    const subscription = new NatsSubscription({
      context: this.context,
      spec,
      deliver,
      ensureConsumer: () => ensureGroupConsumer(this.context, spec.group, settings),
    });
    this.subscriptions.add(subscription);
    return {
      stop: async () => {
        await subscription.stop();
        this.subscriptions.delete(subscription);
      },
    };
  }

  deadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.call(() => listDeadLetters(this.context, query));
  }

  redrive(deadLetterId: string): Promise<boolean> {
    return this.call(() => redriveDeadLetter(this.context, deadLetterId));
  }

  discard(deadLetterId: string): Promise<boolean> {
    return this.call(() => discardDeadLetter(this.context, deadLetterId));
  }

  /**
   * 2.9 cannot move a consumer's start, so the group's consumer is deleted and created
   * again from the new start; the subscriptions of this process pause meanwhile and go on
   * with the new one, those of other processes find it after a failed pull. Like the
   * SQLite log it only ever moves a group back, and never past an unfinished delivery:
   * the start is at most one past the ack floor.
   */
  replay(group: string, from: ReplayFrom): Promise<ReplayRange> {
    assertGroupName(group);
    return this.call(async () => {
      const { jsm, names } = this.context;
      const through = (await jsm.streams.info(names.eventsStream)).state.last_seq;
      const local = [...this.subscriptions].filter((s) => s.group === group);
      // Paused, their acks confirmed: the ack floor read next is where they really are.
      await Promise.all(local.map((s) => s.pause()));
      let replaced: ConsumerInfo | undefined;
      try {
        const current = await groupConsumerInfo(this.context, group);
        const wanted = 'seq' in from ? from.seq : await this.firstSeqAt(from.time);
        const range = { from: Math.max(1, wanted), through };
        if (current && wanted - 1 >= current.delivered.stream_seq) return range;
        const start = Math.max(1, Math.min(wanted, (current?.ack_floor.stream_seq ?? 0) + 1));
        const types = current ? describedTypes(current) : (local[0]?.types ?? []);
        const [here] = local;
        const maxDeliver = here
          ? deliveryLimit(here.maxAttempts)
          : current
            ? maxDeliverOf(current)
            : -1;
        replaced = await recreateGroupConsumer(
          this.context,
          group,
          { types, maxDeliver },
          start,
          current !== undefined,
        );
        return range;
      } finally {
        for (const subscription of local) subscription.resume(replaced);
      }
    });
  }

  /**
   * The consumer's ack floor (a consumer a replay created that has acked nothing yet
   * reports 0: its floor is then just before its start); once nothing is pending or unacked,
   * the last sequence the stream had before the consumer was read (the floor stops at the
   * group's last own event, and the events after it are not of its types).
   */
  finishedThrough(group: string): Promise<number | undefined> {
    if (token(group) !== group) return Promise.resolve(undefined);
    return this.call(async () => {
      const { jsm, names } = this.context;
      const { state } = await jsm.streams.info(names.eventsStream);
      const info = await groupConsumerInfo(this.context, group);
      if (!info) return undefined;
      const start = info.config.opt_start_seq ?? 0;
      const floor = Math.max(info.ack_floor.stream_seq, start - 1);
      const idle = info.num_pending === 0 && info.num_ack_pending === 0;
      return idle ? Math.max(floor, state.last_seq) : floor;
    });
  }

  /**
   * Per group: `lag` is the consumer's `num_pending` (for a group whose types share a
   * filter with others, the other types count too until it skips them), `inFlight` its
   * `num_ack_pending` (including NAKed events waiting out their delay).
   */
  stats(): Promise<Record<string, GroupStats>> {
    return this.call(async () => {
      const [views, counts] = await Promise.all([
        groupViews(this.context),
        deadLetterCounts(this.context),
      ]);
      const stats: Record<string, GroupStats> = {};
      for (const { group, info } of views) {
        stats[group] = {
          lag: info.num_pending,
          inFlight: info.num_ack_pending,
          dlq: counts[this.context.names.deadLetterSubject(group)] ?? 0,
        };
      }
      return stats;
    });
  }

  /**
   * Outcomes come from the group's outcome record when an event went wrong once, else
   * from its consumer: at or below the ack floor acked, up to the last delivered sequence
   * pending with one attempt. 2.9 reports no per-message ack state above the floor, so an
   * event acked while an older one is still out shows `pending` until the floor passes.
   */
  trace(key: string): Promise<EventTrace[]> {
    return this.call(async () => {
      const events = await this.eventsOf(key);
      if (events.length === 0) return [];
      const views = await groupViews(this.context);
      return Promise.all(
        events.map(async (event) => {
          const matching = views.filter(
            (view) => view.types.length === 0 || view.types.includes(event.type),
          );
          const outcomes = await Promise.all(
            matching.map(async (view) => [view.group, await this.outcomeOf(view, event)] as const),
          );
          return { event, outcomes: Object.fromEntries(outcomes) };
        }),
      );
    });
  }

  async ping(): Promise<boolean> {
    if (this.closed || !this.context.link.isUp) return false;
    const { jsm, names } = this.context;
    const info = jsm.streams.info(names.eventsStream).then(
      () => true,
      () => false,
    );
    const timeout = new Promise<boolean>((resolve) =>
      setTimeout(() => resolve(false), PING_TIMEOUT_MS).unref(),
    );
    return Promise.race([info, timeout]);
  }

  /** Hands back what is in hand (for prompt redelivery elsewhere), then drains. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([
      ...[...this.subscriptions].map((subscription) => subscription.shutdown()),
      this.droppedWatch?.stop(),
    ]);
    this.subscriptions.clear();
    await this.context.link.close();
  }

  /** Fails at once while disconnected; a lost server becomes a RetryableError. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    this.assertOpen();
    this.context.link.assertUp();
    try {
      return await work();
    } catch (error) {
      throw unavailable(error);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the event log is closed');
  }

  private async outcomeOf(view: GroupView, event: LogEvent): Promise<DeliveryOutcome> {
    const recorded = await readOutcome(this.context, view.group, event.seq);
    if (recorded) return recorded;
    const { ack_floor: ackFloor, delivered } = view.info;
    if (event.seq <= ackFloor.stream_seq) return { state: 'acked', attempts: 1 };
    return { state: 'pending', attempts: event.seq <= delivered.stream_seq ? 1 : 0 };
  }

  /** The key's events, in order, with one filter (redriven copies are not events). */
  private async eventsOf(key: string): Promise<LogEvent[]> {
    const { jsm, names } = this.context;
    const filter = names.keySubjects(key);
    const events: LogEvent[] = [];
    for (let seq = 1; ;) {
      const stored = await jsm.direct.getMessage(names.eventsStream, { seq, next_by_subj: filter });
      if (!stored) return events;
      seq = stored.seq + 1;
      if (isRedriveCopy(stored.header)) continue;
      const event = decodeEvent(stored.seq, stored.header, stored.data);
      if (event?.key === key) events.push(event);
    }
  }

  /**
   * The first sequence appended at or after `time` by the log's clock (kept in a header;
   * the server's timestamps follow another clock), by binary search over the stream.
   * Assumes append times grow with the sequence, as they do with one clock.
   */
  private async firstSeqAt(time: number): Promise<number> {
    const { jsm, names } = this.context;
    const { state } = await jsm.streams.info(names.eventsStream);
    let low = Math.max(1, state.first_seq);
    let high = state.last_seq + 1;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const next = await this.eventAtOrAfter(middle);
      if (!next || next.at >= time) high = middle;
      else low = next.seq + 1;
    }
    return low;
  }

  private async eventAtOrAfter(from: number): Promise<LogEvent | undefined> {
    const { jsm, names } = this.context;
    for (let seq = from; ;) {
      const stored = await jsm.direct.getMessage(names.eventsStream, {
        seq,
        next_by_subj: names.events,
      });
      if (!stored) return undefined;
      seq = stored.seq + 1;
      const event = isRedriveCopy(stored.header)
        ? undefined
        : decodeEvent(stored.seq, stored.header, stored.data);
      if (event) return event;
    }
  }
}
