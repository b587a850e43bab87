import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import type { Logger } from 'pino';
import type { MetricFamilies } from '../runtime/metrics-render.js';
import { PipelineMetricsChannel } from './pipeline-metrics.js';

/** How much lower the pipeline's CPU priority is than the API's (a nice value, 0–19). */
const PIPELINE_NICENESS = 10;
const RESPAWN_DELAY_MS = 500;
/** The pipeline's writes gather this long per commit unless ORDERFLOW_SQLITE_COMMIT_WINDOW says otherwise. */
const PIPELINE_COMMIT_WINDOW = '4ms';
const STOP_DEADLINE_MS = 30_000;
/** How long a scrape of the API waits for the pipeline's metrics before going on without. */
const METRICS_TIMEOUT_MS = 1_000;

/**
 * The embedded default's pipeline (the saga, the consumers, the schedules) in a child
 * process beside the API, on the same SQLite files, at a lower CPU priority: the checkout's
 * event loop only validates, makes its one durable write and answers, and background work
 * takes the CPU the checkout leaves. Both processes see each other's commits within a few
 * milliseconds (see `SqliteDatabase.onOtherCommit`). The child dies with this process (its
 * IPC channel closes), and is started again if it dies alone. Its metrics reach the API's
 * `/metrics` over the same channel (`metrics`).
 */
export class PipelineProcess {
  private child: ChildProcess | undefined;
  private channel: PipelineMetricsChannel | undefined;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly entry: string,
    private readonly args: readonly string[],
    private readonly logger: Logger,
  ) {}

  start(): void {
    const child = fork(this.entry, ['pipeline', ...this.args], {
      env: {
        ORDERFLOW_SQLITE_COMMIT_WINDOW: PIPELINE_COMMIT_WINDOW,
        ...process.env,
        ORDERFLOW_PIPELINE: 'inline',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    this.channel = new PipelineMetricsChannel(child);
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, PIPELINE_NICENESS);
      } catch (error) {
        this.logger.warn({ err: error }, 'could not lower the pipeline process priority');
      }
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        if (this.stopping) return;
        this.logger.error({ code, signal }, 'the pipeline process died: starting it again');
        setTimeout(() => {
          if (!this.stopping) this.start();
        }, RESPAWN_DELAY_MS).unref();
      });
    });
  }

  /**
   * The pipeline's metric families, within a second; none while it starts. Rejects when it
   * is stuck, failing or gone: the scrape goes on without them.
   */
  metrics(): Promise<MetricFamilies> {
    if (!this.channel) return Promise.resolve([]);
    return this.channel.request(METRICS_TIMEOUT_MS);
  }

  /** Lets the pipeline drain what it has in hand (SIGTERM), then waits for its exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const deadline = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
    await this.exited;
    clearTimeout(deadline);
  }
}
