import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, ConsumerInfo, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { NatsContext, PendingWork } from './nats-connection.js';
import { maxDeliverOf } from './nats-groups.js';
import { PullBackoff } from './nats-pull-backoff.js';
import type { NatsSettlement } from './nats-settlement.js';

/**
 * A pull request waits this long at the server for messages. New messages are handed to
 * a waiting request at once, so this is not a latency; at worst it is how long a
 * subscription takes to notice that its consumer was replaced (a replay elsewhere; the
 * server usually says so at once with a 409).
 */
const PULL_EXPIRES_MS = 10_000;
/** A pull that ends empty sooner than this did not wait at the server: back off. */
const EMPTY_AT_ONCE_MS = 100;
const OPEN_RETRY_FIRST_MS = 100;
const OPEN_RETRY_CAP_MS = 2_000;

/**
 * One incarnation of the group's durable consumer: a replay deletes it and creates it
 * anew, and what the old one delivered is then stale (compared by identity).
 */
export interface ConsumerIncarnation {
  readonly consumer: Consumer;
  /** When the server created it: tells the incarnations apart in DLQ ids. */
  readonly created: number;
  /** Its `max_deliver` (-1: none): a NAK of the last delivery would drop the event. */
  readonly maxDeliver: number;
}

export interface PullLoopSetup {
  readonly context: NatsContext;
  readonly maxInFlight: number;
  /** Creates or updates the group's durable consumer. */
  readonly ensureConsumer: () => Promise<ConsumerInfo>;
  readonly settlement: NatsSettlement;
  /** Where the NAKs of messages pulled past the slots go, for `stop()` to wait for. */
  readonly work: PendingWork;
  /** Deliveries handed out and not ended yet: each holds a slot. */
  readonly outstanding: () => number;
  /** A message pulled into a free slot of the current consumer while running. */
  readonly receive: (msg: JsMsg, from: ConsumerIncarnation) => void;
}

type State = 'starting' | 'running' | 'paused' | 'stopped';

/**
 * The pull loop on one group's durable consumer: opens it (retrying until stopped), pulls
 * into the free slots, backs off while pulls fail, and pauses while a replay replaces it.
 *
 * Why not the client's `consume()`: it refills its buffer when messages ARRIVE, not when
 * deliveries end, so it holds more than `maxInFlight` (and the server's `num_pending`
 * under-reports). Capping with the consumer's `max_ack_pending` instead would make the
 * limit group-wide across processes and count NAKed events waiting out their backoff as
 * in flight. So this loop pulls exactly the free slots (`fetch` of `maxInFlight -
 * outstanding - requested`), in batches of at least half the slots while one is pending.
 * A waiting pull gets new messages the moment they are stored: no polling delay.
 */
export class NatsPullLoop {
  private state: State = 'starting';
  private current: ConsumerIncarnation | undefined;
  /** Messages asked for and not arrived yet: they hold slots too. */
  private requested = 0;
  private readonly fetches = new Set<ConsumerMessages>();
  private readonly pulls = new Set<Promise<void>>();
  private readonly backoff = new PullBackoff();
  private readonly halted = new AbortController();
  private readonly opened: Promise<void>;

  constructor(private readonly setup: PullLoopSetup) {
    this.opened = this.open();
  }

  /** False once a replay replaced the consumer `incarnation`. */
  isCurrent(incarnation: ConsumerIncarnation): boolean {
    return incarnation === this.current;
  }

  /** Pulls into the free slots, if there are enough of them; call when one came free. */
  pump(): void {
    const incarnation = this.current;
    if (this.state !== 'running' || !incarnation || this.backoff.waiting) return;
    const { maxInFlight } = this.setup;
    const free = maxInFlight - this.setup.outstanding() - this.requested;
    if (free <= 0 || (this.requested > 0 && free < Math.ceil(maxInFlight / 2))) return;
    const pull = this.pull(incarnation, free);
    this.pulls.add(pull);
    void pull.then(() => this.pulls.delete(pull));
  }

  /** A replay is about to replace the consumer: stops pulling; false when not running. */
  pause(): boolean {
    if (this.state !== 'running') return false;
    this.state = 'paused';
    this.abandonPulls();
    return true;
  }

  /** Pulls again; `replaced` is the new consumer when the old one is gone. */
  resume(replaced: ConsumerInfo | undefined): void {
    if (this.state !== 'paused') return;
    const current = this.current;
    if (replaced && current) this.current = incarnationOf(current.consumer, replaced);
    this.state = 'running';
    this.pump();
  }

  /** Stops for good: no more opening attempts, retries or pulls. */
  halt(): void {
    this.state = 'stopped';
    this.backoff.cancel();
    this.halted.abort();
    this.abandonPulls();
  }

  /** Resolves once the opening attempts and the pulls in flight now have ended. */
  async ended(): Promise<void> {
    await this.opened;
    await Promise.all([...this.pulls]);
  }

  private async open(): Promise<void> {
    for (let attempt = 0; this.state === 'starting'; attempt += 1) {
      try {
        const info = await this.setup.ensureConsumer();
        const consumer = await this.setup.context.js.consumers.get(info.stream_name, info.name);
        if (this.state !== 'starting') return;
        this.current = incarnationOf(consumer, info);
        this.state = 'running';
        this.pump();
      } catch {
        // Not reachable yet (or raced with a replay): try again, until stopped.
        const delay = Math.min(OPEN_RETRY_CAP_MS, OPEN_RETRY_FIRST_MS * 2 ** attempt);
        await sleep(delay, undefined, { ref: false, signal: this.halted.signal }).catch(
          () => undefined,
        );
      }
    }
  }

  private async pull(incarnation: ConsumerIncarnation, batch: number): Promise<void> {
    const began = Date.now();
    let left = batch;
    let failed = false;
    let skipped = false;
    let messages: ConsumerMessages | undefined;
    this.requested += batch;
    try {
      messages = await incarnation.consumer.fetch({
        max_messages: batch,
        expires: PULL_EXPIRES_MS,
      });
      if (!this.pullsFor(incarnation)) {
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
        if (counted && this.pullsFor(incarnation)) this.setup.receive(msg, incarnation);
        else this.setup.work.add(this.setup.settlement.nak(msg, 0));
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
    if (failed || (left === batch && Date.now() - began < EMPTY_AT_ONCE_MS)) this.backOff();
    else {
      this.backoff.reset();
      this.pump();
    }
  }

  private pullsFor(incarnation: ConsumerIncarnation): boolean {
    return this.state === 'running' && incarnation === this.current;
  }

  private backOff(): void {
    if (this.state === 'stopped') return;
    this.backoff.schedule(() => this.pump());
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
    const consumer = this.current?.consumer;
    if (consumer) this.setup.settlement.holdUntil(consumer.info());
  }
}

function incarnationOf(consumer: Consumer, info: ConsumerInfo): ConsumerIncarnation {
  return { consumer, created: Date.parse(info.created), maxDeliver: maxDeliverOf(info) };
}
