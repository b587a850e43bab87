import { cpus as cpuList, totalmem } from 'node:os';
import { planCpus } from './cpu.js';
import { runVariantOnce, startTimes, type RunFigures } from './measure.js';
import { parseOptions, type BenchOptions, type VariantName } from './options.js';
import { summarize, type Summary } from './report/summary.js';
import { chart } from './report/svg.js';
import { checks, ratiosTable, valuesTable } from './report/table.js';
import { stampNow, writeResults } from './report/write.js';
import { soak, soakReport, type SoakResult } from './soak.js';

/**
 * `npm run bench [-- --quick | --soak]`: every variant started afresh in the same run (the
 * bare node:http limit, orderflow embedded, orderflow distributed with 1 and 2 workers, a
 * BullMQ peer), the same loads against each, medians of the runs, ratios to the limit and
 * to the peer. Prints tables, writes bench/results/<stamp>.json and .svg. Asserts nothing.
 */
async function measureAll(
  options: BenchOptions,
  serverCpus: string | undefined,
): Promise<{
  summaries: Summary[];
  runs: Record<string, RunFigures[]>;
  errors: Record<string, string[]>;
}> {
  const summaries: Summary[] = [];
  const runs: Record<string, RunFigures[]> = {};
  const errors: Record<string, string[]> = {};
  for (const variant of options.variants) {
    const done: RunFigures[] = [];
    const failed: string[] = [];
    for (let run = 0; run < options.runs; run += 1) {
      process.stderr.write(`${variant} run ${run + 1}/${options.runs}\n`);
      try {
        done.push(await runVariantOnce(variant, options, serverCpus));
      } catch (error) {
        failed.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
        process.stderr.write(`  ${variant} run ${run + 1} failed: ${String(error)}\n`);
      }
    }
    // Start → ready of the embedded default is a median of at least 3 starts.
    const extra =
      variant === 'embedded' && done.length < 3
        ? await startTimes(variant, 3 - done.length, serverCpus)
        : [];
    runs[variant] = done;
    errors[variant] = failed;
    summaries.push(summarize(variant, done, failed.length, extra));
  }
  return { summaries, runs, errors };
}

function describe(options: BenchOptions, plan: ReturnType<typeof planCpus>): string {
  const pinning = plan.pinned
    ? `load generator on CPU ${plan.loadCpus}, servers on CPU ${plan.serverCpus} (taskset; shared engines unpinned)`
    : 'not pinned';
  if (options.soak)
    return `orderflow bench --soak: ${options.soakOrders} orders per variant, ${options.e2eInFlight} in flight, log and order retention ${options.soakRetention}, the stores read at every fifth, memory every ${options.soakSampleMs / 1000} s; ${pinning}`;
  return [
    `orderflow bench${options.quick ? ' --quick' : ''}: ${options.runs} run(s) per variant, ${plan.cores} cores, ${pinning}`,
    `intake ${options.connections} connections × ${options.intakeSeconds} s; end to end ${options.e2eOrders} orders over ${options.e2eSkus} SKUs, ${options.e2eInFlight} in flight;`,
    `hot SKU ${options.hotOrders} orders for ${options.hotStock} units, ${options.hotInFlight} in flight; open loop ${options.openRate} orders/s × ${options.openSeconds} s, COMPLETED seen via ${options.latencyVia === 'sse' ? 'SSE (BullMQ: worker timestamps)' : 'order history read afterwards'}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const plan = planCpus(options.pin);
  const stamp = stampNow();
  const machine = {
    cpus: cpuList().length,
    model: cpuList()[0]?.model,
    memMiB: Math.round(totalmem() / 2 ** 20),
    node: process.version,
  };
  console.log(describe(options, plan) + '\n');

  if (options.soak) {
    const results: SoakResult[] = [];
    for (const variant of options.variants as VariantName[]) {
      const result = await soak(variant, options, plan.serverCpus);
      results.push(result);
      console.log(soakReport(result) + '\n');
    }
    const paths = await writeResults(`${stamp}-soak`, {
      kind: 'soak',
      stamp,
      options,
      plan,
      machine,
      results,
    });
    console.log(`written: ${paths.join(', ')}`);
    return;
  }

  const { summaries, runs, errors } = await measureAll(options, plan.serverCpus);
  console.log(valuesTable(summaries) + '\n');
  console.log(ratiosTable(summaries) + '\n');
  console.log(checks(summaries) + '\n');
  const title = `orderflow bench ${stamp}${options.quick ? ' (quick)' : ''}: medians of ${options.runs} run(s)`;
  const paths = await writeResults(
    stamp,
    { kind: 'bench', stamp, options, plan, machine, summaries, runs, errors },
    chart(summaries, title),
  );
  console.log(`written: ${paths.join(', ')}`);
}

await main();
