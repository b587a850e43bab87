import type { Redis } from 'ioredis';

/**
 * Every key matching `pattern`, by ioredis's `scanStream` (SCAN to the end of its cursor,
 * never KEYS): one SCAN step reads only a slice of a Redis that holds other keys too.
 */
export async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of client.scanStream({ match: pattern, count: 1000 }))
    keys.push(...(batch as string[]));
  return keys;
}
