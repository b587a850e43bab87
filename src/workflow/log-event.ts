import { eventIdOf, logTypeOf, orderIdOf, type OrderEvent } from '../domain/events.js';
import type { NewEvent } from '../ports/event-log.js';
import { traceHeaders } from './tracing.js';

/**
 * Turns an order event into the log's envelope, with the trace context of the step that
 * emits it: whoever handles the event continues that trace. Build it where the event is
 * decided, not inside a store's deferred write, so the context is the emitter's.
 */
export function toLogEvent(event: OrderEvent): NewEvent {
  const envelope = {
    id: eventIdOf(event),
    type: logTypeOf(event),
    key: orderIdOf(event),
    data: event,
  };
  const headers = traceHeaders();
  return headers === undefined ? envelope : { ...envelope, headers };
}
