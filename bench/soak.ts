import { endToEnd } from './load/closed.js';
import { waitCaughtUp } from './load/drain.js';
import { stockSkus } from './load/orders.js';
import type { BenchOptions, VariantName } from './options.js';
import { renderTable } from './report/table.js';
import { sleep } from './stats.js';
import { LABELS, startVariant } from './variants/index.js';
import type { StorageSample } from './variants/target.js';

export interface SoakSample {
  readonly s: number;
  readonly ended: number;
  readonly rssMiB: number;
  readonly heapMiB: number | undefined;
}

/** What the stores held after another fifth of the orders (or, the last, once idle). */
export interface SoakCheckpoint extends SoakSample {
  readonly label: string;
  readonly storage: StorageSample;
  /**
   * Orders per second over the step that ended here: what the hot stores hold under a
   * retention is about rate × retention, so a step at another rate holds another amount.
   */
  readonly stepPerS: number | undefined;
}

export interface SoakResult {
  readonly variant: VariantName;
  readonly orders: number;
  readonly ordersPerS: number;
  readonly retention: string;
  readonly samples: readonly SoakSample[];
  readonly checkpoints: readonly SoakCheckpoint[];
  /** The sample of highest RSS. */
  readonly peak: SoakSample | undefined;
  /** Per figure: flat or growing, the highest of the later checkpoints against the warm-up's. */
  readonly verdicts: Readonly<Record<string, string>>;
}

const MiB = 1024 * 1024;
const CHECKPOINTS = 5;
/**
 * Orders sent before the soak waits for them to end and for every consumer group and the
 * sync to catch up: a shop's steady trade, not a burst. Sent all at once, the intake outruns
 * the pipeline by minutes, and what the stores hold is that backlog (kept, as it must be:
 * a group's unsettled events stay, an order stays until synced), not what retention leaves.
 * Paced on the orders' end alone, the same holds of the slowest group (the fan-out).
 */
const CHUNK = 2_000;

/**
 * The load checkpoints of the warm-up: the first three of five (100k–300k). A bounded
 * figure reaches its level there (caches fill to their retention, the heap to its working
 * set, the allocator to its arenas) and makes no new high after; a leak keeps making them.
 */
const WARM_UP = 3;

/**
 * Flat unless the highest later figure (`later`: the last load checkpoints and idle; a growth
 * under load that idling gives back counts) exceeds the warm-up's highest by more than 10 %
 * and more than `slack`.
 */
function verdict(
  warm: readonly number[],
  later: readonly number[],
  slack: number,
  unit: string,
): string {
  if (warm.length === 0 || later.length === 0 || [...warm, ...later].some(Number.isNaN))
    return 'not measured';
  const warmHigh = Math.max(...warm);
  const growth = Math.max(...later) - warmHigh;
  const word = growth > Math.max(warmHigh * 0.1, slack) ? 'growing' : 'flat';
  return `${word} (${growth >= 0 ? '+' : ''}${growth.toFixed(0)} ${unit} over the warm-up's highest)`;
}

/** The figures that must stay flat, with the slack a figure may move within. */
const BOUNDED: readonly [string, (c: SoakCheckpoint) => number | undefined, number, string][] = [
  ['hot file', (c) => mib(c.storage.hotBytes), 16, 'MiB'],
  ['WAL', (c) => mib(c.storage.walBytes), 16, 'MiB'],
  ['Redis memory', (c) => mib(c.storage.redisBytes), 16, 'MiB'],
  ['Redis keys', (c) => c.storage.redisKeys, 5_000, 'keys'],
  ['stream', (c) => mib(c.storage.streamBytes), 16, 'MiB'],
  ['RSS', (c) => c.rssMiB, 32, 'MiB'],
];

function mib(bytes: number | undefined): number | undefined {
  return bytes === undefined ? undefined : bytes / MiB;
}

/**
 * `--soak`: `soakOrders` orders through one variant (50 in flight, 100 SKUs, 2,000 at a time,
 * each lot ended, and every consumer group and the sync caught up, before the next) with the log and order retentions at `soakRetention`, so
 * that the hot stores reach their steady state early.
 * At every fifth of the orders, and once more when idle for two retentions, what the stores
 * hold (the embedded hot file, Redis memory and keys, the events stream) and the processes'
 * memory; memory also every `soakSampleMs`, for the peak. The source of truth grows with the
 * orders, as it must: it is shown, not judged.
 */
