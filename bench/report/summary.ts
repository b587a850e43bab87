import type { RunFigures } from '../measure.js';
import type { VariantName } from '../options.js';
import { median } from '../stats.js';

/** One variant's figures: the median over its runs of each. */
export interface Summary {
  readonly variant: VariantName;
  readonly runs: number;
  readonly failedRuns: number;
  readonly startMs: number;
  readonly startSamples: readonly number[];
  readonly intakeRps: number;
  readonly intakeP50: number;
  readonly intakeP99: number;
  readonly intakeAccepted: number;
  readonly intakeNon2xxOrErrors: number;
  readonly backlogAtEnd: number;
  readonly drainMs: number;
  readonly allDrained: boolean | undefined;
  readonly e2eOrdersPerS: number;
  readonly hotOrdersPerS: number;
  readonly hotExact: boolean | undefined;
  readonly hotRuns: readonly {
    byStatus: Record<string, number>;
    available: number;
    reserved: number;
    open: number;
  }[];
  readonly latencyP50: number;
  readonly latencyP99: number;
  readonly latencyObservedP50: number;
  readonly latencyObservedP99: number;
  readonly latencySentPerS: number;
  readonly latencyGeneratorLagP99: number;
  readonly latencyNotCompleted: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
}

const MiB = 1024 * 1024;

function med(runs: readonly RunFigures[], pick: (run: RunFigures) => number | undefined): number {
  return median(
    runs.map(pick).filter((value): value is number => value !== undefined && !Number.isNaN(value)),
  );
}

export function summarize(
  variant: VariantName,
  runs: readonly RunFigures[],
  failedRuns: number,
  extraStarts: readonly number[],
): Summary {
  const startSamples = [...runs.map((run) => run.startMs), ...extraStarts];
  const piped = runs.filter((run) => run.hot !== undefined);
  return {
    variant,
    runs: runs.length,
    failedRuns,
    startMs: median(startSamples),
    startSamples: startSamples.map(Math.round),
    intakeRps: med(runs, (run) => run.intake.rps),
    intakeP50: med(runs, (run) => run.intake.p50),
    intakeP99: med(runs, (run) => run.intake.p99),
    intakeAccepted: med(runs, (run) => run.intake.accepted),
    intakeNon2xxOrErrors: runs.reduce((sum, run) => sum + run.intake.non2xx + run.intake.errors, 0),
    backlogAtEnd: med(runs, (run) => run.intake.backlogAtEnd),
    drainMs: med(runs, (run) => run.intake.drainMs),
    allDrained: piped.length === 0 ? undefined : runs.every((run) => run.intake.drained !== false),
    e2eOrdersPerS: med(runs, (run) => run.e2e?.ordersPerS),
    hotOrdersPerS: med(runs, (run) => run.hot?.ordersPerS),
    hotExact: piped.length === 0 ? undefined : piped.every((run) => run.hot?.exact === true),
    hotRuns: piped.map((run) => ({
      byStatus: run.hot?.byStatus ?? {},
      available: run.hot?.stockLeft.available ?? Number.NaN,
      reserved: run.hot?.stockLeft.reserved ?? Number.NaN,
      open: run.hot?.open ?? Number.NaN,
    })),
    latencyP50: med(runs, (run) => run.latency?.p50),
    latencyP99: med(runs, (run) => run.latency?.p99),
    latencyObservedP50: med(runs, (run) => run.latency?.observedP50),
    latencyObservedP99: med(runs, (run) => run.latency?.observedP99),
    latencySentPerS: med(runs, (run) => run.latency?.sentPerS),
    latencyGeneratorLagP99: med(runs, (run) => run.latency?.generatorLagP99),
    latencyNotCompleted: runs.reduce(
      (sum, run) => sum + (run.latency ? run.latency.notCompleted + run.latency.unknown : 0),
      0,
    ),
    rssMiB: med(runs, (run) => run.memory.rss / MiB),
    heapMiB: med(runs, (run) =>
      run.memory.heapUsed === undefined ? undefined : run.memory.heapUsed / MiB,
    ),
  };
}

/** A figure of the table: how to read it from a summary, and which way is better. */
export interface Figure {
  readonly key: keyof Summary;
  readonly label: string;
  /** Whether a ratio to the bare server means anything (only the intake's figures). */
  readonly vsBare: boolean;
  readonly digits: number;
}

export const FIGURES: readonly Figure[] = [
  { key: 'intakeRps', label: 'intake req/s (50 conn., pipeline running)', vsBare: true, digits: 0 },
  { key: 'intakeP50', label: 'intake p50 ms', vsBare: true, digits: 1 },
  { key: 'intakeP99', label: 'intake p99 ms', vsBare: true, digits: 1 },
  { key: 'backlogAtEnd', label: 'backlog when the burst ended (orders)', vsBare: false, digits: 0 },
  { key: 'drainMs', label: 'backlog drain ms after the burst', vsBare: false, digits: 0 },
  { key: 'e2eOrdersPerS', label: 'end to end orders/s (100 SKUs)', vsBare: false, digits: 0 },
  {
    key: 'hotOrdersPerS',
    label: 'hot SKU orders/s (100 units, 200 in flight)',
    vsBare: false,
    digits: 0,
  },
  { key: 'latencyP50', label: '202 → COMPLETED p50 ms (open loop)', vsBare: false, digits: 0 },
  { key: 'latencyP99', label: '202 → COMPLETED p99 ms (open loop)', vsBare: false, digits: 0 },
  { key: 'latencyObservedP50', label: '  same, seen over SSE, p50 ms', vsBare: false, digits: 0 },
  { key: 'latencyObservedP99', label: '  same, seen over SSE, p99 ms', vsBare: false, digits: 0 },
  { key: 'latencySentPerS', label: '  offered rate achieved, orders/s', vsBare: false, digits: 0 },
  {
    key: 'latencyGeneratorLagP99',
    label: '  load generator event-loop lag p99 ms',
    vsBare: false,
    digits: 0,
  },
  { key: 'startMs', label: 'start → ready ms (median)', vsBare: true, digits: 0 },
  { key: 'rssMiB', label: 'RSS MiB after the run (all processes)', vsBare: true, digits: 0 },
  { key: 'heapMiB', label: 'heap used MiB after the run', vsBare: false, digits: 0 },
];
