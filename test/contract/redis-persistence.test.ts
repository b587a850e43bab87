import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRedisBackend, type RedisBackend } from '../../src/adapters/redis/redis-backend.js';
import { RedisConnection } from '../../src/adapters/redis/redis-connection.js';
import { SqliteEventLog } from '../../src/adapters/sqlite/sqlite-event-log.js';
import { ENGINES, enginesUp, randomNamespace } from '../helpers/engines.js';
import { freePort } from '../helpers/service.js';
import { systemClock } from './fixture.js';
import { eventually } from './support.js';

const up = await enginesUp('redis');

/** A redis-server of the test's own, on a free port in a temp dir. */
async function privateRedis(
  args: readonly string[],
  user = '',
): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...args],
    { stdio: 'ignore' },
  );
  const url = `redis://${user === '' ? '' : `${user}@`}127.0.0.1:${port}`;
  await eventually(async () => {
    const probe = await RedisConnection.open(url, { readyTimeoutMs: 200 });
    await probe.close();
  }, 10_000);
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!up)('Redis persistence warning', () => {
  const cleanups: (() => Promise<void>)[] = [];

  const open = async (url: string): Promise<RedisBackend> => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-redis-log-'));
    const log = new SqliteEventLog(path.join(dir, 'log.db'), systemClock);
    const backend = await openRedisBackend({
      url,
      namespace: randomNamespace('persist'),
      log,
      clock: systemClock,
    });
    cleanups.push(async () => {
      await backend.close();
      await log.close();
      await fs.rm(dir, { recursive: true, force: true });
    });
    return backend;
  };

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('warns when Redis keeps nothing across a restart (the shared test Redis)', async () => {
    const probe = await RedisConnection.open(ENGINES.redis);
    const settings = await Promise.all([
      probe.client.config('GET', 'appendonly'),
      probe.client.config('GET', 'save'),
    ]);
    await probe.close();
    const persists = settings[0]?.[1] === 'yes' || (settings[1]?.[1] ?? '') !== '';
    const backend = await open(ENGINES.redis);
    const warnings = await backend.warnings();
    if (persists) expect(warnings).toEqual({});
    else expect(warnings['redisPersistence']).toMatch(/no persistence/);
  });

  it('warns for a Redis with neither AOF nor snapshots', async () => {
    const redis = await privateRedis(['--appendonly', 'no', '--save', '']);
    cleanups.push(() => redis.stop());
    const backend = await open(redis.url);
    expect(Object.keys(await backend.warnings())).toEqual(['redisPersistence']);
  });

  it('says nothing for a Redis with AOF on, or with snapshots only', async () => {
    const aof = await privateRedis(['--appendonly', 'yes', '--save', '']);
    cleanups.push(() => aof.stop());
    expect(await (await open(aof.url)).warnings()).toEqual({});
    const rdb = await privateRedis(['--appendonly', 'no', '--save', '900 1']);
    cleanups.push(() => rdb.stop());
    expect(await (await open(rdb.url)).warnings()).toEqual({});
  });

  it('opens and claims nothing when an ACL denies CONFIG', async () => {
    const acl = '--user default off --user app on nopass ~* &* +@all -config'.split(' ');
    const redis = await privateRedis(['--appendonly', 'no', '--save', '', ...acl], 'app');
    cleanups.push(() => redis.stop());
    const backend = await open(redis.url);
    expect(await backend.ping()).toBe(true);
    expect(await backend.warnings()).toEqual({});
  });
});
