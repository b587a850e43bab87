/**
 * `orderflow doctor` against the real PostgreSQL (`ORDERFLOW_TEST_DATABASE_URL`, by default
 * 127.0.0.1:5432) with a database name nobody created: it fails naming the database and
 * prints the commands that create it; run as printed, the first one makes doctor pass.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, enginesUp, randomNamespace } from '../helpers/engines.js';
import { describeRun, runCli } from './run-cli.js';

const up = await enginesUp('postgres');
const run = promisify(execFile);

describe.skipIf(!up)('orderflow doctor with a PostgreSQL database that does not exist', () => {
  const database = randomNamespace('nodb');
  const url = new URL(ENGINES.postgres);
  url.pathname = `/${database}`;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'orderflow-doctor-pg-'));
  });
  afterAll(async () => {
    const server = new URL(ENGINES.postgres);
    server.pathname = '/postgres';
    const client = new pg.Client({ connectionString: server.href });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${database}`);
    } finally {
      await client.end();
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const doctor = () =>
    runCli(['doctor'], { ORDERFLOW_DATA_DIR: dataDir, ORDERFLOW_DATABASE_URL: url.href });

  let createdb = '';

  it('names the database and prints how to create it', async () => {
    const result = await doctor();
    expect(result.code, describeRun(result)).toBe(1);
    const line = result.stdout.split('\n').find((each) => /^FAIL\s+postgresql\s/.test(each));
    expect(line, result.stdout).toContain(`database "${database}" does not exist`);
    const host = url.hostname;
    const port = url.port || '5432';
    const user = decodeURIComponent(url.username);
    const as = user === '' ? '' : ` -U ${user}`;
    createdb = `createdb -h ${host} -p ${port}${as} ${database}`;
    expect(line).toContain(`\`${createdb}\``);
    expect(line).toContain(
      `\`psql -h ${host} -p ${port}${as} -d postgres -c 'CREATE DATABASE "${database}"'\``,
    );
    expect(result.stdout).toMatch(/^ok\s+sqlite/m);
  });

  it('passes once the printed command has run', async () => {
    expect(createdb).not.toBe('');
    // The command as an operator would paste it into a shell.
    await run('sh', ['-c', createdb], { env: { ...process.env, PGPASSWORD: url.password } });
    const result = await doctor();
    expect(result.code, describeRun(result)).toBe(0);
    expect(result.stdout).toMatch(/^ok\s+postgresql\s/m);
  });
});
