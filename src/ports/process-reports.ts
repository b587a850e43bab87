/**
 * A payment circuit breaker's state. `closed`: calls pass; `open`: every call fails at once;
 * `half-open`: the open time is over and the next call is the one trial that decides.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** What one process says about itself, for the operators' view of the whole deployment. */
export interface ProcessReport {
  /** Stable for the life of the process, unique in the deployment. */
  readonly process: string;
  /** Its payment circuit breaker's state. */
  readonly breaker: BreakerState;
  /** When it was made, ms since the epoch. */
  readonly at: number;
}

/**
 * The latest report of every live process, shared by all of them: how the API process that
 * serves the dashboard knows the state of breakers that live in workers (or, embedded, in
 * the pipeline process). A report counts for the TTL it was put with, so a process that dies
 * drops out on its own; a process reports again well within its TTL.
 *
 * Deliberately left out: history (the metrics have it) and anything an order depends on:
 * a lost report costs the dashboard one stale figure, never a decision.
 */
export interface ProcessReports {
  /** Records `report`, replacing its process's previous one, for `ttlMs`. */
  put(report: ProcessReport, ttlMs: number): Promise<void>;

  /** The reports whose TTL has not passed, oldest process id first. */
  live(): Promise<readonly ProcessReport[]>;

  /** Drops the report of `process` (a clean stop); nothing when there is none. */
  remove(process: string): Promise<void>;

  close(): Promise<void>;
}
