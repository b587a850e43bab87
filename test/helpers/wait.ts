/** Bounded waiting: every loop in the e2e suite ends, with a message that says what it waited for. */

function describeError(error: unknown): string {
  if (error === undefined) return '';
  return error instanceof Error ? error.message : JSON.stringify(error);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Said in the timeout error: what was awaited. */
  readonly what: string;
}

/**
 * Calls `probe` until it returns something other than `undefined`, then returns that.
 * A probe that throws is retried (the service may be restarting); the last error or the
 * last description from `describe` goes into the timeout message.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  options: WaitOptions & { describe?: () => string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = options.describe?.() ?? describeError(lastError);
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${options.what}${detail ? `: ${detail}` : ''}`,
      );
    }
    await sleep(interval);
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => worker()));
  return results;
}
