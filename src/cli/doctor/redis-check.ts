import { displayUrl } from '../../adapters/shared/display-url.js';
import { type Check, engineCheck, loadDriver, messageOf, networkWords } from './check.js';

function redisWords(error: unknown, where: string): string {
  const network = networkWords(error);
  if (network !== undefined) return `${where}: ${network}: is Redis running there?`;
  const message = messageOf(error);
  if (/Unknown RESP type|Protocol error/i.test(message))
    return `${where}: something answers there, but not as Redis does: is the port right?`;
  if (/NOAUTH/i.test(message))
    return `${where} wants a password: put it in ORDERFLOW_REDIS_URL (redis://:PASSWORD@host:port)`;
  if (/WRONGPASS|invalid password|invalid username/i.test(message))
    return `${where} refused the user or password in ORDERFLOW_REDIS_URL`;
  return `${where}: ${message}`;
}

/** Redis (the hot store in the scale-out set) answers PING. */
export function redisCheck(url: string): Check {
  return engineCheck('redis', url, 6379, redisWords, async (timeoutMs) => {
    const { Redis } = await loadDriver('ioredis', () => import('ioredis'));
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // connect() rejects with "Connection is closed."; the socket's own error says why.
    let cause: unknown;
    client.on('error', (error: unknown) => {
      cause ??= error;
    });
    try {
      await client.connect();
      const answer = await client.ping();
      return `${displayUrl(url)} answers PING (${answer})`;
    } catch (error) {
      throw cause ?? error;
    } finally {
      client.disconnect();
    }
  });
}
