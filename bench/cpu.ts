import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * Where the load generator and the servers run. With `taskset` and at least two cores,
 * the bench process (the load generator) takes the last core and every server process
 * the others, so that neither steals the other's cycles; the shared engines (Redis,
 * NATS, PostgreSQL) are not ours to pin and run where the kernel puts them.
 */
export interface CpuPlan {
  readonly pinned: boolean;
  /** `taskset -c` list for server processes, or undefined when not pinned. */
  readonly serverCpus: string | undefined;
  readonly loadCpus: string | undefined;
  readonly cores: number;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins this process (all its threads) to the load core and says where servers go. */
export function planCpus(wanted: boolean): CpuPlan {
  const cores = availableParallelism();
  if (!wanted || cores < 2 || !hasTaskset())
    return { pinned: false, serverCpus: undefined, loadCpus: undefined, cores };
  const loadCpus = String(cores - 1);
  const serverCpus = cores === 2 ? '0' : `0-${cores - 2}`;
  execFileSync('taskset', ['-a', '-p', '-c', loadCpus, String(process.pid)], { stdio: 'ignore' });
  return { pinned: true, serverCpus, loadCpus, cores };
}
