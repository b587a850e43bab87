/**
 * Engines of a test's own: PostgreSQL, NATS JetStream and Redis instances on free ports, in
 * temp dirs, started as children of the test process. Outage tests stop and start these,
 * never the engines a developer's machine or the other tests share. Each child is started
 * through `setpriv --pdeathsig KILL`, so it dies with the test process even when that is
 * killed; PostgreSQL, which refuses to run as root, runs as the `postgres` OS user then.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Role } from './cluster.js';
import { freePort, startService, type Env, type Service } from './service.js';
import { sleep } from './wait.js';

const run = promisify(execFile);

export interface PrivateEngine {
  /** How a client reaches it: `postgres://…`, `nats://…` or `redis://…` on 127.0.0.1. */
  readonly url: string;
  readonly port: number;
  /** Stops it as an outage would (its graceful shutdown, SIGKILL after 15 s); the data dir stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data dir; resolves once it answers. */
  start(): Promise<void>;
  /** Stops it and removes its temp dir. */
  dispose(): Promise<void>;
  /** Its recent stdout and stderr. */
  logs(): string;
}

export interface PrivatePostgres extends PrivateEngine {
  /** One query on the engine's database, on a connection of its own (so it works across restarts). */
  sql<T>(text: string, params?: unknown[]): Promise<T[]>;
}

/** An OS user a child runs as. */
interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** The signal that starts the engine's own graceful shutdown. */
  readonly stopSignal: NodeJS.Signals;
  readonly runAs?: RunAs;
  /** Whether the engine answers now. */
  readonly ready: () => Promise<boolean>;
}

const STOP_DEADLINE_MS = 15_000;
const START_DEADLINE_MS = 30_000;

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, command), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The newest PostgreSQL server binaries, e.g. /usr/lib/postgresql/15/bin. */
function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'postgres')))
    : [];
  const newest = versions.sort((a, b) => Number(a) - Number(b)).at(-1);
  return newest === undefined ? undefined : path.join(root, newest, 'bin');
}

/**
 * Whether the engines' binaries are installed (a suite skips without them); under CI
 * (CI=true) missing binaries are an error, not a skip.
 */
export function privateEnginesAvailable(): boolean {
  const missing = [
    ...(postgresBin() ? [] : ['PostgreSQL (/usr/lib/postgresql/*/bin)']),
    ...['nats-server', 'redis-server', 'setpriv'].filter((command) => !onPath(command)),
  ];
  if (missing.length > 0 && process.env['CI'] === 'true')
    throw new Error(`CI needs ${missing.join(', ')} for the private engines`);
  return missing.length === 0;
}

/** Connects, sends `hello` (if any) and resolves whether the answer starts with `expected`. */
function answers(port: number, expected: string, hello?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => hello !== undefined && socket.write(hello));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.length >= expected.length) done(received.startsWith(expected));
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** The argv that runs `command` with the parent-death signal set (and as `runAs`). */
function launcher(command: string, args: readonly string[], runAs?: RunAs): [string, string[]] {
  const identity = runAs ? [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--init-groups'] : [];
  return ['setpriv', [...identity, '--pdeathsig=KILL', '--', command, ...args]];
}

/** An engine that is one child process: started, stopped and started again by signal. */
class ChildEngine implements PrivateEngine {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output: string[] = [];

  constructor(private readonly spec: ChildSpec) {}

  get url(): string {
    return this.spec.url;
  }

  get port(): number {
    return this.spec.port;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.spec.name} is already running`);
    const [command, args] = launcher(this.spec.command, this.spec.args, this.spec.runAs);
    const child = spawn(command, args, { cwd: this.spec.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    running.add(child);
    this.output = [];
    const capture = (chunk: Buffer): void => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 200) this.output.splice(0, 100);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + START_DEADLINE_MS;
    while (!(await this.spec.ready())) {
      if (this.child !== child || Date.now() > deadline) {
        const why = this.child === child ? `not answering after ${START_DEADLINE_MS} ms` : 'exited';
        await this.stop();
        throw new Error(`${this.spec.name} ${why}:\n${this.logs()}`);
      }
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(this.spec.stopSignal);
    const stopped = await Promise.race([
      this.exited.then(() => true),
      sleep(STOP_DEADLINE_MS).then(() => false),
    ]);
    if (!stopped) child.kill('SIGKILL');
    await this.exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    await fs.promises.rm(this.spec.dir, { recursive: true, force: true });
  }

  /** The engine's recent stdout and stderr. */
  logs(): string {
    return this.output.join('').split('\n').slice(-40).join('\n');
  }
}

async function tempDir(prefix: string, owner?: RunAs): Promise<string> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), `orderflow-${prefix}-`));
  if (owner) await fs.promises.chown(dir, owner.uid, owner.gid);
  return dir;
}

/** Starts `spec` once; a failed start removes the temp dir. */
async function launch(spec: ChildSpec): Promise<ChildEngine> {
  const engine = new ChildEngine(spec);
  try {
    await engine.start();
  } catch (error) {
    await engine.dispose();
    throw error;
  }
  return engine;
}

/** The `postgres` OS user when we are root (PostgreSQL will not run as root); else ourselves. */
async function postgresUser(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    run('id', ['-u', 'postgres']),
    run('id', ['-g', 'postgres']),
  ]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

async function query<T>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A PostgreSQL cluster of its own (initdb, trust auth, fsync off) with one database,
 * `database`; `url` names that database. The postmaster runs as our child rather than
 * daemonized by pg_ctl, so that it dies with the test process too; `stop` is what
 * `pg_ctl stop -m fast` sends it (SIGINT).
 */
export async function startPrivatePostgres(database = 'orderflow'): Promise<PrivatePostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('no PostgreSQL under /usr/lib/postgresql/*/bin');
  const runAs = await postgresUser();
  const dir = await tempDir('pg', runAs);
  const data = path.join(dir, 'data');
  const [initdb, initArgs] = launcher(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    runAs,
  );
  try {
    await run(initdb, initArgs, { cwd: dir });
  } catch (error) {
    await fs.promises.rm(dir, { recursive: true, force: true });
    throw error;
  }
  const port = await freePort();
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const url = `postgres://postgres@127.0.0.1:${port}/${database}`;
  const engine = await launch({
    name: 'private PostgreSQL',
    command: path.join(bin, 'postgres'),
    args: [
      ...['-D', data, '-p', String(port), '-k', dir],
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    ],
    port,
    url,
    dir,
    // SIGINT is PostgreSQL's fast shutdown: sessions are cut, the server exits.
    stopSignal: 'SIGINT',
    ...(runAs && { runAs }),
    ready: () =>
      query(admin, 'SELECT 1').then(
        () => true,
        () => false,
      ),
  });
  await query(admin, `CREATE DATABASE ${database}`);
  return Object.assign(engine, {
    sql: <T>(text: string, params?: unknown[]) => query<T>(url, text, params),
  });
}

/**
 * A NATS server with JetStream, its store in a temp dir (so streams survive a restart);
 * `config`, when given, is its configuration file (users and their permissions, say).
 */
export async function startPrivateNats(config?: string): Promise<PrivateEngine> {
  const dir = await tempDir('nats');
  const port = await freePort();
  const configArgs: string[] = [];
  if (config !== undefined) {
    const file = path.join(dir, 'nats.conf');
    await fs.promises.writeFile(file, config);
    configArgs.push('-c', file);
  }
  return launch({
    name: 'private NATS',
    command: 'nats-server',
    args: ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir, ...configArgs],
    port,
    url: `nats://127.0.0.1:${port}`,
    dir,
    stopSignal: 'SIGTERM',
    ready: () => answers(port, 'INFO'),
  });
}

