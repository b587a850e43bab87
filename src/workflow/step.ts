/**
 * A saga step and its compensation, declared together. Both are idempotent (keyed by the
 * order id), and a compensation of a step that never ran is a no-op, so a step that is
 * retried after a crash, or undone twice, does its work once.
 */
export interface Step<Input, Output> {
  readonly id: string;
  invoke(input: Input): Promise<Output>;
  compensate(input: Input): Promise<void>;
}

export function step<Input, Output>(
  id: string,
  invoke: (input: Input) => Promise<Output>,
  compensate: (input: Input) => Promise<void>,
): Step<Input, Output> {
  return { id, invoke, compensate };
}
