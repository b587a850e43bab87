/** What one `npm run bench` invocation measures, read from its flags. */
export interface BenchOptions {
  /** `--quick`: one run, short loads, small counts (about a minute in all). */
  readonly quick: boolean;
  /**
   * `--soak`: only the long run (not part of the default run): `soakOrders` orders with
   * retentions of `soakRetention`, what the stores hold sampled at every fifth of them.
   */
  readonly soak: boolean;
  /** `--variants=bare,embedded,...`: which variants, in this order. */
  readonly variants: readonly VariantName[];
  /** Runs per variant; figures are their medians. */
  readonly runs: number;
  /** `--no-pin`: leave scheduling to the kernel even where `taskset` exists. */
  readonly pin: boolean;
  readonly connections: number;
  readonly intakeSeconds: number;
  readonly e2eOrders: number;
  readonly e2eSkus: number;
  readonly e2eInFlight: number;
  readonly hotOrders: number;
  readonly hotStock: number;
  readonly hotInFlight: number;
  readonly openRate: number;
  readonly openSeconds: number;
  readonly soakOrders: number;
  readonly soakSampleMs: number;
  /** `--soak-retention=30s`: ORDERFLOW_LOG_RETENTION and ORDERFLOW_ORDER_RETENTION of the soak. */
  readonly soakRetention: string;
  /** How the open loop learns when orders completed (`--latency-via=history`: read afterwards). */
  readonly latencyVia: LatencyVia;
  /** Upper bound of every wait for a backlog to drain. */
  readonly drainTimeoutMs: number;
}

export type LatencyVia = 'sse' | 'history';

export const VARIANT_NAMES = ['bare', 'embedded', 'dist-1w', 'dist-2w', 'bullmq'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

function flag(args: readonly string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  return args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

function numberFlag(args: readonly string[], name: string, fallback: number): number {
  const text = flag(args, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: "${text}" is not > 0`);
  return value;
}

function parseVariants(text: string | undefined): VariantName[] {
  if (text === undefined) return [...VARIANT_NAMES];
  return text.split(',').map((name) => {
    if (!(VARIANT_NAMES as readonly string[]).includes(name))
      throw new Error(`--variants: "${name}" is not one of ${VARIANT_NAMES.join(', ')}`);
    return name as VariantName;
  });
}

export function parseOptions(args: readonly string[]): BenchOptions {
  const quick = args.includes('--quick');
  const soak = args.includes('--soak');
  const variants = parseVariants(flag(args, 'variants') ?? (soak ? 'embedded,dist-1w' : undefined));
  return {
    quick,
    soak,
    variants,
    runs: numberFlag(args, 'runs', quick ? 1 : 3),
    pin: !args.includes('--no-pin'),
    connections: 50,
    intakeSeconds: numberFlag(args, 'intake-seconds', quick ? 2 : 10),
    e2eOrders: numberFlag(args, 'e2e-orders', quick ? 1_000 : 20_000),
    e2eSkus: 100,
    e2eInFlight: 50,
    hotOrders: 2_000,
    hotStock: 100,
    hotInFlight: 200,
    openRate: numberFlag(args, 'open-rate', 1_000),
    openSeconds: numberFlag(args, 'open-seconds', quick ? 2 : 10),
    soakOrders: numberFlag(args, 'soak-orders', quick ? 20_000 : 500_000),
    soakSampleMs: numberFlag(args, 'soak-sample-s', 5) * 1000,
    soakRetention: flag(args, 'soak-retention') ?? '30s',
    latencyVia: flag(args, 'latency-via') === 'history' ? 'history' : 'sse',
    drainTimeoutMs: numberFlag(args, 'drain-timeout-s', quick ? 60 : 300) * 1000,
  };
}
