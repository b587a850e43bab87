import type { ConsumerInfo, JsMsg } from '@nats-io/jetstream';
import type { ConsumerSpec, Delivery, Subscription } from '../../ports/event-log.js';
import { decodeDelivered } from './nats-codec.js';
import { PendingWork, type NatsContext } from './nats-connection.js';
import { openDelivery, type DeliveryScope } from './nats-delivery.js';
import { OutstandingDeliveries } from './nats-outstanding.js';
import { NatsPullLoop, type ConsumerIncarnation } from './nats-pull-loop.js';
import { NatsSettlement } from './nats-settlement.js';

/** A runner whose `deliver` throws gets the event again this much later. */
const DELIVER_FAILED_RETRY_MS = 1_000;

export interface SubscriptionSetup {
  readonly context: NatsContext;
  readonly spec: ConsumerSpec;
  readonly deliver: (delivery: Delivery) => void;
  /** Creates or updates the group's durable consumer. */
  readonly ensureConsumer: () => Promise<ConsumerInfo>;
}

/**
 * One `consume()` of one group: the pull loop on its durable consumer, the messages of
 * the group's types handed to the runner as deliveries (the rest acked unseen), and a
 * `stop()` that resolves once every outstanding delivery has ended and its settle landed.
 */
export class NatsSubscription implements Subscription {
  private readonly work = new PendingWork();
  private readonly outstanding = new OutstandingDeliveries();
  private readonly settlement: NatsSettlement;
  private readonly scope: DeliveryScope;
  private readonly loop: NatsPullLoop;
  private stopping: Promise<void> | undefined;

  constructor(private readonly setup: SubscriptionSetup) {
    const { context, spec } = setup;
    this.settlement = new NatsSettlement(context);
    this.scope = {
      context,
      group: spec.group,
      settlement: this.settlement,
      outstanding: this.outstanding,
      work: this.work,
      isCurrent: (incarnation) => this.loop.isCurrent(incarnation),
      freed: () => this.loop.pump(),
    };
    this.loop = new NatsPullLoop({
      context,
      maxInFlight: Math.max(1, spec.maxInFlight),
      ensureConsumer: setup.ensureConsumer,
      settlement: this.settlement,
      work: this.work,
      outstanding: () => this.outstanding.count,
      receive: (msg, from) => this.receive(msg, from),
    });
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
    this.loop.halt();
    this.outstanding.handBackAll();
    await this.stop();
  }

  /** A replay is about to replace the consumer: stop pulling, let the acks sent land. */
  async pause(): Promise<void> {
    if (!this.loop.pause()) return;
    await this.loop.ended();
    await this.work.settled();
  }

  /** Pulls again; `replaced` is the new consumer when the old one is gone. */
  resume(replaced: ConsumerInfo | undefined): void {
    this.loop.resume(replaced);
  }

  private async finish(): Promise<void> {
    this.loop.halt();
    await this.loop.ended();
    await this.outstanding.idle();
    await this.work.settled();
  }

  private receive(msg: JsMsg, from: ConsumerIncarnation): void {
    const { group, types } = this.setup.spec;
    const delivered = decodeDelivered(msg.seq, msg.headers, msg.data);
    const ours =
      delivered !== undefined &&
      (delivered.redriveFor ?? group) === group &&
      (types.length === 0 || types.includes(delivered.event.type));
    if (!ours) {
      // Another type under the same filter, or a copy redriven for another group.
      this.work.add(this.settlement.ack(msg));
      this.loop.pump();
      return;
    }
    const delivery = openDelivery(this.scope, msg, delivered, from);
    try {
      this.setup.deliver(delivery);
    } catch (error) {
      delivery.nak(DELIVER_FAILED_RETRY_MS, error instanceof Error ? error.message : String(error));
    }
  }
}
