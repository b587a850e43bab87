import { endToEnd, type EndToEnd } from './load/closed.js';
import { measureIntake, type IntakeFigures } from './load/intake.js';
import { openLoop, type OpenLoop } from './load/open.js';
import { stockSkus } from './load/orders.js';
import type { BenchOptions, VariantName } from './options.js';
import { startVariant } from './variants/index.js';
import type { MemorySample, StockView } from './variants/target.js';

/** The hot SKU: many orders for few units. */
export interface HotSku extends EndToEnd {
  readonly stockLeft: StockView;
  /** Exactly `hotStock` COMPLETED, nothing open, nothing left in stock or reserved. */
  readonly exact: boolean;
}

/** Everything one fresh start of one variant measured. */
export interface RunFigures {
  readonly variant: VariantName;
  readonly startMs: number;
  readonly intake: IntakeFigures;
  readonly hot: HotSku | undefined;
  readonly e2e: EndToEnd | undefined;
  readonly latency: OpenLoop | undefined;
  /** After all the loads of the run. */
  readonly memory: MemorySample;
  readonly error?: string;
}

const log = (text: string): void => void process.stderr.write(`  ${text}\n`);

/**
 * Starts `variant` afresh and runs, in this order, the hot SKU, the end-to-end burst, the
 * open-loop latency and the intake burst (the one that leaves the biggest backlog), each
 * waiting for the previous one's orders to end; then stops it (and cleans up after it).
 */
export async function runVariantOnce(
  variant: VariantName,
  options: BenchOptions,
  cpus: string | undefined,
): Promise<RunFigures> {
  const target = await startVariant(variant, cpus);
  log(`${variant}: ready in ${Math.round(target.startMs)} ms`);
  try {
    let hot: HotSku | undefined;
    let e2e: EndToEnd | undefined;
    let latency: OpenLoop | undefined;
    let skus: string[] = [];
    if (target.pipeline) {
      await target.setStock('HOT', options.hotStock);
      const hotRun = await endToEnd(
        target,
        ['HOT'],
        options.hotOrders,
        options.hotInFlight,
        options.drainTimeoutMs,
      );
      const stockLeft = await target.stock('HOT');
      hot = {
        ...hotRun,
        stockLeft,
        exact:
          (hotRun.byStatus['COMPLETED'] ?? 0) === options.hotStock &&
          hotRun.open === 0 &&
          stockLeft.available === 0 &&
          stockLeft.reserved === 0,
      };
      log(`${variant}: hot SKU ${hot.ordersPerS} orders/s, ${JSON.stringify(hot.byStatus)}`);

      const e2eSkus = await stockSkus(target, 'E2E', options.e2eSkus, 1_000_000);
      e2e = await endToEnd(
        target,
        e2eSkus,
        options.e2eOrders,
        options.e2eInFlight,
        options.drainTimeoutMs,
      );
      log(`${variant}: end to end ${e2e.ordersPerS} orders/s (${e2e.orders} in ${e2e.ms} ms)`);

      const openSkus = await stockSkus(target, 'OPEN', options.e2eSkus, 1_000_000);
      latency = await openLoop(
        target,
        openSkus,
        options.openRate,
        options.openSeconds,
        options.drainTimeoutMs,
        options.latencyVia,
      );
      log(
        `${variant}: 202 → COMPLETED p50 ${latency.p50} ms p99 ${latency.p99} ms at ${latency.sentPerS}/s`,
      );

      skus = await stockSkus(target, 'IN', options.e2eSkus, 1_000_000_000);
    }
    const intake = await measureIntake(
      target,
      skus,
      options.connections,
      options.intakeSeconds,
      options.drainTimeoutMs,
    );
    log(
      `${variant}: intake ${intake.rps} req/s p99 ${intake.p99} ms, drained in ${intake.drainMs ?? '-'} ms`,
    );
    const memory = await target.memory();
    return { variant, startMs: target.startMs, intake, hot, e2e, latency, memory };
  } finally {
    await target.stop();
  }
}

/** Start → ready only: start and stop `variant` `times` times. */
export async function startTimes(
  variant: VariantName,
  times: number,
  cpus: string | undefined,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < times; i += 1) {
    const target = await startVariant(variant, cpus);
    samples.push(target.startMs);
    await target.stop();
  }
  return samples;
}
