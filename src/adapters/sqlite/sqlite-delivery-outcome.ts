import type { LogEvent } from '../../ports/event-log.js';
import type { SqliteDatabase } from './sqlite-database.js';
import { deadLetterId } from './sqlite-event-log-schema.js';
import type { PinClaim } from './sqlite-offset-pins.js';

const RETRY_ACKED = `UPDATE retries SET state = 'acked', attempts = ? WHERE group_name = ? AND seq = ?`;
const RETRY_WAIT = `INSERT INTO retries (group_name, seq, attempts, not_before, last_error, state)
  VALUES (?, ?, ?, ?, ?, 'waiting')
  ON CONFLICT (group_name, seq) DO UPDATE SET attempts = excluded.attempts,
    not_before = excluded.not_before, last_error = COALESCE(excluded.last_error, last_error), state = 'waiting'`;
/** Also for a first delivery (no retries row yet): the outcome outlives its dead letter (a discard). */
const RETRY_DEAD = `INSERT INTO retries (group_name, seq, attempts, not_before, last_error, state)
  VALUES (?, ?, ?, 0, ?, 'dead')
  ON CONFLICT (group_name, seq) DO UPDATE SET state = 'dead', attempts = excluded.attempts,
    last_error = excluded.last_error`;
const COUNT_DEAD_LETTERS = 'SELECT COUNT(*) AS n FROM dead_letters WHERE group_name = ?';
const INSERT_DEAD_LETTER = `INSERT OR REPLACE INTO dead_letters (id, group_name, seq, attempts, last_error, at)
  VALUES (?, ?, ?, ?, ?, ?)`;

/**
 * A term that finds its group's dead-letter queue full waits this long as a retry: it stays
 * in the log (holding retention back) and is tried again, and termed again, until an
 * operator has made room by redriving or discarding letters.
 */
export const DEAD_LETTER_QUEUE_FULL_RETRY_MS = 30_000;

/** One delivery a consumer group handed out, from the log or from its retry schedule. */
export interface Handout extends PinClaim {
  readonly event: LogEvent;
  readonly attempt: number;
  /** Read from the log rather than from the retry schedule: no retries row to update. */
  readonly fresh: boolean;
  /**
   * Holds the offset below this seq until its outcome has committed: a delivery read from
   * the log, or the redelivery of one whose outcome failed to commit.
   */
  readonly pinned: boolean;
}

/** How a delivery ended: the write that records it, then what follows once it committed. */
export interface Outcome {
  /**
   * None for a first delivery acked: the offset moving past it is its record. Returns a
   * delay when the write turned a term into a retry after that long (a full DLQ).
   */
  readonly write?: (db: SqliteDatabase) => number | undefined;
  /** A nak: handed out again this long after the retry was recorded. */
  readonly retryInMs?: number;
}

export function ackOutcome(group: string, handout: Handout): Outcome {
  if (handout.fresh) return {};
  const { seq } = handout.event;
  return {
    write: (db) => {
      db.statement<[number, string, number], never>(RETRY_ACKED).run(handout.attempt, group, seq);
      return undefined;
    },
  };
}

export function nakOutcome(
  group: string,
  handout: Handout,
  delayMs: number,
  error: string | undefined,
  now: number,
): Outcome {
  const delay = Math.max(0, delayMs);
  const { seq } = handout.event;
  const notBefore = now + delay;
  return {
    write: (db) => {
      db.statement<[string, number, number, number, string | null], never>(RETRY_WAIT).run(
        group,
        seq,
        handout.attempt,
        notBefore,
        error ?? null,
      );
      return undefined;
    },
    retryInMs: delay,
  };
}

/** A dead letter, unless the group already holds `deadLetterLimit` of them: then a retry. */
export function termOutcome(
  group: string,
  handout: Handout,
  reason: string,
  at: number,
  deadLetterLimit?: number,
): Outcome {
  const { seq } = handout.event;
  return {
    write: (db) => {
      if (deadLetterLimit !== undefined && deadLetterCount(db, group) >= deadLetterLimit) {
        db.statement<[string, number, number, number, string], never>(RETRY_WAIT).run(
          group,
          seq,
          handout.attempt,
          at + DEAD_LETTER_QUEUE_FULL_RETRY_MS,
          `the dead-letter queue of group ${group} is full (${deadLetterLimit} letters): ${reason}`,
        );
        return DEAD_LETTER_QUEUE_FULL_RETRY_MS;
      }
      db.statement<[string, string, number, number, string, number], never>(INSERT_DEAD_LETTER).run(
        deadLetterId(group, seq),
        group,
        seq,
        handout.attempt,
        reason,
        at,
      );
      db.statement<[string, number, number, string], never>(RETRY_DEAD).run(
        group,
        seq,
        handout.attempt,
        reason,
      );
      return undefined;
    },
  };
}

function deadLetterCount(db: SqliteDatabase, group: string): number {
  return db.statement<[string], { n: number }>(COUNT_DEAD_LETTERS).get(group)?.n ?? 0;
}
