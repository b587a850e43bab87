/** Time, behind a port so tests and the saga agree on "now". */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}
