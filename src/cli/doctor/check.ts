/**
 * One thing `orderflow doctor` looks at: a backend, a file, a directory. `run` resolves with
 * what it saw when all is well and rejects with a `Problem` that says in plain words what is
 * wrong (and, where it can, what to do about it).
 */
export interface Check {
  readonly name: string;
  run(timeoutMs: number): Promise<string>;
}

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** A failed check, worded for the operator. */
export class Problem extends Error {
  override readonly name = 'Problem';
}

/** Runs a check within `timeoutMs`: a backend that never answers fails like one that refuses. */
export async function runCheck(check: Check, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Problem(`no answer within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    const detail = await Promise.race([check.run(timeoutMs), timeout]);
    return { name: check.name, ok: true, detail };
  } catch (error) {
    const detail =
      error instanceof Problem
        ? error.message
        : `unexpected failure: ${error instanceof Error ? error.message : String(error)}`;
    return { name: check.name, ok: false, detail };
  } finally {
    clearTimeout(timer);
  }
}

/** `host:port` of a URL, with the scheme's default port. */
export function hostPort(url: string, defaultPort: number): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port === '' ? defaultPort : parsed.port}`;
  } catch {
    return url;
  }
}

const NETWORK_WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'nothing answers there (connection refused)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (DNS is not answering)',
  ETIMEDOUT: 'the connection timed out',
  ECONNRESET: 'the connection was cut',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  EPIPE: 'the connection was cut',
};

/** The words for a socket-level failure (its `code`, also inside an AggregateError), if it is one. */
export function networkWords(error: unknown): string | undefined {
  const errors = error instanceof AggregateError ? error.errors : [error];
  for (const candidate of errors) {
    const code = (candidate as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code in NETWORK_WORDS) return NETWORK_WORDS[code];
  }
  return undefined;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Loads an optional driver; one that will not load is a problem of its own. */
export async function loadDriver<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    throw new Problem(
      `the ${name} driver does not load (${messageOf(error)}): reinstall it with npm install`,
    );
  }
}

/**
 * A check of one engine at `url`: `probe` talks to it and says what it saw; what it throws is
 * worded for the operator by `words` (a `Problem` it throws itself, a missing driver say, as is).
 */
export function engineCheck(
  name: string,
  url: string,
  defaultPort: number,
  words: (error: unknown, where: string) => string,
  probe: (timeoutMs: number) => Promise<string>,
): Check {
  const where = hostPort(url, defaultPort);
  return {
    name,
    run: async (timeoutMs) => {
      try {
        return await probe(timeoutMs);
      } catch (error) {
        throw error instanceof Problem ? error : new Problem(words(error, where));
      }
    },
  };
}
