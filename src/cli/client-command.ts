import { InvalidArgumentError, type Command } from 'commander';
import { ConfigError, parseDuration } from '../runtime/config.js';
import { AdminClient, defaultUrl } from './admin-client.js';
import { CliError, EXIT, usageError, type ExitCode } from './cli-error.js';
import { consoleOutput, type Output } from './output.js';

/** The options every command that talks to a running instance takes. */
export interface ClientOptions {
  readonly url?: string;
  readonly json?: boolean;
  readonly timeout?: string;
}

/** What a client command works with. */
export interface ClientContext {
  readonly client: AdminClient;
  readonly output: Output;
}

/** `timeout`: how long one request may take unless `--timeout` says (a sync takes longer than a read). */
export function addClientOptions(command: Command, timeout = '30s'): Command {
  return command
    .option('--url <url>', 'the running instance (default: http://127.0.0.1:${PORT:-3000})')
    .option('--json', 'print one JSON document for scripts instead of tables')
    .option('--timeout <duration>', 'how long one request may take (e.g. 500ms, 30s, 2m)', timeout);
}

/** `--from`, `--timeout` and the like: `500ms`, `30s`, `5m`, `1h`, `2d`. */
export function durationOption(name: string, text: string): number {
  try {
    return parseDuration(name, text);
  } catch (error) {
    if (error instanceof ConfigError) throw usageError(error.message);
    throw error;
  }
}

function baseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`--url ${text} is not a URL (e.g. http://127.0.0.1:3000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw usageError(`--url ${text}: only http:// and https:// are supported`);
  return url.href;
}

/**
 * Runs a client command: builds the client from the options and the environment
 * (`ORDERFLOW_ADMIN_KEY`), then reports any failure in plain words on stderr (and, with
 * `--json`, as `{"error":{"code","message"}}` on stdout) and sets the exit code of its kind.
 * `work` may return an exit code of its own (a partial failure it has already reported).
 */
export async function withClient(
  options: ClientOptions,
  work: (context: ClientContext) => Promise<ExitCode | void>,
): Promise<void> {
  const output = consoleOutput(options.json === true);
  try {
    const key = process.env['ORDERFLOW_ADMIN_KEY']?.trim();
    const client = new AdminClient(
      baseUrl(options.url ?? defaultUrl()),
      key ? key : undefined,
      durationOption('--timeout', options.timeout ?? '30s'),
    );
    process.exitCode = (await work({ client, output })) ?? EXIT.ok;
  } catch (error) {
    process.exitCode = report(output, error);
  }
}

export function report(output: Output, error: unknown): ExitCode {
  if (error instanceof CliError) {
    output.err(`orderflow: ${error.message}`);
    if (output.json) {
      const { code, message } = error.info;
      output.out(JSON.stringify({ error: { code, message } }, null, 2));
    }
    return error.exitCode;
  }
  output.err(
    `orderflow: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  return EXIT.problem;
}

/** A commander argument parser for a whole number ≥ `min` (and ≤ `max` when given). */
export function integerAtLeast(min: number, max?: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    const tooLarge = max !== undefined && value > max;
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || tooLarge)
      throw new InvalidArgumentError(
        max === undefined
          ? `must be a whole number ≥ ${min}`
          : `must be a whole number from ${min} to ${max}`,
      );
    return value;
  };
}

/** `--limit` (1 to `max`, default 50) and `--cursor`: the options of a command that pages. */
export function addPageOptions(command: Command, max: number): Command {
  return command
    .option('--limit <n>', `at most this many (up to ${max})`, integerAtLeast(1, max), 50)
    .option('--cursor <cursor>', 'the next page: the cursor the page before printed');
}
