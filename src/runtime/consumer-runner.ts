import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { Logger } from 'pino';
import { RetryableError, TerminalError } from '../domain/errors.js';
import type { Delivery, EventLog, LogEvent, StartAt, Subscription } from '../ports/event-log.js';
import { recordFailure, tracer } from '../workflow/tracing.js';
import { backoffMs } from './backoff.js';
import { withLogFields } from './logger.js';
import type { Metrics } from './metrics.js';

const WORKING_EVERY_MS = 5_000;

export interface RetryPolicy {
  /** Attempts of an unclassified failure before the event is dead-lettered. */
  readonly maxAttempts: number;
  /** Attempts of a RetryableError (a backend or provider outage) before giving up. */
  readonly maxRetryableAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 3,
  maxRetryableAttempts: 100,
  baseDelayMs: 100,
  maxDelayMs: 30_000,
};

export interface RunnerSpec {
  readonly group: string;
  readonly types: readonly string[];
  readonly concurrency: number;
  readonly handle: (event: LogEvent, delivery: Delivery) => Promise<void>;
  readonly policy?: Partial<RetryPolicy>;
  /** Where the group starts if it does not exist yet (see `ConsumerSpec.startAt`). */
  readonly startAt?: StartAt;
  /**
   * Called before an event goes to the dead-letter queue, so that what it was about still
   * ends (the saga compensates its order). Its failure is logged; the letter is kept.
   */
  readonly onDeadLetter?: (event: LogEvent, reason: string) => Promise<void>;
}

/**
 * Runs one consumer group: many events at once (bounded by `concurrency`), but the events
 * of one key one after the other, in the order they were delivered. Decides each outcome:
 * success acks, a TerminalError dead-letters at once, anything else is retried with
 * backoff until its attempts run out. Each delivery is a CONSUMER span continuing the trace
 * the event carries (its `headers`), so what the handler does and emits, and every
 * redelivery of the event, belong to the trace that emitted it.
 */
export class ConsumerRunner {
  private subscription: Subscription | undefined;
  /** Deliveries being handled, with when they started: long ones tell the log they live. */
  private readonly running = new Map<Delivery, number>();
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly queues = new Map<string, Delivery[]>();
  private readonly policy: RetryPolicy;

  constructor(
    private readonly log: EventLog,
    private readonly spec: RunnerSpec,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    // What the spec leaves unset (also as undefined) keeps its default.
    const given = Object.entries(spec.policy ?? {}).filter(([, value]) => value !== undefined);
    this.policy = { ...DEFAULT_RETRY_POLICY, ...Object.fromEntries(given) };
  }

  get group(): string {
    return this.spec.group;
  }

  start(): void {
    const { group, types, concurrency } = this.spec;
    // The log must not give up on an event before the policy does (unbounded: never).
    const maxAttempts = Math.max(this.policy.maxAttempts, this.policy.maxRetryableAttempts);
    this.subscription = this.log.consume(
      { group, types, maxInFlight: concurrency, maxAttempts, startAt: this.spec.startAt },
      (delivery) => this.enqueue(delivery),
    );
    this.heartbeat = setInterval(() => this.keepAlive(), WORKING_EVERY_MS);
    this.heartbeat.unref();
  }

  /** Stops taking events and waits for those in hand. */
  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
    clearInterval(this.heartbeat);
  }

  /** A step that runs long (a slow payment provider) must not be redelivered meanwhile. */
  private keepAlive(): void {
    const now = Date.now();
    for (const [delivery, startedAt] of this.running) {
      if (now - startedAt >= WORKING_EVERY_MS) delivery.working();
    }
  }

  private enqueue(delivery: Delivery): void {
    const key = delivery.event.key;
    const queue = this.queues.get(key);
    if (queue) {
      queue.push(delivery);
      return;
    }
    this.queues.set(key, [delivery]);
    void this.drain(key);
  }

  private async drain(key: string): Promise<void> {
    const queue = this.queues.get(key);
    while (queue && queue.length > 0) {
      const delivery = queue[0] as Delivery;
      await this.run(delivery);
      queue.shift();
    }
    this.queues.delete(key);
  }

  /** Handles the delivery in its span, with its group and order on every line logged. */
  private run(delivery: Delivery): Promise<void> {
    const { event, attempt } = delivery;
    const parent = parentOf(event);
    const span = this.startSpan(delivery, parent);
    const fields = { group: this.spec.group, orderId: event.key, eventId: event.id, attempt };
    return context.with(withLogFields(trace.setSpan(parent, span), fields), () =>
      this.handle(delivery, span),
    );
  }

  private async handle(delivery: Delivery, span: Span): Promise<void> {
    const { group } = this.spec;
    const stopTimer = this.metrics.handlerSeconds.startTimer({ group, type: delivery.event.type });
    this.running.set(delivery, Date.now());
    try {
      await this.spec.handle(delivery.event, delivery);
      delivery.ack();
      this.metrics.deliveries.inc({ group, outcome: 'ack' });
    } catch (error) {
      recordFailure(span, error);
      await this.fail(delivery, error);
    } finally {
      this.running.delete(delivery);
      stopTimer();
      span.end();
    }
  }

  private startSpan(delivery: Delivery, parent: Context): Span {
    const { group } = this.spec;
    const { event, attempt } = delivery;
    return tracer.startSpan(
      `${group} process ${event.type}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'orderflow',
          'messaging.operation.type': 'process',
          'messaging.consumer.group.name': group,
          'messaging.destination.name': event.type,
          'messaging.message.id': event.id,
          'orderflow.event_seq': event.seq,
          'orderflow.attempt': attempt,
          'orderflow.order_id': event.key,
        },
      },
      parent,
    );
  }

  private async fail(delivery: Delivery, error: unknown): Promise<void> {
    const { group } = this.spec;
    const { maxAttempts, maxRetryableAttempts, baseDelayMs, maxDelayMs } = this.policy;
    const message = describe(error);
    if (error instanceof TerminalError) {
      this.logger.warn({ err: error }, 'event failed for good: dead-lettered');
      await this.deadLetter(delivery, message);
      return;
    }
    const limit = error instanceof RetryableError ? maxRetryableAttempts : maxAttempts;
    if (delivery.attempt >= limit) {
      this.logger.error({ err: error }, 'event failed too often: dead-lettered');
      await this.deadLetter(delivery, message);
      return;
    }
    const delay =
      error instanceof RetryableError && error.retryAfterMs !== undefined
        ? error.retryAfterMs
        : backoffMs(delivery.attempt, baseDelayMs, maxDelayMs);
    this.logger.warn({ err: error, delayMs: delay }, 'event failed: retrying');
    delivery.nak(delay, message);
    this.metrics.deliveries.inc({ group, outcome: 'nak' });
  }

  private async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    const { group, onDeadLetter } = this.spec;
    await onDeadLetter?.(delivery.event, reason).catch((error: unknown) => {
      this.logger.error(
        { err: error },
        'could not settle a dead-lettered event; the letter keeps it for a redrive',
      );
    });
    delivery.term(reason);
    this.metrics.deliveries.inc({ group, outcome: 'term' });
  }
}

/** The trace the event carries; a trace of its own for an event that carries none. */
function parentOf(event: LogEvent): Context {
  return event.headers === undefined
    ? ROOT_CONTEXT
    : propagation.extract(ROOT_CONTEXT, event.headers);
}

function describe(error: unknown): string {
  if (error instanceof TerminalError || error instanceof RetryableError) {
    return `${error.code}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
