import { packageRoot } from '../runtime/package-root.js';

/** The package's version, from its package.json (see `packageRoot`). */
export function packageVersion(): string {
  return packageRoot()?.version ?? 'unknown';
}
