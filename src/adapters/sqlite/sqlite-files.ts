/**
 * The embedded backend's files in the data dir: `orderflow.db` holds the log and every
 * cache, `sot.db` the source of truth. Named here, without the driver, so that what only
 * describes them (the ready line) does not load SQLite.
 */
export const SQLITE_FILES = { hot: 'orderflow.db', sourceOfTruth: 'sot.db' } as const;
