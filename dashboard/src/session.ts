import { request } from './api';
import type { Session } from './types';

/*
 * The dashboard session: a short-lived HttpOnly cookie that authenticates only the live
 * stream (EventSource cannot send an Authorization header). REST calls keep using the key.
 */

/** How often an open page renews its session; the server's sessions last 15 minutes. */
export const SESSION_RENEW_MS = 10 * 60 * 1000;

/** Opens (or renews) the session; an empty key asks for anonymous loopback mode. */
export function openSession(key: string): Promise<Session> {
  // The key travels in the body: the cookie, not the header, is what this call is for.
  return request<Session>('POST', '/dashboard/session', key === '' ? {} : { key }, null);
}

/** Whether this service needs a key at all (it does not in anonymous loopback mode). */
export async function keyRequired(): Promise<boolean> {
  const answer = await request<{ keyRequired: boolean }>(
    'GET',
    '/dashboard/session',
    undefined,
    null,
  );
  return answer.keyRequired;
}

/** Ends the session (clears the cookie); a failure only means the cookie expires by itself. */
export async function closeSession(): Promise<void> {
  await request<undefined>('DELETE', '/dashboard/session', undefined, null).catch(() => undefined);
}
