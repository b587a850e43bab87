import { TerminalError } from '../domain/errors.js';

/**
 * Opaque tokens the admin API hands out (a page's `cursor`, a replay's job id): a tagged
 * JSON array in base64url. Opaque to clients, so that what one holds may change without
 * changing the API; tagged, so that a token of one kind is refused where another is meant.
 */
export function encodeToken(kind: string, ...parts: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify([kind, ...parts])).toString('base64url');
}

/** The parts of a token of `kind`; undefined for anything else. */
export function decodeToken(kind: string, token: string): unknown[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed[0] !== kind) return undefined;
  return (parsed as unknown[]).slice(1);
}

/**
 * Where a page goes on: the position a cursor of `kind` holds, checked by `shape`;
 * `400 validation_error` for a cursor this service did not hand out for that list.
 */
export function decodeCursor<T>(
  kind: string,
  cursor: string,
  shape: (parts: readonly unknown[]) => T | undefined,
): T {
  const parts = decodeToken(kind, cursor);
  const position = parts && shape(parts);
  if (position === undefined) {
    throw new TerminalError('validation_error', 'cursor: not a cursor of this list', {
      details: { in: 'querystring', issues: [{ path: ['cursor'], message: 'unknown cursor' }] },
    });
  }
  return position;
}
