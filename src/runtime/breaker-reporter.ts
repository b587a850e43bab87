import type { Logger } from 'pino';
import type { Clock } from '../ports/clock.js';
import type { ProcessReports } from '../ports/process-reports.js';
import type { PaymentCircuitBreaker } from './circuit-breaker.js';
import { newProcessName } from './process-name.js';

/** How often a process reports its breaker; a report counts for `REPORT_TTL_MS`. */
export const REPORT_EVERY_MS = 2_000;
/** Long enough to ride out two missed reports, short enough that a dead process drops out. */
export const REPORT_TTL_MS = 10_000;

/**
 * Reports this process's payment breaker to `ProcessReports` every `REPORT_EVERY_MS`, and
 * at once when it trips: the dashboard, served by an API process, shows the breakers of
 * every process that pays (the workers, or the embedded pipeline process). A failed report
 * is logged at debug level and retried on the next tick: the figure is for people only.
 */
export class BreakerReporter {
  readonly process = newProcessName();
  private timer: NodeJS.Timeout | undefined;
  private reporting: Promise<void> = Promise.resolve();

  constructor(
    private readonly breaker: PaymentCircuitBreaker,
    private readonly reports: ProcessReports,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.report();
    this.timer = setInterval(() => this.report(), REPORT_EVERY_MS);
    this.timer.unref();
    this.breaker.onTrip(() => this.report());
  }

  /** Stops reporting and withdraws the report: a stopped process has no breaker to show. */
  async stop(): Promise<void> {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.reporting;
    await this.reports.remove(this.process).catch(() => undefined);
  }

  private report(): void {
    const report = { process: this.process, breaker: this.breaker.state, at: this.clock.now() };
    this.reporting = this.reporting
      .then(() => this.reports.put(report, REPORT_TTL_MS))
      .catch((error: unknown) =>
        this.logger.debug({ err: error }, 'could not report the payment breaker'),
      );
  }
}
