import type { RedisConnection } from './redis-connection.js';

/** The answer is kept this long: `/readyz` asks often, the setting rarely changes. */
const RECHECK_MS = 60_000;

/**
 * Whether the Redis keeps what it holds across a restart: AOF (`appendonly yes`) or RDB
 * snapshots (a `save` schedule). Without either, a restart loses the stock cache, orders in
 * flight, the sync outbox and the sync's fencing tokens. A CONFIG refused (an ACL, a managed
 * Redis that renames it) claims nothing: the check never stands in the way of starting.
 */
export class RedisPersistenceCheck {
  private checked: { at: number; warning: string | undefined } | undefined;

  constructor(private readonly connection: RedisConnection) {}

  /** A warning for people, or undefined when Redis persists (or cannot tell). */
  async warning(): Promise<string | undefined> {
    const now = Date.now();
    if (this.checked && now - this.checked.at < RECHECK_MS) return this.checked.warning;
    let appendonly: unknown;
    let save: unknown;
    try {
      [appendonly, save] = await Promise.all([
        this.connection.client.config('GET', 'appendonly'),
        this.connection.client.config('GET', 'save'),
      ]);
    } catch {
      // CONFIG refused (NOPERM, renamed) or Redis away: nothing is claimed. INFO would not
      // do better: it shows whether AOF is on, never whether snapshots are scheduled.
      return undefined;
    }
    const warning = persistenceWarning(appendonly, save);
    this.checked = { at: now, warning };
    return warning;
  }
}

/** Both settings read, neither on: the warning; anything else claims nothing. */
function persistenceWarning(appendonly: unknown, save: unknown): string | undefined {
  const aof = setting(appendonly);
  const rdb = setting(save);
  if (aof === undefined || rdb === undefined || aof === 'yes' || rdb.trim() !== '') {
    return undefined;
  }
  return (
    'Redis has no persistence (appendonly no, save ""): a Redis restart loses the stock ' +
    'cache, orders in flight and the sync outbox; enable AOF (appendonly yes) or RDB snapshots'
  );
}

/** `CONFIG GET name` answers `[name, value]`. */
function setting(reply: unknown): string | undefined {
  return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
}
