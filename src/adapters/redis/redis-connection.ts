import { Redis, type RedisOptions } from 'ioredis';
import { RetryableError } from '../../domain/errors.js';
import { displayUrl } from '../shared/display-url.js';

export type ScriptArg = string | number;

/** One Lua script: sent as EVALSHA, and as EVAL once when Redis does not know it yet. */
export type RedisScript = (keys: readonly string[], args: readonly ScriptArg[]) => Promise<unknown>;

export interface RedisConnectionOptions {
  /**
   * A command without an answer after this long fails (default 2 s). A Redis that is down
   * fails calls at once (no offline queue); this bounds one that hangs, with room for a
   * busy machine's load spikes.
   */
  readonly commandTimeoutMs?: number;
  /** How long `open` waits for the server to be ready (default 5 s). */
  readonly readyTimeoutMs?: number;
}

/** Redis answers with these while it is loading, busy or failing over: worth a retry. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|READONLY|OOM|CLUSTERDOWN)\b/;

/** Reconnect attempts back off from 100 ms to at most 2 s, for as long as it takes. */
const retryStrategy = (times: number): number => Math.min(100 * 2 ** Math.min(times, 5), 2_000);

/**
 * One ioredis client and the Lua scripts defined on it. While Redis is down every call
 * fails at once (no offline queue, no command waits longer than the command timeout) with
 * a RetryableError, which the API answers with 503 + Retry-After and the consumers retry;
 * meanwhile the client reconnects by itself. Scripts are keyed by name and defined once.
 */
export class RedisConnection {
  readonly client: Redis;
  private readonly defined = new Set<string>();
  private lastError: unknown;

  constructor(
    private readonly url: string,
    options: RedisConnectionOptions = {},
  ) {
    this.client = new Redis(url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      retryStrategy,
    });
    // Without a listener ioredis prints every failed reconnect; the cause is kept instead.
    this.client.on('error', (error: unknown) => {
      this.lastError = error;
    });
  }

  /** Connects and waits (bounded) until the server is ready. */
  static async open(url: string, options: RedisConnectionOptions = {}): Promise<RedisConnection> {
    const connection = new RedisConnection(url, options);
    try {
      await connection.ready(options.readyTimeoutMs ?? 5_000);
    } catch (error) {
      connection.client.disconnect();
      throw error;
    }
    return connection;
  }

  ready(timeoutMs: number): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.client.off('ready', done);
        reject(
          new RetryableError(
            'redis_unavailable',
            `Redis at ${displayUrl(this.url)} is not ready after ${timeoutMs} ms`,
            1_000,
            { cause: this.lastError },
          ),
        );
      }, timeoutMs);
      this.client.on('ready', done);
    });
  }

  /** Runs commands on the client; a failure to reach Redis becomes a RetryableError. */
  async run<T>(work: (client: Redis) => Promise<T>): Promise<T> {
    try {
      return await work(this.client);
    } catch (error) {
      throw asRetryable(error);
    }
  }

  /** Defines the script `name` on this connection (once) and returns its caller. */
  script(name: string, lua: string): RedisScript {
    if (!this.defined.has(name)) {
      this.client.defineCommand(name, { lua });
      this.defined.add(name);
    }
    // defineCommand adds a method by that name; with no numberOfKeys it takes numkeys first.
    const command = (this.client as unknown as Record<string, unknown>)[name];
    if (typeof command !== 'function') throw new Error(`Redis script ${name} is not defined`);
    return (keys, args) =>
      this.run((client) => command.call(client, keys.length, ...keys, ...args) as Promise<unknown>);
  }

  /**
   * A second client for SUBSCRIBE (a subscribed client can do nothing else). Unlike the
   * command client it queues while disconnected and resubscribes after a reconnect.
   */
  subscriber(): Redis {
    const subscriber = this.client.duplicate({
      enableOfflineQueue: true,
      commandTimeout: undefined,
      maxRetriesPerRequest: null,
      autoResubscribe: true,
    } satisfies Partial<RedisOptions>);
    subscriber.on('error', (error: unknown) => {
      this.lastError = error;
    });
    return subscriber;
  }

  /** True while Redis answers a PING within the command timeout. */
  async ping(): Promise<boolean> {
    if (this.client.status !== 'ready') return false;
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await closeClient(this.client);
  }
}

/** QUIT lets pending replies arrive; when Redis is gone there is nothing to wait for. */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

function asRetryable(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof RetryableError) return error;
  // A reply error is Redis refusing the command itself (a bug), unless it is transient.
  if (error.name === 'ReplyError' && !TRANSIENT_REPLY.test(error.message)) return error;
  return new RetryableError('redis_unavailable', `Redis: ${error.message}`, 1_000, {
    cause: error,
  });
}