export async function soak(
  variant: VariantName,
  options: BenchOptions,
  cpus: string | undefined,
): Promise<SoakResult> {
  const retention = options.soakRetention;
  const target = await startVariant(variant, cpus, {
    ORDERFLOW_LOG_RETENTION: retention,
    ORDERFLOW_ORDER_RETENTION: retention,
  });
  const samples: SoakSample[] = [];
  const checkpoints: SoakCheckpoint[] = [];
  const started = performance.now();
  const base = await target.progress();
  const sample = async (): Promise<SoakSample> => {
    const [memory, progress] = await Promise.all([
      target.memory(),
      target.progress().catch(() => undefined),
    ]);
    const taken = {
      s: Math.round((performance.now() - started) / 1000),
      ended: progress ? progress.terminal - base.terminal : Number.NaN,
      rssMiB: memory.rss / MiB,
      heapMiB: memory.heapUsed === undefined ? undefined : memory.heapUsed / MiB,
    };
    samples.push(taken);
    return taken;
  };
  const checkpoint = async (label: string, stepPerS?: number): Promise<void> => {
    const [taken, storage] = await Promise.all([sample(), target.storage?.() ?? {}]);
    checkpoints.push({ ...taken, label, storage, stepPerS });
    const memory = { rssMiB: Math.round(taken.rssMiB), stepPerS };
    process.stderr.write(
      `  ${variant} ${label}: ${JSON.stringify({ ...storage, ...memory, s: taken.s })}\n`,
    );
  };
  let running = true;
  const sampler = (async () => {
    while (running) {
      await sample();
      const wake = performance.now() + options.soakSampleMs;
      while (running && performance.now() < wake) await sleep(100);
    }
  })();
  try {
    const skus = await stockSkus(target, 'SOAK', options.e2eSkus, 1_000_000_000);
    const step = Math.ceil(options.soakOrders / CHECKPOINTS);
    let orders = 0;
    let seconds = 0;
    for (let done = 0; done < options.soakOrders; done += step) {
      const count = Math.min(step, options.soakOrders - done);
      let stepOrders = 0;
      let stepSeconds = 0;
      for (let sent = 0; sent < count; sent += CHUNK) {
        const chunk = Math.min(CHUNK, count - sent);
        const startedAt = performance.now();
        const run = await endToEnd(target, skus, chunk, options.e2eInFlight, 60 * 60_000);
        if (!(await waitCaughtUp(target, 60 * 60_000)))
          throw new Error(`${variant}: the consumers did not catch up within an hour`);
        stepOrders += run.orders;
        stepSeconds += (performance.now() - startedAt) / 1000;
      }
      orders += stepOrders;
      seconds += stepSeconds;
      const stepPerS = Math.round(stepOrders / Math.max(stepSeconds, 1e-9));
      await checkpoint(`${Math.round((done + count) / 1000)}k`, stepPerS);
    }
    running = false;
    await sampler;
    await sleep(2 * retentionMs(retention));
    await checkpoint('idle');
    const verdicts: Record<string, string> = {};
    const measured = (
      of: readonly SoakCheckpoint[],
      read: (c: SoakCheckpoint) => number | undefined,
    ) => of.map(read).filter((value) => value !== undefined);
    for (const [name, read, slack, unit] of BOUNDED) {
      const warm = measured(checkpoints.slice(0, WARM_UP), read);
      if (warm.length === 0) continue;
      verdicts[name] = verdict(warm, measured(checkpoints.slice(WARM_UP), read), slack, unit);
    }
    return {
      variant,
      orders,
      ordersPerS: Math.round(orders / Math.max(seconds, 1e-9)),
      retention,
      samples,
      checkpoints,
      peak: samples.reduce<SoakSample | undefined>(
        (top, s) => (top && top.rssMiB >= s.rssMiB ? top : s),
        undefined,
      ),
      verdicts,
    };
  } finally {
    running = false;
    await sampler;
    await target.stop();
  }
}

/** `30s`, `2m`, `1h` as ms (the soak's own flag; the service parses its own copy). */
function retentionMs(text: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(text);
  if (!match) throw new Error(`--soak-retention: "${text}" is not like 30s, 2m or 1h`);
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
}

const figure = (value: number | undefined, digits = 0): string =>
  value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);

export function soakReport(result: SoakResult): string {
  const row = (c: SoakCheckpoint): string[] => [
    c.label,
    String(c.s),
    String(c.ended),
    figure(c.stepPerS),
    figure(mib(c.storage.hotBytes), 1),
    figure(mib(c.storage.walBytes), 1),
    figure(mib(c.storage.sotBytes), 1),
    figure(mib(c.storage.redisBytes), 1),
    figure(c.storage.redisKeys),
    figure(mib(c.storage.streamBytes), 1),
    figure(c.storage.streamMessages),
    figure(c.rssMiB),
    figure(c.heapMiB),
  ];
  return [
    `${LABELS[result.variant]}: ${result.orders} orders, ${result.ordersPerS} orders/s, retentions ${result.retention}, peak RSS ${figure(result.peak?.rssMiB)} MiB`,
    renderTable([
      [
        'orders',
        's',
        'ended',
        'orders/s',
        'hot file MiB',
        'WAL MiB',
        'SoT MiB',
        'Redis MiB',
        'Redis keys',
        'stream MiB',
        'stream msgs',
        'RSS MiB',
        'heap MiB',
      ],
      ...result.checkpoints.map(row),
    ]),
    Object.entries(result.verdicts)
      .map(([name, word]) => `${name}: ${word}`)
      .join('; '),
  ].join('\n');
}
