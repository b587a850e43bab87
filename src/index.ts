/** The programmatic API: start orderflow in-process and add consumers of your own. */
export { startOrderflow, type Running, type StartOptions } from './cli/start.js';
export {
  defineConsumer,
  type ConsumerContext,
  type ConsumerDefinition,
} from './workflow/define-consumer.js';
export { loadConfig, type Config } from './runtime/config.js';
export { startTelemetry, type Telemetry, type TelemetryOptions } from './runtime/telemetry.js';
export { TerminalError, RetryableError } from './domain/errors.js';
export type { Order, OrderLine } from './domain/order.js';
export type { OrderStatus } from './domain/status.js';
