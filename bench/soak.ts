import { endToEnd } from './load/closed.js';
import { stockSkus } from './load/orders.js';
import type { BenchOptions, VariantName } from './options.js';
import { renderTable } from './report/table.js';
import { sleep } from './stats.js';
import { LABELS, startVariant } from './variants/index.js';

export interface SoakSample {
  readonly s: number;
  readonly ended: number;
  readonly rssMiB: number;
  readonly heapMiB: number | undefined;
}

export interface SoakResult {
  readonly variant: VariantName;
  readonly orders: number;
  readonly ordersPerS: number;
  readonly samples: readonly SoakSample[];
  readonly first: SoakSample | undefined;
  readonly warm: SoakSample | undefined;
  readonly last: SoakSample | undefined;
  /** The sample of highest RSS. */
  readonly peak: SoakSample | undefined;
  readonly rssVerdict: string;
  readonly heapVerdict: string;
}

const MiB = 1024 * 1024;

/** Flat unless `last` exceeds `warm` by more than 10 % and more than `slackMiB`. */
function verdict(warm: number | undefined, last: number | undefined, slackMiB: number): string {
  if (warm === undefined || last === undefined) return 'not measured';
  const growth = last - warm;
  const word = growth > Math.max(warm * 0.1, slackMiB) ? 'growing' : 'flat';
  return `${word} (${growth >= 0 ? '+' : ''}${growth.toFixed(0)} MiB after warm-up)`;
}

/**
 * `--soak`: `soakOrders` orders through one variant (50 in flight, 100 SKUs), memory
 * sampled every `soakSampleMs`, then twice more once idle. Warm-up ends at 10 % of the orders.
 */
export async function soak(
  variant: VariantName,
  options: BenchOptions,
  cpus: string | undefined,
): Promise<SoakResult> {
  const target = await startVariant(variant, cpus);
  const samples: SoakSample[] = [];
  const started = performance.now();
  const base = await target.progress();
  const sample = async (): Promise<void> => {
    const [memory, progress] = await Promise.all([
      target.memory(),
      target.progress().catch(() => undefined),
    ]);
    samples.push({
      s: Math.round((performance.now() - started) / 1000),
      ended: progress ? progress.terminal - base.terminal : Number.NaN,
      rssMiB: memory.rss / MiB,
      heapMiB: memory.heapUsed === undefined ? undefined : memory.heapUsed / MiB,
    });
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
    const run = await endToEnd(target, skus, options.soakOrders, options.e2eInFlight, 60 * 60_000);
    running = false;
    await sampler;
    for (let i = 0; i < 2; i += 1) {
      await sleep(options.soakSampleMs);
      await sample();
    }
    const warm = samples.find((s) => s.ended >= options.soakOrders * 0.1) ?? samples[0];
    const last = samples.at(-1);
    return {
      variant,
      orders: run.orders,
      ordersPerS: run.ordersPerS,
      samples,
      first: samples[0],
      warm,
      last,
      peak: samples.reduce<SoakSample | undefined>(
        (top, s) => (top && top.rssMiB >= s.rssMiB ? top : s),
        undefined,
      ),
      rssVerdict: verdict(warm?.rssMiB, last?.rssMiB, 32),
      heapVerdict: verdict(warm?.heapMiB, last?.heapMiB, 16),
    };
  } finally {
    running = false;
    await sampler;
    await target.stop();
  }
}

export function soakReport(result: SoakResult): string {
  const row = (name: string, s: SoakSample | undefined): string[] => [
    name,
    s ? String(s.s) : '–',
    s ? String(s.ended) : '–',
    s ? s.rssMiB.toFixed(0) : '–',
    s?.heapMiB === undefined ? '–' : s.heapMiB.toFixed(0),
  ];
  return [
    `${LABELS[result.variant]}: ${result.orders} orders, ${result.ordersPerS} orders/s, ${result.samples.length} samples`,
    renderTable([
      ['sample', 's', 'orders ended', 'RSS MiB', 'heap MiB'],
      row('first', result.first),
      row('after warm-up', result.warm),
      row('last (idle)', result.last),
      row('peak RSS', result.peak),
    ]),
    `RSS: ${result.rssVerdict}; heap: ${result.heapVerdict}`,
  ].join('\n');
}
