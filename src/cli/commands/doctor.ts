import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../../runtime/config.js';
import { EXIT } from '../cli-error.js';
import { durationOption, report } from '../client-command.js';
import { runCheck, type CheckResult } from '../doctor/check.js';
import { checksFor } from '../doctor/plan.js';
import { columns, consoleOutput, print, type Output } from '../output.js';

interface DoctorOptions {
  readonly json?: boolean;
  readonly timeout: string;
}

/** A driver whose socket lingers after its check timed out must not keep the command alive. */
const LINGER_MS = 200;

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'check, from this machine and this environment (not over HTTP), every configured backend ' +
        'and the data directory; says what is wrong in plain words and exits 1 if anything is',
    )
    .option('--json', 'print one JSON document for scripts')
    .option('--timeout <duration>', 'how long each backend may take to answer', '3s')
    .action(async (options: DoctorOptions) => {
      const output = consoleOutput(options.json === true);
      try {
        process.exitCode = await doctor(output, durationOption('--timeout', options.timeout));
      } catch (error) {
        process.exitCode = report(output, error);
      }
      setTimeout(() => process.exit(), LINGER_MS).unref();
    });
}

async function doctor(output: Output, timeoutMs: number): Promise<number> {
  let results: CheckResult[];
  try {
    const checks = checksFor(loadConfig());
    results = await Promise.all(checks.map((check) => runCheck(check, timeoutMs)));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    results = [{ name: 'configuration', ok: false, detail: error.message }];
  }
  const failed = results.filter((result) => !result.ok).length;
  print(output, { ok: failed === 0, checks: results }, () =>
    [
      columns(results.map(({ name, ok, detail }) => [ok ? 'ok' : 'FAIL', name, detail])),
      '',
      failed === 0
        ? `all ${results.length} checks passed`
        : `${failed} of ${results.length} checks failed`,
    ].join('\n'),
  );
  return failed === 0 ? EXIT.ok : EXIT.problem;
}
