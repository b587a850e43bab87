import { inSpan } from './tracing.js';

/**
 * A saga step and its compensation, declared together. Both are idempotent (keyed by the
 * order id), and a compensation of a step that never ran is a no-op, so a step that is
 * retried after a crash, or undone twice, does its work once. Each run of either is a
 * span of the order's trace, named by its id.
 */
export interface Step<Input, Output> {
  readonly id: string;
  /** The compensation's own name (`release-stock` undoes `reserve-stock`). */
  readonly compensationId: string;
  invoke(input: Input): Promise<Output>;
  compensate(input: Input): Promise<void>;
}

export function step<Input, Output>(
  id: string,
  invoke: (input: Input) => Promise<Output>,
  compensate: (input: Input) => Promise<void>,
  compensationId = `undo-${id}`,
): Step<Input, Output> {
  const invoked = { 'orderflow.step': id };
  const compensated = { 'orderflow.step': compensationId, 'orderflow.compensates': id };
  return {
    id,
    compensationId,
    invoke: (input) => inSpan(id, invoked, () => invoke(input)),
    compensate: (input) => inSpan(compensationId, compensated, () => compensate(input)),
  };
}
