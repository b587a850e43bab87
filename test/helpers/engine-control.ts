import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Stops and starts the local engines for outage tests. They touch the engines every test
 * shares, so the outage suites run alone (vitest.outage.config.ts).
 */
function postgresCluster(): string[] {
  const version = readdirSync('/etc/postgresql').sort().at(-1);
  if (!version) throw new Error('no PostgreSQL cluster configured');
  return ['--skip-systemctl-redirect', version, 'main'];
}

export async function stopPostgres(): Promise<void> {
  const [flag, version, name] = postgresCluster();
  await run('pg_ctlcluster', [
    flag as string,
    version as string,
    name as string,
    'stop',
    '-m',
    'fast',
  ]);
}

export async function startPostgres(): Promise<void> {
  const [flag, version, name] = postgresCluster();
  await run('pg_ctlcluster', [flag as string, version as string, name as string, 'start']);
}

interface StoppedProcess {
  readonly argv: readonly string[];
}

/** The command line of the running process named `name`, from /proc. */
function findProcess(name: string): { pid: number; argv: string[] } | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv[0]?.endsWith(`/${name}`) || argv[0] === name) return { pid: Number(entry), argv };
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** Stops the NATS server (SIGTERM, then SIGKILL) and remembers how it was started. */
export async function stopNats(): Promise<StoppedProcess> {
  const found = findProcess('nats-server');
  if (!found) throw new Error('no nats-server is running');
  process.kill(found.pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (findProcess('nats-server')) {
    if (Date.now() > deadline) process.kill(found.pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { argv: found.argv };
}

/** Starts NATS again with the command line it had. */
export function startNats(stopped: StoppedProcess): void {
  const [command, ...args] = stopped.argv;
  const child = spawn(command as string, args, { detached: true, stdio: 'ignore' });
  child.unref();
}
