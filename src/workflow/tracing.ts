import {
  context,
  propagation,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';

/**
 * orderflow's one tracer. The OpenTelemetry API is a no-op until the runtime registers an
 * SDK (`startTelemetry`); a tracer taken before that starts real spans once it has.
 */
export const tracer = trace.getTracer('orderflow');

/**
 * Runs `work` inside a span of its own (a child of the active one, active while it runs);
 * a failure is recorded on the span and thrown on.
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks the span failed by `error`: an exception event and the ERROR status. */
export function recordFailure(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  else span.recordException(String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/**
 * The active trace context as event headers (`traceparent`, `tracestate`), for an event
 * emitted now; undefined when no span is active.
 */
export function traceHeaders(): Record<string, string> | undefined {
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return Object.keys(headers).length > 0 ? headers : undefined;
}
