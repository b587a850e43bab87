import type { Clock } from '../../src/ports/clock.js';

/**
 * Storage for one test, isolated from every other (a temp dir, a random namespace).
 * `open` may be called again after the previous instance was closed: the new instance sees
 * the same data, which is how the suites check durability and restart behaviour.
 */
export interface Fixture<T> {
  open(clock: Clock): T;
  /** Closes what is still open and removes the storage. */
  dispose(): Promise<void>;
}

/** A fixture whose storage can be queried directly (the SoT schema is the same everywhere). */
export interface SqlFixture<T> extends Fixture<T> {
  rows(sql: string, ...params: unknown[]): Promise<Record<string, unknown>[]>;
}

export type FixtureFactory<T> = () => Promise<Fixture<T>>;
export type SqlFixtureFactory<T> = () => Promise<SqlFixture<T>>;

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(private time = Date.UTC(2030, 0, 1, 12, 0, 0)) {}

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}

export const systemClock: Clock = { now: () => Date.now() };
