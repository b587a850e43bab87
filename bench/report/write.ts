import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** bench/results/ in the source tree (this file runs from dist/bench/report/). */
export const RESULTS_DIR = join(import.meta.dirname, '..', '..', '..', 'bench', 'results');

/** Writes `<stamp>.json` (and `<stamp>.svg` when given) under bench/results/; returns the paths. */
export async function writeResults(stamp: string, data: unknown, svg?: string): Promise<string[]> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = join(RESULTS_DIR, `${stamp}.json`);
  await writeFile(json, JSON.stringify(data, null, 2) + '\n');
  if (svg === undefined) return [json];
  const image = join(RESULTS_DIR, `${stamp}.svg`);
  await writeFile(image, svg);
  return [json, image];
}

/** A file-name-safe UTC time stamp, e.g. 2026-12-03T10-15-00Z. */
export function stampNow(): string {
  return new Date()
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}
