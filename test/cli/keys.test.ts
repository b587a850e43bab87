/**
 * `orderflow keys create|list|revoke` as child processes against a running instance (the
 * built service as a child process too), nothing mocked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEYS } from '../helpers/http.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';
import { describeRun, jsonOf, runCli, type CliRun } from './run-cli.js';

let service: Service;

beforeAll(async () => {
  service = await startService({ env: { ORDERFLOW_RATE_LIMIT: '0' } });
}, 120_000);

afterAll(async () => {
  await stopAllServices();
});

function keys(args: readonly string[], adminKey: string = DEFAULT_KEYS.admin): Promise<CliRun> {
  return runCli(['keys', ...args, '--url', service.url], { ORDERFLOW_ADMIN_KEY: adminKey });
}

interface Created {
  id: string;
  name: string | null;
  scopes: string[];
  createdAt: string;
  key: string;
}

describe('orderflow keys', () => {
  it('create prints the key once, with a warning that it will not be shown again', async () => {
    const run = await keys(['create', '--scopes', 'orders:write,orders:read', '--name', 'shop-a']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.stdout).toMatch(/^key:\s+of_[A-Za-z0-9_-]{43}$/m);
    expect(run.stdout).toMatch(/^scopes:\s+orders:write,orders:read$/m);
    expect(run.stdout).toMatch(/not be shown again/);
    const key = /^key:\s+(\S+)$/m.exec(run.stdout)?.[1] ?? '';
    const res = await service.request('GET', '/v1/products/A123', { key });
    expect(res.status).toBe(200);
  });

  it('create --json, list (table and --json) without the key, revoke, then the key is refused', async () => {
    const run = await keys(['create', '--scopes', 'orders:read', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    const created = jsonOf<Created>(run);
    expect(created).toMatchObject({ name: null, scopes: ['orders:read'] });

    const table = await keys(['list']);
    expect(table.code, describeRun(table)).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+SCOPES\s+CREATED\s+LAST USED$/m);
    expect(table.stdout).toMatch(
      new RegExp(`^${created.id}\\s+-\\s+orders:read\\s+\\S+\\s+never$`, 'm'),
    );
    expect(table.stdout).not.toContain(created.key);

    const listed = await keys(['list', '--json']);
    expect(listed.code, describeRun(listed)).toBe(0);
    expect(listed.stdout).not.toContain(created.key);
    const { keys: all } = jsonOf<{ keys: { id: string }[] }>(listed);
    expect(all.map(({ id }) => id)).toContain(created.id);

    expect((await service.request('GET', '/v1/products/A123', { key: created.key })).status).toBe(
      200,
    );
    const revoked = await keys(['revoke', created.id]);
    expect(revoked.code, describeRun(revoked)).toBe(0);
    expect(revoked.stdout.trim()).toBe(`revoked: ${created.id}`);
    expect((await service.request('GET', '/v1/products/A123', { key: created.key })).status).toBe(
      401,
    );

    const again = await keys(['revoke', created.id]);
    expect(again.code, describeRun(again)).toBe(2);
    expect(again.stderr).toContain('no API key');
  });

  it('exits 1 for an unknown scope before asking the service, 2 for a key that may not create keys', async () => {
    const unknown = await keys(['create', '--scopes', 'orders:delete']);
    expect(unknown.code, describeRun(unknown)).toBe(1);
    expect(unknown.stderr).toContain('orders:delete');

    const client = await keys(['create', '--scopes', 'orders:read'], DEFAULT_KEYS.client);
    expect(client.code, describeRun(client)).toBe(2);
    expect(client.stderr).toContain('admin:write');

    const missing = await keys(['create']);
    expect(missing.code, describeRun(missing)).toBe(1);
    expect(missing.stderr).toContain('--scopes');
  });

  it('lists keys in --help', async () => {
    const run = await runCli(['--help']);
    expect(run.stdout).toMatch(/^ {2}keys\b/m);
    const help = await runCli(['keys', '--help']);
    for (const command of ['create', 'list', 'revoke']) expect(help.stdout).toContain(command);
  });
});