/** A Redis server without persistence: a restart brings it back empty, as such a Redis would. */
export async function startPrivateRedis(): Promise<PrivateEngine> {
  const dir = await tempDir('redis');
  const port = await freePort();
  return launch({
    name: 'private Redis',
    command: 'redis-server',
    args: [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      ...['--dir', dir, '--daemonize', 'no'],
    ],
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stopSignal: 'SIGTERM',
    ready: () => answers(port, '+PONG', 'PING\r\n'),
  });
}

/** The three scale-out engines of a test's own. */
export interface PrivateBackends {
  readonly redis: PrivateEngine;
  readonly nats: PrivateEngine;
  readonly postgres: PrivatePostgres;
  /** Points an orderflow process at them; every process given it shares one namespace. */
  readonly env: Env;
  dispose(): Promise<void>;
}

export async function startPrivateBackends(): Promise<PrivateBackends> {
  const started = await Promise.allSettled([
    startPrivateRedis(),
    startPrivateNats(),
    startPrivatePostgres(),
  ] as const);
  const engines = started.flatMap((result) =>
    result.status === 'fulfilled' ? [result.value] : [],
  );
  const dispose = async (): Promise<void> => {
    await Promise.all(engines.map((engine) => engine.dispose()));
  };
  const [redis, nats, postgres] = started;
  if (redis.status === 'rejected' || nats.status === 'rejected' || postgres.status === 'rejected') {
    await dispose();
    const failed = [redis, nats, postgres].find((result) => result.status === 'rejected');
    throw failed?.reason instanceof Error ? failed.reason : new Error(String(failed?.reason));
  }
  return {
    redis: redis.value,
    nats: nats.value,
    postgres: postgres.value,
    env: {
      ORDERFLOW_REDIS_URL: redis.value.url,
      ORDERFLOW_NATS_URL: nats.value.url,
      ORDERFLOW_DATABASE_URL: postgres.value.url,
      ORDERFLOW_NAMESPACE: 'orderflow',
    },
    dispose,
  };
}

/**
 * orderflow processes of `roles` on the private engines, one at a time (the first runs the
 * migrations and creates the streams), with a quick sync-out and without the rate limit and
 * the card-testing defence (the test's whole load comes from one IP).
 */
export async function startServicesOn(
  backends: PrivateBackends,
  roles: readonly Role[],
  env: Env = {},
): Promise<Service[]> {
  const services: Service[] = [];
  for (const role of roles) {
    const shared: Env = {
      ORDERFLOW_RATE_LIMIT: '0',
      ORDERFLOW_DECLINE_LIMIT: '0',
      ORDERFLOW_SYNC_OUT_INTERVAL: '200ms',
    };
    services.push(
      await startService({ env: { ...shared, ...backends.env, ...env, ORDERFLOW_ROLE: role } }),
    );
  }
  return services;
}
