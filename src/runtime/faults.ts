import type { Logger } from 'pino';

/**
 * Fault injection for crash tests: a checkpoint named in `ORDERFLOW_FAULT_KILL_AT` kills
 * the process with SIGKILL the first time it is reached, so a test can crash it between two
 * named steps. With nothing configured a checkpoint does nothing.
 */
export function checkpoints(names: readonly string[], logger: Logger): (name: string) => void {
  if (names.length === 0) return () => undefined;
  const armed = new Set(names);
  return (name) => {
    if (!armed.has(name)) return;
    logger.warn({ checkpoint: name }, 'fault injection: killing the process');
    // In the embedded pipeline process the whole service goes: the API process too.
    if (process.send !== undefined) process.kill(process.ppid, 'SIGKILL');
    process.kill(process.pid, 'SIGKILL');
  };
}
