/**
 * `read`'s answer, or a rejection once `timeoutMs` has passed without one: for reads whose
 * answer is only shown (metrics, the dashboard), so that a store that hangs costs a figure,
 * never a reader stuck for good. The read itself is not cancelled.
 */
export function withDeadline<T>(read: () => Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    void Promise.resolve()
      .then(read)
      .then(resolve, reject)
      .finally(() => clearTimeout(timer));
  });
}
