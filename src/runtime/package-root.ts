import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PackageRoot {
  /** The folder that holds orderflow's package.json. */
  readonly dir: string;
  readonly version: string;
}

/**
 * The nearest folder above `from` whose package.json is orderflow's: the same from `src/`
 * and from `dist/src/`, and inside a shop's `node_modules/orderflow/`; undefined if none.
 */
export function packageRoot(
  from = dirname(fileURLToPath(import.meta.url)),
): PackageRoot | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === 'orderflow' && typeof manifest.version === 'string')
        return { dir, version: manifest.version };
    } catch {
      // no package.json here: look further up
    }
    if (dirname(dir) === dir) return undefined;
  }
}
