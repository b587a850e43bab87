import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { sleep, type NatsContext } from './nats-connection.js';
import { deadLetterDropped, type DroppedDelivery } from './nats-dead-letters.js';

const BATCH = 16;
const ACK_WAIT_MS = 30_000;
/** An advisory whose dead letter could not be stored comes back this much later. */
const RETRY_LATER_MS = 5_000;
const RESTART_FIRST_MS = 100;
const RESTART_CAP_MS = 2_000;
const MAX_DELIVER_ADVISORY = 'io.nats.jetstream.advisory.v1.max_deliver';

/**
 * The log's backstop for events the server gave up on. A group's consumer allows at least
 * as many deliveries as its runner makes attempts, but a consumer an older version
 * configured, or a last allowed delivery that ended without a verdict (a crash, an expired
 * ack wait), reaches the server's `max_deliver`: the server then stops delivering the event
 * to that group and says so only in a MAX_DELIVERIES advisory. The advisories are captured
 * in a stream, so none is missed while no process listens, and this loop (in every process
 * that consumes; one durable consumer, so one process per advisory) dead-letters each.
 */
export class NatsDroppedWatch {
  private stopped = false;
  private messages: ConsumerMessages | undefined;
  private wake: (() => void) | undefined;
  private readonly running: Promise<void>;

  constructor(private readonly context: NatsContext) {
    this.running = this.run();
  }

  /** Stops pulling and waits for the advisory in hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    this.wake?.();
    await this.running;
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.stopped; failures += 1) {
      try {
        const messages = await (await this.consumer()).consume({ max_messages: BATCH });
        this.messages = messages;
        if (this.stopped) messages.stop();
        for await (const msg of messages) {
          failures = 0;
          await this.handle(msg);
        }
      } catch {
        // Not reachable yet, or the stream was removed meanwhile: again, until stopped.
      }
      if (this.stopped) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        void sleep(Math.min(RESTART_CAP_MS, RESTART_FIRST_MS * 2 ** failures)).then(resolve);
      });
    }
  }

  private async consumer(): Promise<Consumer> {
    const { js, jsm, names } = this.context;
    const stream = names.droppedStream;
    await jsm.consumers.info(stream, names.droppedConsumer).catch(() =>
      jsm.consumers.add(stream, {
        durable_name: names.droppedConsumer,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(ACK_WAIT_MS),
        deliver_policy: DeliverPolicy.All,
      }),
    );
    return js.consumers.get(stream, names.droppedConsumer);
  }

  private async handle(msg: JsMsg): Promise<void> {
    try {
      const dropped = this.parse(msg);
      if (dropped) await deadLetterDropped(this.context, dropped);
      await msg.ackAck();
    } catch {
      msg.nak(RETRY_LATER_MS);
    }
  }

  /** The advisory's facts; undefined for one that is not about a group of this log. */
  private parse(msg: JsMsg): DroppedDelivery | undefined {
    let advisory: Record<string, unknown>;
    try {
      advisory = msg.json<Record<string, unknown>>();
    } catch {
      return undefined;
    }
    const { type, id, stream, consumer, stream_seq: streamSeq, deliveries } = advisory;
    const { names } = this.context;
    const group = typeof consumer === 'string' ? names.groupOfConsumer(consumer) : undefined;
    if (
      type !== MAX_DELIVER_ADVISORY ||
      stream !== names.eventsStream ||
      group === undefined ||
      typeof streamSeq !== 'number' ||
      typeof deliveries !== 'number'
    ) {
      return undefined;
    }
    return { group, streamSeq, deliveries, id: typeof id === 'string' ? id : String(msg.seq) };
  }
}
