import { execFile } from 'node:child_process';
import { ENTRY } from '../helpers/service.js';

/** One run of the built `orderflow` command: how it ended and what it printed. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node dist/src/cli/main.js …args` as a child process, to its end (a non-zero exit is
 * returned, not thrown), in the test runner's environment without its ORDERFLOW_* and PORT
 * variables, plus `env`. Asynchronous, so a service in this process keeps answering.
 */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliRun> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('ORDERFLOW_') || name === 'PORT' || name === 'HOST') continue;
    childEnv[name] = value;
  }
  Object.assign(childEnv, env);
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [ENTRY, ...args],
      { env: childEnv, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        // A string code (ENOENT) or a kill (the timeout) means it did not run to its end.
        if (error && typeof error.code !== 'number') {
          reject(new Error(`orderflow ${args.join(' ')}: ${error.message}\n${stderr}`));
        } else {
          resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
        }
      },
    );
  });
}

/** The run's stdout as JSON (`--json`); a failure message with its output when it is not. */
export function jsonOf<T>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

/** The output of a run, for assertion messages. */
export function describeRun(run: CliRun): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}
