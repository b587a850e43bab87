import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

interface Job {
  readonly name: string;
  readonly intervalMs: number;
  readonly run: () => Promise<unknown>;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
}

/**
 * Runs jobs on intervals, one run of a job at a time: the next run is scheduled when the
 * previous one ends, so a slow run never piles up behind itself.
 */
export class Scheduler {
  private readonly jobs: Job[] = [];
  private stopped = false;

  /** `active()` false: runs are skipped (another process holds the schedules' lease). */
  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly active: () => boolean = () => true,
  ) {}

  every(name: string, intervalMs: number, run: () => Promise<unknown>): void {
    const job: Job = { name, intervalMs, run };
    this.jobs.push(job);
    this.schedule(job);
  }

  /** Stops scheduling and waits for runs in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const job of this.jobs) clearTimeout(job.timer);
    await Promise.all(this.jobs.flatMap((job) => (job.running ? [job.running] : [])));
  }

  private schedule(job: Job): void {
    if (this.stopped) return;
    job.timer = setTimeout(() => {
      job.running = this.runOnce(job).finally(() => {
        job.running = undefined;
        this.schedule(job);
      });
    }, job.intervalMs);
    job.timer.unref();
  }

  private async runOnce(job: Job): Promise<void> {
    if (!this.active()) return;
    try {
      await job.run();
      this.metrics.scheduleRuns.inc({ schedule: job.name, outcome: 'ok' });
    } catch (error) {
      this.metrics.scheduleRuns.inc({ schedule: job.name, outcome: 'error' });
      this.logger.warn(
        { schedule: job.name, err: error },
        'scheduled job failed; next run retries',
      );
    }
  }
}
