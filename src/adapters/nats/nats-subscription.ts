import type { Consumer, ConsumerInfo, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type {
  ConsumerSpec,
  Delivery,
  DeliveryOutcome,
  LogEvent,
  Subscription,
} from '../../ports/event-log.js';
import { decodeDelivered } from './nats-codec.js';
import { PendingWork, type NatsContext } from './nats-connection.js';
import { publishDeadLetter } from './nats-dead-letters.js';
import { maxDeliverOf } from './nats-groups.js';
import { recordOutcome, withError } from './nats-outcomes.js';

/**
 * A pull request waits this long at the server for messages. New messages are handed to
 * a waiting request at once, so this is not a latency; at worst it is how long a
 * subscription takes to notice that its consumer was replaced (a replay elsewhere; the
 * server usually says so at once with a 409).
 */
const PULL_EXPIRES_MS = 10_000;
/** Acks, naks and terms wait for the server's confirmation this long (then: redelivery). */
const SETTLE_TIMEOUT_MS = 2_000;
/** A dead letter that could not be stored comes back this much later, to be termed again. */
const DEAD_LETTER_RETRY_MS = 5_000;
const RETRY_FIRST_MS = 100;
const RETRY_CAP_MS = 2_000;

type State = 'starting' | 'running' | 'paused' | 'stopped';

interface Handed {
  readonly msg: JsMsg;
  readonly generation: number;
  ended: boolean;
}

export interface SubscriptionSetup {
  readonly context: NatsContext;
  readonly spec: ConsumerSpec;
  readonly deliver: (delivery: Delivery) => void;
  /** Creates or updates the group's durable consumer. */
  readonly ensureConsumer: () => Promise<ConsumerInfo>;
}

/**
 * One `consume()` of one group: a pull loop on the group's durable consumer.
 *
 * Why not the client's `consume()`: it refills its buffer when messages ARRIVE, not when
 * deliveries end, so it holds more than `maxInFlight` (and the server's `num_pending`
 * under-reports). Capping with the consumer's `max_ack_pending` instead would make the
 * limit group-wide across processes and count NAKed events waiting out their backoff as
 * in flight. So this loop pulls exactly the free slots (`fetch` of `maxInFlight -
 * outstanding - requested`), in batches of at least half the slots while one is pending.
 * A waiting pull gets new messages the moment they are stored: no polling delay.
 */
export class NatsSubscription implements Subscription {
  private state: State = 'starting';
  private consumer: Consumer | undefined;
  /** Tells the incarnations of the consumer apart (a replay recreates it) in DLQ ids. */
  private incarnation = 0;
  /** The consumer's `max_deliver` (-1: none): a NAK of the last delivery would drop it. */
  private maxDeliver = -1;
  /** Bumped when a replay replaced the consumer: deliveries of the old one are stale. */
  private generation = 0;
  private readonly handed = new Set<Handed>();
  private requested = 0;
  private readonly fetches = new Set<ConsumerMessages>();
  private readonly pulls = new Set<Promise<void>>();
  private readonly work = new PendingWork();
  /** Settling waits for this: see `abandonPulls`. */
  private barrier: Promise<void> = Promise.resolve();
  private readonly maxInFlight: number;
  private readonly started: Promise<void>;
  private retryDelay = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeStarter: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly setup: SubscriptionSetup) {
    this.maxInFlight = Math.max(1, setup.spec.maxInFlight);
    this.started = this.start();
  }

  get group(): string {
    return this.setup.spec.group;
  }

  get types(): readonly string[] {
    return this.setup.spec.types;
  }

  get maxAttempts(): number | undefined {
    return this.setup.spec.maxAttempts;
  }

  stop(): Promise<void> {
    return (this.stopping ??= this.finish());
  }

  /**
   * Closing the log: stop pulling and hand back (NAK) what is in hand without waiting for
   * it, so that the next process gets those events at once rather than after `ack_wait`.
   */
  async shutdown(): Promise<void> {
    this.halt();
    for (const item of this.handed) this.release(item);
    await this.stop();
  }

  /** A replay is about to replace the consumer: stop pulling, let the acks sent land. */
  async pause(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'paused';
    this.abandonPulls();
    await Promise.all([...this.pulls]);
    await this.work.settled();
  }

  /** Pulls again; `replaced` is the new consumer when the old one is gone. */
  resume(replaced: ConsumerInfo | undefined): void {
    if (this.state !== 'paused') return;
    if (replaced) {
      this.generation += 1;
      this.incarnation = Date.parse(replaced.created);
      this.maxDeliver = maxDeliverOf(replaced);
    }
    this.state = 'running';
    this.pump();
  }

  private async start(): Promise<void> {
    for (let attempt = 0; this.state === 'starting'; attempt += 1) {
      try {
        const info = await this.setup.ensureConsumer();
        const consumer = await this.setup.context.js.consumers.get(info.stream_name, info.name);
        if (this.state !== 'starting') return;
        this.consumer = consumer;
        this.incarnation = Date.parse(info.created);
        this.maxDeliver = maxDeliverOf(info);
        this.state = 'running';
        this.pump();
      } catch {
        // Not reachable yet (or raced with a replay): try again, until stopped.
        await new Promise<void>((resolve) => {
          this.wakeStarter = resolve;
          setTimeout(resolve, Math.min(RETRY_CAP_MS, RETRY_FIRST_MS * 2 ** attempt)).unref();
        });
      }
    }
  }

  private async finish(): Promise<void> {
    this.halt();
    await this.started;
    if (this.handed.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await Promise.all([...this.pulls]);
    await this.work.settled();
  }

  private halt(): void {
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    this.wakeStarter?.();
    this.abandonPulls();
  }

  /**
   * Works around a 2.9 server bug. A pull request whose client unsubscribed stays queued
   * at the server until it expires; if a NAKed message is then due while only such dead
   * requests wait, the server "puts it back" by rewinding the consumer's stream position
   * instead of requeueing it: the NAKed message is lost until `ack_wait` and the last new
   * one is delivered twice. Asking for the consumer's info purges requests without
   * interest, so after abandoning pulls every settle waits for one info round trip.
   */
  private abandonPulls(): void {
    if (this.fetches.size === 0) return;
    for (const fetch of this.fetches) fetch.stop();
    this.purgeDeadPulls();
  }

  private purgeDeadPulls(): void {
    const consumer = this.consumer;
    if (!consumer) return;
    this.barrier = consumer.info().then(
      () => undefined,
      () => undefined,
    );
  }

  private pump(): void {
    const consumer = this.consumer;
    if (this.state !== 'running' || !consumer || this.retryTimer) return;
    const free = this.maxInFlight - this.handed.size - this.requested;
    if (free <= 0 || (this.requested > 0 && free < Math.ceil(this.maxInFlight / 2))) return;
    const pull = this.pull(consumer, free);
    this.pulls.add(pull);
    void pull.then(() => this.pulls.delete(pull));
  }

  private async pull(consumer: Consumer, batch: number): Promise<void> {
    const generation = this.generation;
    const began = Date.now();
    let left = batch;
    let failed = false;
    let skipped = false;
    let messages: ConsumerMessages | undefined;
    this.requested += batch;
    try {
      messages = await consumer.fetch({ max_messages: batch, expires: PULL_EXPIRES_MS });
      if (this.state !== 'running' || generation !== this.generation) {
        // Never iterated, the client never sends its pull request: nothing lingers.
        skipped = true;
        messages.stop();
        return;
      }
      this.fetches.add(messages);
      for await (const msg of messages) {
        // After a reconnect the client may re-pull a whole batch: never exceed the slots.
        const counted = left > 0;
        if (counted) {
          left -= 1;
          this.requested -= 1;
        }
        if (counted && this.state === 'running' && generation === this.generation) {
          this.receive(msg);
        } else {
          this.work.add(this.settle(msg, 0));
        }
      }
    } catch {
      // The client stopped the fetch (missed heartbeats, consumer gone): its request may linger.
      failed = true;
      this.purgeDeadPulls();
    } finally {
      if (messages) this.fetches.delete(messages);
      this.requested -= left;
      if (skipped) this.pump();
    }
    // An error, or a pull that ended empty at once (consumer gone, server busy): back off.
    if (failed || (left === batch && Date.now() - began < RETRY_FIRST_MS)) this.backOff();
    else {
      this.retryDelay = 0;
      this.pump();
    }
  }

  private backOff(): void {
    if (this.state === 'stopped' || this.retryTimer) return;
    this.retryDelay = Math.min(RETRY_CAP_MS, Math.max(RETRY_FIRST_MS, this.retryDelay * 2));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, this.retryDelay);
    this.retryTimer.unref();
  }

  private receive(msg: JsMsg): void {
    const { group, types } = this.setup.spec;
    const delivered = decodeDelivered(msg.seq, msg.headers, msg.data);
    const ours =
      delivered !== undefined &&
      (delivered.redriveFor ?? group) === group &&
      (types.length === 0 || types.includes(delivered.event.type));
    if (!ours) {
      // Another type under the same filter, or a copy redriven for another group.
      this.work.add(this.settle(msg, 'ack'));
      this.pump();
      return;
    }
    const { event } = delivered;
    const attempt = delivered.priorAttempts + msg.info.deliveryCount;
    const item: Handed = { msg, generation: this.generation, ended: false };
    this.handed.add(item);
    const delivery: Delivery = {
      event,
      attempt,
      ack: () => this.end(item, () => this.acked(item, event, attempt)),
      nak: (delayMs, error) =>
        this.end(item, () => this.nakked(item, event, attempt, delayMs, error)),
      term: (reason) => this.end(item, () => this.termed(item, event, attempt, reason)),
      working: () => {
        if (!item.ended && item.generation === this.generation) msg.working();
      },
    };
    try {
      this.setup.deliver(delivery);
    } catch (error) {
      delivery.nak(1_000, error instanceof Error ? error.message : String(error));
    }
  }

  private end(item: Handed, settleIt: () => void): void {
    if (item.ended) return;
    item.ended = true;
    this.handed.delete(item);
    // A delivery of a consumer a replay has since replaced: the new one hands it out again.
    if (item.generation === this.generation) settleIt();
    this.pump();
    if (this.handed.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private release(item: Handed): void {
    this.end(item, () => this.work.add(this.settle(item.msg, 0)));
  }

  private acked(item: Handed, event: LogEvent, attempt: number): void {
    this.work.add(this.settle(item.msg, 'ack'));
    if (attempt > 1) this.record(event, { state: 'acked', attempts: attempt });
  }

  private nakked(
    item: Handed,
    event: LogEvent,
    attempt: number,
    delayMs: number,
    error: string | undefined,
  ): void {
    const { msg } = item;
    if (this.maxDeliver > 0 && msg.info.deliveryCount >= this.maxDeliver) {
      // The server would not deliver it again (a limit an older version set): keep it.
      const reason = `${error ?? 'not done'} (the consumer allows ${this.maxDeliver} deliveries)`;
      this.work.add(this.deadLetter(msg, event, attempt, reason));
      return;
    }
    this.work.add(this.settle(msg, Math.max(0, delayMs)));
    this.record(event, withError({ state: 'retrying', attempts: attempt }, error));
  }

  private termed(item: Handed, event: LogEvent, attempt: number, reason: string): void {
    this.work.add(this.deadLetter(item.msg, event, attempt, reason));
  }

  /** First the DLQ copy, then the term: a crash between the two redelivers, never loses. */
  private async deadLetter(
    msg: JsMsg,
    event: LogEvent,
    attempt: number,
    reason: string,
  ): Promise<void> {
    const { context } = this.setup;
    const { group } = this;
    // Recorded first: a redrive (possible once the letter exists) records after it.
    const dead: DeliveryOutcome = { state: 'dead', attempts: attempt, lastError: reason };
    await recordOutcome(context, group, event.seq, dead).catch(() => undefined);
    try {
      await publishDeadLetter(
        context,
        msg,
        { group, seq: event.seq, attempts: attempt, lastError: reason, at: context.clock.now() },
        `${group}:${msg.seq}:${this.incarnation}`,
      );
    } catch {
      // Not stored: hand it back for later; the runner will term it again.
      await this.settle(msg, DEAD_LETTER_RETRY_MS);
      return;
    }
    await this.settle(msg, 'term');
  }

  private settle(msg: JsMsg, verdict: Verdict): Promise<void> {
    return this.barrier.then(() => settle(this.setup.context, msg, verdict));
  }

  private record(event: LogEvent, outcome: DeliveryOutcome): void {
    this.work.add(recordOutcome(this.setup.context, this.group, event.seq, outcome));
  }
}

/** What ends a delivery at the server: ack, term, or a NAK with this delay in ms. */
type Verdict = 'ack' | 'term' | number;

/**
 * Acks as requests: the server confirms each, so `stop()` and `close()` can wait until
 * the consumer's state really changed (a fire-and-forget ack could still be in flight
 * when the next process asks where the group stands). A lost one means a redelivery.
 */
async function settle(context: NatsContext, msg: JsMsg, verdict: Verdict): Promise<void> {
  if (!context.link.isUp) return;
  // The client's message has its reply subject, but its `JsMsg` type does not say so.
  const reply = 'reply' in msg && typeof msg.reply === 'string' ? msg.reply : '';
  if (reply === '') return settleUnconfirmed(msg, verdict);
  await context.nc.request(reply, payloadOf(verdict), { timeout: SETTLE_TIMEOUT_MS });
}

function settleUnconfirmed(msg: JsMsg, verdict: Verdict): void {
  if (verdict === 'ack') msg.ack();
  else if (verdict === 'term') msg.term();
  else msg.nak(verdict);
}

function payloadOf(verdict: Verdict): string {
  if (verdict === 'ack') return '+ACK';
  // `+TERM <reason>` is 2.10+: 2.9 ignores the whole ack, so the reason lives in the DLQ only.
  if (verdict === 'term') return '+TERM';
  const ms = Math.round(verdict);
  return ms > 0 ? `-NAK ${JSON.stringify({ delay: ms * 1_000_000 })}` : '-NAK';
}
