import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const KEYS = { client: 'bench_client', admin: 'bench_admin' } as const;

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface Child {
  readonly url: string;
  readonly process: ChildProcess;
  /** Milliseconds from spawn to the first 200 of `readyPath`. */
  readonly startMs: number;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /**
   * Resident memory now and at its peak, in bytes (Linux /proc), of the process and those it
   * forked (the embedded pipeline); undefined once gone.
   */
  rss(): Promise<{ now: number; peak: number } | undefined>;
  /** An orderflow process's data directory (its SQLite files in the embedded default). */
  readonly dataDir?: string;
}

export interface SpawnOptions {
  readonly env?: Record<string, string>;
  readonly readyPath: string;
  /** `taskset -c` CPU list; unset = wherever the kernel puts it. */
  readonly cpus?: string | undefined;
  readonly readyTimeoutMs?: number;
}

async function procStatusBytes(
  pid: number | undefined,
  field: string,
): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** The process and the processes it forked (the embedded pipeline), their `field` summed. */
async function treeStatusBytes(
  pid: number | undefined,
  field: string,
): Promise<number | undefined> {
  const own = await procStatusBytes(pid, field);
  if (own === undefined || pid === undefined) return own;
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const pids = children.split(/\s+/).filter(Boolean).map(Number);
  const theirs = await Promise.all(pids.map((child) => treeStatusBytes(child, field)));
  return theirs.reduce<number>((sum, bytes) => sum + (bytes ?? 0), own);
}

/** Spawns `node <script> <args>` (pinned when `cpus` is set) and waits until `readyPath` answers 200. */
export async function spawnNode(
  script: string,
  args: readonly string[],
  options: SpawnOptions,
): Promise<Child> {
  const port = await freePort();
  const command = options.cpus === undefined ? process.execPath : 'taskset';
  // `BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=…"` profiles the servers (and the processes they fork).
  const nodeFlags = process.env['BENCH_NODE_FLAGS']?.split(' ').filter(Boolean) ?? [];
  const argv = [...nodeFlags, script, ...args];
  const fullArgs =
    options.cpus === undefined ? argv : ['-c', options.cpus, process.execPath, ...argv];
  const started = performance.now();
  const child = spawn(command, fullArgs, {
    env: {
      ...process.env,
      ...options.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${script} exited with ${child.exitCode ?? child.signalCode}`);
    const ok = await fetch(url + options.readyPath).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} not ready in ${options.readyTimeoutMs ?? 60_000} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const startMs = performance.now() - started;
  return {
    url,
    process: child,
    startMs,
    stop: async (graceMs = 20_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    rss: async () => {
      // taskset execs node in place: the pid is node's.
      const now = await treeStatusBytes(child.pid, 'VmRSS');
      const peak = await treeStatusBytes(child.pid, 'VmHWM');
      return now === undefined || peak === undefined ? undefined : { now, peak };
    },
  };
}

/** One orderflow process (`orderflow start`) on a fresh data directory, removed on stop. */
export async function startOrderflow(
  extraEnv: Record<string, string> = {},
  cpus?: string,
): Promise<Child> {
  const dataDir = await mkdtemp(join(tmpdir(), 'orderflow-bench-'));
  try {
    const child = await spawnNode(
      join(import.meta.dirname, '..', 'src', 'cli', 'main.js'),
      ['start'],
      {
        env: {
          ORDERFLOW_DATA_DIR: dataDir,
          ORDERFLOW_API_KEYS: `client:${KEYS.client},admin:${KEYS.admin}`,
          ORDERFLOW_RATE_LIMIT: '0',
          // The latency load opens one SSE stream per order in flight, all with one key.
          ORDERFLOW_SSE_MAX_PER_KEY: '100000',
          ORDERFLOW_SSE_MAX_PER_IP: '100000',
          ...extraEnv,
        },
        readyPath: '/readyz',
        cpus,
      },
    );
    return {
      ...child,
      dataDir,
      stop: async (graceMs) => {
        await child.stop(graceMs);
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

export function startBaseline(cpus?: string): Promise<Child> {
  return spawnNode(join(import.meta.dirname, 'baseline-server.js'), [], { readyPath: '/', cpus });
}
