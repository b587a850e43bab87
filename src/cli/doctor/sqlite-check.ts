import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadDriver, messageOf, Problem, type Check } from './check.js';

const SQLITE_WORDS: Readonly<Record<string, string>> = {
  SQLITE_NOTADB: 'is not a SQLite database',
  SQLITE_CORRUPT: 'is damaged (SQLite reports it corrupt): restore it from a backup',
  SQLITE_BUSY: 'stays locked by another process',
  SQLITE_CANTOPEN: 'cannot be opened',
  SQLITE_READONLY: 'is read-only',
  SQLITE_IOERR: 'cannot be read from disk (an I/O error)',
  SQLITE_PERM: 'may not be opened by this user',
};

/** One of the embedded SQLite files opens, reads its schema, and will take writes. */
export function sqliteCheck(dataDir: string, file: string, holds: string): Check {
  const path = resolve(join(dataDir, file));
  return {
    name: `sqlite ${file}`,
    run: async (timeoutMs) => {
      const exists = await access(path).then(
        () => true,
        () => false,
      );
      if (!exists) return `${path} does not exist yet: the first start creates it (${holds})`;
      try {
        await access(path, constants.R_OK | constants.W_OK);
      } catch {
        throw new Problem(`${path} is not readable and writable by this user (${holds})`);
      }
      const { default: Database } = await loadDriver(
        'better-sqlite3',
        () => import('better-sqlite3'),
      );
      let db: InstanceType<typeof Database> | undefined;
      try {
        db = new Database(path, { fileMustExist: true, timeout: Math.min(timeoutMs, 2_000) });
        const journal = String(db.pragma('journal_mode', { simple: true }));
        const { tables } = db
          .prepare("SELECT count(*) AS tables FROM sqlite_master WHERE type = 'table'")
          .get() as { tables: number };
        return `${path} opens (${tables} tables, journal ${journal}; ${holds})`;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const words =
          typeof code === 'string' && code in SQLITE_WORDS ? SQLITE_WORDS[code] : messageOf(error);
        throw new Problem(`${path} ${words} (${holds})`);
      } finally {
        db?.close();
      }
    },
  };
}
