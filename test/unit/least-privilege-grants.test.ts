import { describe, expect, it } from 'vitest';
import { natsServerOptions } from '../../src/adapters/nats/nats-connection.js';
import { natsPermissions } from '../../src/adapters/nats/nats-permissions.js';
import { postgresGrants } from '../../src/adapters/postgres/postgres-grants.js';
import { redisAclUsers } from '../../src/adapters/redis/redis-acl.js';

const passwords = { api: 'pa', worker: 'pw', scheduler: 'ps', admin: "p'd" };

describe('credentials in ORDERFLOW_NATS_URL', () => {
  it('are passed to the client as user and pass, and left out of the servers', () => {
    expect(natsServerOptions('nats://shop1_api:s%40cret@nats:4222')).toEqual({
      servers: ['nats://nats:4222'],
      user: 'shop1_api',
      pass: 's@cret',
    });
  });

  it('are a token when only a user is given, and nothing without them', () => {
    expect(natsServerOptions('nats://tok@a:4222,nats://b:4222')).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
      token: 'tok',
    });
    expect(natsServerOptions('nats://127.0.0.1:4222')).toEqual({
      servers: ['nats://127.0.0.1:4222'],
    });
  });
});

describe('the least-privilege grants', () => {
  it('never let any Redis user flush, list every key or change the configuration', () => {
    for (const { args } of redisAclUsers({ namespace: 'shop1', passwords })) {
      expect(args).toContain('~shop1:*');
      expect(args).toContain('-@all');
      for (const command of ['+flushall', '+flushdb', '+keys', '+config', '+config|set', '+@all'])
        expect(args).not.toContain(command);
    }
  });

  it('never let a NATS user create, delete or purge a stream, nor update one but the events', () => {
    for (const role of ['api', 'worker', 'scheduler', 'admin'] as const) {
      const { publish } = natsPermissions('shop1', role);
      expect(publish.some((subject) => /STREAM\.(CREATE|DELETE|PURGE)|^>$/.test(subject))).toBe(
        false,
      );
      const updates = publish.filter((subject) => subject.includes('STREAM.UPDATE'));
      // The retention guard raises the events stream's max_age: only where schedules run.
      const schedules = role === 'scheduler' || role === 'admin';
      expect(updates).toEqual(schedules ? ['$JS.API.STREAM.UPDATE.SHOP1_EVENTS'] : []);
    }
  });

  it('quote passwords in the SQL and refuse namespaces that would widen a grant', () => {
    expect(postgresGrants({ namespace: 'shop1', passwords })).toContain("PASSWORD 'p''d'");
    expect(() => postgresGrants({ namespace: 'a*', passwords })).toThrow(/namespace/);
    expect(() => redisAclUsers({ namespace: 'a.b', passwords })).toThrow(/namespace/);
  });
});
