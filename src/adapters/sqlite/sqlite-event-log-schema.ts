import type { LogEvent, NewEvent } from '../../ports/event-log.js';
import type { SqliteMigration } from './sqlite-database.js';

export const EVENT_LOG_MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'event-log/1-events',
    sql: `
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        key TEXT NOT NULL,
        data TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX events_key ON events (key, seq);
      CREATE INDEX events_at ON events (at);
      CREATE TABLE consumer_groups (
        name TEXT PRIMARY KEY,
        offset INTEGER NOT NULL,
        types TEXT NOT NULL
      );
      CREATE TABLE retries (
        group_name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        not_before INTEGER NOT NULL,
        last_error TEXT,
        state TEXT NOT NULL,
        PRIMARY KEY (group_name, seq)
      );
      CREATE INDEX retries_state ON retries (group_name, state);
      CREATE TABLE dead_letters (
        id TEXT PRIMARY KEY,
        group_name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX dead_letters_group ON dead_letters (group_name, seq);
    `,
  },
  {
    // A replay asked for where the group is not consumed (an `api` process beside the
    // `worker`): the process that consumes it rewinds and clears it.
    id: 'event-log/2-rewind-requests',
    sql: 'ALTER TABLE consumer_groups ADD COLUMN rewind_to INTEGER',
  },
  {
    // A group's lag counts its types after its position: an index range per type, not a
    // scan of every event after it.
    id: 'event-log/3-type-index',
    sql: 'CREATE INDEX events_type_seq ON events (type, seq)',
  },
  {
    // Dead letters are listed oldest first a page at a time, paged on (at, id): a range.
    id: 'event-log/4-dead-letters-at',
    sql: 'CREATE INDEX dead_letters_at ON dead_letters (at, id)',
  },
  {
    // What an event carries besides its data (its trace context), as JSON; NULL: nothing.
    id: 'event-log/5-headers',
    sql: 'ALTER TABLE events ADD COLUMN headers TEXT',
  },
  {
    // Retention asks, for each old event, whether any group's dead letter or retry needs
    // it, and removes its outcome rows with it: lookups by seq alone.
    id: 'event-log/6-retention',
    sql: `
      CREATE INDEX retries_seq ON retries (seq);
      CREATE INDEX dead_letters_seq ON dead_letters (seq);
    `,
  },
];

/**
 * States of a `retries` row: `waiting` (a nak: due at not_before), `redrive` (a dead letter
 * sent back), `acked` and `dead` (kept with their attempts and last error for `trace`).
 */
export type RetryState = 'waiting' | 'redrive' | 'acked' | 'dead';

export interface EventRow {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly key: string;
  readonly data: string;
  readonly at: number;
  readonly headers: string | null;
}

export const EVENT_COLUMNS = 'seq, id, type, key, data, at, headers';

/** Matches `type` against the JSON list bound as `@types`; an empty list matches every type. */
export const TYPE_FILTER = `(json_array_length(@types) = 0 OR type IN (SELECT value FROM json_each(@types)))`;

export function toLogEvent(row: EventRow): LogEvent {
  const event = {
    seq: row.seq,
    id: row.id,
    type: row.type,
    key: row.key,
    data: JSON.parse(row.data) as unknown,
    at: row.at,
  };
  return row.headers === null
    ? event
    : { ...event, headers: JSON.parse(row.headers) as Record<string, string> };
}

/** The headers column of an event: JSON, or NULL when it carries none. */
export function headersColumn(headers: NewEvent['headers']): string | null {
  return headers === undefined || Object.keys(headers).length === 0
    ? null
    : JSON.stringify(headers);
}

export function deadLetterId(group: string, seq: number): string {
  return `${group}:${seq}`;
}
