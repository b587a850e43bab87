import {
  assertGrantNamespace,
  GRANT_ROLES,
  grantUser,
  type GrantPasswords,
  type GrantRole,
} from '../shared/grant-roles.js';

/**
 * The commands the Redis adapters send, and those their Lua scripts call (a script's calls
 * are checked against the caller's ACL too). Every role gets the same set: the stores are
 * opened whole by each process (the order store subscribes and indexes at open, every process
 * writes orders or their status), so what differs between roles is the user, not the verbs.
 * Left out on purpose: FLUSHALL, FLUSHDB, KEYS, CONFIG SET, SCRIPT FLUSH, DEBUG, SHUTDOWN and
 * every other admin command; `CONFIG GET` is allowed for the persistence check alone.
 */
const COMMANDS = [
  // connection: ioredis's ready check (INFO), the URL's database (SELECT), health
  'ping',
  'info',
  'select',
  'quit',
  'client|setname',
  // scripts: EVALSHA, EVAL once when the server does not know the script yet
  'evalsha',
  'eval',
  // reads and writes of the stores, theirs and their scripts'
  'get',
  'set',
  'del',
  'exists',
  'mget',
  'incr',
  'pexpire',
  'persist',
  'hget',
  'hset',
  'hmget',
  'hgetall',
  'hincrby',
  'zadd',
  'zrem',
  'zrange',
  'zrangebyscore',
  'zrevrangebylex',
  'zremrangebyscore',
  'zcount',
  'zcard',
  // the API keys and the rate limit buckets (on Redis's clock)
  'time',
  'pttl',
  'sadd',
  'srem',
  'scard',
  'smembers',
  'multi',
  'exec',
  'discard',
  // indexing what an older version stored: SCAN MATCH <ns>:*
  'scan',
  // order changes across processes
  'publish',
  'subscribe',
  'unsubscribe',
  // the persistence check (redis-persistence.ts): read only
  'config|get',
] as const;

export interface RedisAclOptions {
  readonly namespace: string;
  readonly passwords: GrantPasswords;
}

/**
 * One `ACL SETUSER` per process role, as arguments: the user's keys and channels are the
 * namespace's (`~<ns>:*`, `&<ns>:*`), its commands those above. `reset` first, so applying
 * it again takes back anything granted by hand meanwhile.
 */
export function redisAclUsers(
  options: RedisAclOptions,
): Array<{ role: GrantRole; args: string[] }> {
  const { namespace, passwords } = options;
  assertGrantNamespace(namespace);
  return GRANT_ROLES.map((role) => {
    const password = passwords[role];
    if (password.length === 0 || /\s/.test(password)) {
      throw new Error(`the Redis password of ${role} must be non-empty, without spaces`);
    }
    return {
      role,
      args: [
        grantUser(namespace, role),
        'reset',
        'on',
        `>${password}`,
        `~${namespace}:*`,
        `&${namespace}:*`,
        '-@all',
        ...COMMANDS.map((command) => `+${command}`),
      ],
    };
  });
}
