import { reportBackgroundError, type SqliteDatabase } from './sqlite-database.js';

/** An offset that could not be written is tried again after this long. */
const RETRY_MS = 500;

const SELECT_GROUP = 'SELECT offset, types FROM consumer_groups WHERE name = ?';
const UPSERT_GROUP = `INSERT INTO consumer_groups (name, offset, types) VALUES (?, ?, ?)
  ON CONFLICT (name) DO UPDATE SET offset = excluded.offset, types = excluded.types`;
const SELECT_REWIND = 'SELECT rewind_to FROM consumer_groups WHERE name = ?';
const CLEAR_REWIND = 'UPDATE consumer_groups SET rewind_to = NULL WHERE name = ? AND rewind_to = ?';

/** Where a group stands: every seq at or below `offset` is finished; `types` as JSON. */
export interface GroupPosition {
  readonly offset: number;
  readonly types: string;
}

/**
 * A consumer group's row in `consumer_groups`: its offset and types, written one write at a
 * time (a failed one is tried again a little later, so a read-only spell does not leave the
 * offset unrecorded for good), and the replay other processes ask for in `rewind_to`,
 * cleared by the write after it was applied.
 */
export class SqliteGroupOffset {
  /** As the row has it; undefined types while there is no row. */
  private recorded: { offset: number; types: string | undefined };
  private writing = false;
  private retry: NodeJS.Timeout | undefined;
  /** A requested rewind applied by the group and not yet cleared in the row. */
  private adoptedRewind: number | undefined;
  private closed = false;

  constructor(
    private readonly name: string,
    private readonly database: SqliteDatabase,
    /** The group's position now, read at each write. */
    private readonly current: () => GroupPosition,
  ) {
    const row = database
      .statement<[string], { offset: number; types: string }>(SELECT_GROUP)
      .get(name);
    this.recorded = { offset: row?.offset ?? 0, types: row?.types };
  }

  /** No row yet: the group is new (it has never recorded a position). */
  get isNew(): boolean {
    return this.recorded.types === undefined;
  }

  /** The position the row had when the group was opened, or had last written. */
  get stored(): { readonly offset: number; readonly types: string | undefined } {
    return this.recorded;
  }

  /** A rewind another process asked for and this one has not applied yet. */
  requestedRewind(): number | undefined {
    const rewindTo = this.database
      .statement<[string], { rewind_to: number | null }>(SELECT_REWIND)
      .get(this.name)?.rewind_to;
    if (rewindTo === null || rewindTo === undefined || rewindTo === this.adoptedRewind) return;
    return rewindTo;
  }

  /** The group has rewound as asked: the next write clears the request. */
  adopted(rewindTo: number): void {
    this.adoptedRewind = rewindTo;
    this.writeSoon();
  }

  /** Writes the position in a coming group commit unless the row already has it. */
  writeSoon(): void {
    if (this.closed || this.writing) return;
    const { offset, types } = this.current();
    const upToDate =
      offset === this.recorded.offset &&
      types === this.recorded.types &&
      this.adoptedRewind === undefined;
    if (upToDate) return;
    this.writing = true;
    clearTimeout(this.retry);
    this.write().then(
      () => {
        this.writing = false;
        this.writeSoon();
      },
      (error: unknown) => {
        this.writing = false;
        reportBackgroundError(error);
        if (this.closed) return;
        this.retry = setTimeout(() => this.writeSoon(), RETRY_MS);
        this.retry.unref();
      },
    );
  }

  /** Writes the position in the next group commit; resolves once it committed. */
  async write(): Promise<void> {
    const written = await this.database.write((db) => {
      const position = this.current();
      const rewound = this.adoptedRewind;
      db.statement<[string, number, string], never>(UPSERT_GROUP).run(
        this.name,
        position.offset,
        position.types,
      );
      if (rewound !== undefined)
        db.statement<[string, number], never>(CLEAR_REWIND).run(this.name, rewound);
      return { position, rewound };
    });
    this.recorded = written.position;
    if (this.adoptedRewind === written.rewound) this.adoptedRewind = undefined;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
  }
}
