import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
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
  stop(): Promise<void>;
  /** Peak resident memory, in MiB (Linux). */
  peakRssMiB(): Promise<number | undefined>;
}

/** Spawns `node <script> <args>` and waits until `readyPath` answers 200. */
export async function spawnNode(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  readyPath: string,
): Promise<Child> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    const ok = await fetch(url + readyPath).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${script} not ready in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const startMs = performance.now() - started;
  return {
    url,
    process: child,
    startMs,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
    peakRssMiB: async () => {
      try {
        const { readFile } = await import('node:fs/promises');
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
        return kb ? Math.round(Number(kb) / 1024) : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

export async function startOrderflow(extraEnv: Record<string, string> = {}): Promise<Child> {
  const dataDir = await mkdtemp(join(tmpdir(), 'orderflow-bench-'));
  return spawnNode(
    join(import.meta.dirname, '..', 'src', 'cli', 'main.js'),
    ['start'],
    {
      ORDERFLOW_DATA_DIR: dataDir,
      ORDERFLOW_API_KEYS: `client:${KEYS.client},admin:${KEYS.admin}`,
      ORDERFLOW_RATE_LIMIT: '0',
      ...extraEnv,
    },
    '/readyz',
  );
}

export function startBaseline(): Promise<Child> {
  return spawnNode(join(import.meta.dirname, 'baseline-server.js'), [], {}, '/');
}
