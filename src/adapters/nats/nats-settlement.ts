import type { JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { NatsContext } from './nats-connection.js';

/** Acks, naks and terms wait for the server's confirmation this long (then: redelivery). */
const SETTLE_TIMEOUT_MS = 2_000;

/**
 * Ends deliveries at the server, each one confirmed: the server answers an ack, nak or
 * term sent as a request, so `stop()` and `close()` can wait until the consumer's state
 * really changed (a fire-and-forget ack could still be in flight when the next process
 * asks where the group stands). A lost or unanswered one means a redelivery. Nothing is
 * sent while the link is down: it would only wait in the client's reconnect buffer.
 *
 * Only the ack has a confirmed form in the client (`ackAck()`); its `nak(delayMs)` and
 * `term()` are fire-and-forget, so those two are sent here as requests with the bytes
 * the client would send.
 */
export class NatsSettlement {
  /** Settles wait for this first: see `holdUntil`. */
  private barrier: Promise<void> = Promise.resolve();

  constructor(private readonly context: NatsContext) {}

  /** Done: the consumer will not deliver it again. The client's own confirmed ack. */
  async ack(msg: JsMsg): Promise<void> {
    if (!(await this.readyToSend())) return;
    await msg.ackAck({ timeout: SETTLE_TIMEOUT_MS });
  }

  /** Not done: the consumer delivers it again after `delayMs` (0: at once). */
  async nak(msg: JsMsg, delayMs: number): Promise<void> {
    // Whole milliseconds; the delay travels in nanoseconds (2.9 understands it).
    const ms = Math.round(delayMs);
    const payload = ms > 0 ? `-NAK ${JSON.stringify({ delay: nanos(ms) })}` : '-NAK';
    await this.request(msg, payload);
  }

  /**
   * Never again, without a reason: 2.9 takes only the bare `+TERM` (it compares the whole
   * payload) and ignores a `+TERM <reason>` while still confirming it, so the reason lives
   * in the DLQ only. The client's `term(reason)` would send the ignored form.
   */
  async term(msg: JsMsg): Promise<void> {
    await this.request(msg, '+TERM');
  }

  /**
   * Settles sent from now on first wait for `done`: the purge of abandoned pull requests
   * that a 2.9 server needs before a NAK (see `NatsPullLoop`).
   */
  holdUntil(done: Promise<unknown>): void {
    this.barrier = done.then(
      () => undefined,
      () => undefined,
    );
  }

  private async request(msg: JsMsg, payload: string): Promise<void> {
    if (!(await this.readyToSend())) return;
    // The client's message has its reply subject, but its `JsMsg` type does not say so.
    const reply = 'reply' in msg && typeof msg.reply === 'string' ? msg.reply : '';
    // No reply subject: not a JetStream delivery, nothing to settle (the client's verbs
    // would send nothing either).
    if (reply === '') return;
    await this.context.nc.request(reply, payload, { timeout: SETTLE_TIMEOUT_MS });
  }

  /** Waits for the barrier as it stands at the call, then says whether the link is up. */
  private async readyToSend(): Promise<boolean> {
    await this.barrier;
    return this.context.link.isUp;
  }
}
