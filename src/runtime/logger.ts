import {
  context,
  createContextKey,
  isSpanContextValid,
  trace,
  type Context,
} from '@opentelemetry/api';
import { pino, type Logger } from 'pino';

/** What the lines logged about one piece of work carry, besides the trace. */
export interface LogFields {
  /** The order the work is about. */
  readonly orderId?: string;
  /** The consumer group handling it. */
  readonly group?: string;
  readonly eventId?: string;
  readonly attempt?: number;
}

const LOG_FIELDS = createContextKey('orderflow log fields');

/**
 * `ctx` with `fields` for every line logged while it is active: whoever logs deep inside a
 * delivery or a request (a backend fallback, a decline counter) needs no logger of its own
 * to say which order and group the line is about.
 */
export function withLogFields(ctx: Context, fields: LogFields): Context {
  return ctx.setValue(LOG_FIELDS, fields);
}

/**
 * The fields of the active context: `traceId` and `spanId` of the active span, and the
 * log fields set on it. A fresh object each call (pino merges the line into it).
 */
export function contextFields(): Record<string, unknown> {
  const active = context.active();
  const fields = active.getValue(LOG_FIELDS) as LogFields | undefined;
  const line: Record<string, unknown> = fields === undefined ? {} : { ...fields };
  const span = trace.getSpan(active)?.spanContext();
  if (span !== undefined && isSpanContextValid(span)) {
    line['traceId'] = span.traceId;
    line['spanId'] = span.spanId;
  }
  return line;
}

/**
 * The service's loggers, made here only: JSON lines on stdout at `LOG_LEVEL` (info), each
 * with the trace and the order of the work it was logged in (see `contextFields`).
 */
export function createLogger(name: string): Logger {
  return pino({ name, level: process.env['LOG_LEVEL'] || 'info', mixin: contextFields });
}
