/**
 * Exit codes of the `orderflow` command, documented in the README ("The orderflow command"):
 * a script tells "fix the request" from "try again later" without reading the message.
 */
export const EXIT = {
  ok: 0,
  /** `doctor` found something wrong, or the command line itself is wrong. */
  problem: 1,
  /** The service refused the request (a 4xx): retrying the same request will not help. */
  rejected: 2,
  /** The service could not be reached, did not answer in time, or failed (a 5xx). */
  unavailable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error as the API words it (`{"error":{"code","message"}}`), or as the CLI words its own. */
export interface ErrorInfo {
  readonly code: string;
  readonly message: string;
  readonly status?: number;
}

/** A failure the command reports in plain words and ends with, with its exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly info: ErrorInfo,
  ) {
    super(message);
  }
}

/** A wrong command line that commander cannot see (an option's value, options that exclude each other). */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT.problem, { code: 'usage', message });
}
