import { constants } from 'node:fs';
import { access, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Problem, type Check } from './check.js';

const FS_WORDS: Readonly<Record<string, string>> = {
  EACCES: 'is not writable by this user',
  EPERM: 'is not writable by this user',
  EROFS: 'is on a read-only file system',
  ENOSPC: 'is on a full disk',
  EDQUOT: 'is over its disk quota',
};

function fsWords(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in FS_WORDS
    ? (FS_WORDS[code] as string)
    : `cannot be written (${error instanceof Error ? error.message : String(error)})`;
}

/** The nearest directory above `dir` that exists. */
async function existingAncestor(dir: string): Promise<string> {
  for (let current = dirname(dir); ; current = dirname(current)) {
    try {
      if ((await stat(current)).isDirectory()) return current;
    } catch {
      // not there either
    }
    if (dirname(current) === current) return current;
  }
}

/** Writes and removes a file in `dir`: the only sure test that it takes writes. */
async function probeWrite(dir: string): Promise<void> {
  const probe = join(dir, `.orderflow-doctor-${process.pid}`);
  await writeFile(probe, 'orderflow doctor\n');
  await rm(probe, { force: true });
}

/**
 * The data directory exists (or can be made) and takes writes; so does its `outbox/` when
 * emails go there. `uses` says what the directory holds in this configuration.
 */
export function dataDirCheck(dir: string, uses: string, outbox: boolean): Check {
  const path = resolve(dir);
  return {
    name: 'data directory',
    run: async () => {
      let isDirectory: boolean;
      try {
        isDirectory = (await stat(path)).isDirectory();
      } catch {
        const parent = await existingAncestor(path);
        try {
          await access(parent, constants.W_OK);
        } catch {
          throw new Problem(
            `${path} does not exist and cannot be created (${parent} is not writable): create it, or set ORDERFLOW_DATA_DIR`,
          );
        }
        return `${path} does not exist yet: the first start creates it for ${uses} (set ORDERFLOW_DATA_DIR if you expected data there)`;
      }
      if (!isDirectory) throw new Problem(`${path} is not a directory (ORDERFLOW_DATA_DIR)`);
      try {
        await probeWrite(path);
      } catch (error) {
        throw new Problem(`${path} ${fsWords(error)}; it holds ${uses}`);
      }
      if (outbox) {
        // Missing is fine: the data dir takes writes, so the first email creates it.
        const folder = join(path, 'outbox');
        const exists = await stat(folder).then(
          () => true,
          () => false,
        );
        if (exists) {
          try {
            await probeWrite(folder);
          } catch (error) {
            throw new Problem(`the email outbox ${folder} ${fsWords(error)}`);
          }
        }
      }
      return `${path} is writable (${uses})`;
    },
  };
}
