import type { VariantName } from '../options.js';
import { startBare } from './bare.js';
import { startBullmq } from './bullmq.js';
import { startDistributed, startEmbedded } from './orderflow.js';
import type { Target } from './target.js';

export const LABELS: Record<VariantName, string> = {
  bare: 'bare node:http 202',
  embedded: 'orderflow embedded',
  'dist-1w': 'orderflow dist 1 worker',
  'dist-2w': 'orderflow dist 2 workers',
  bullmq: 'BullMQ peer',
};

/** Starts one variant afresh, its servers on `cpus`. */
export function startVariant(
  name: VariantName,
  cpus: string | undefined,
  /** Added to orderflow's environment (the soak's retentions); the peers ignore it. */
  env: Record<string, string> = {},
): Promise<Target> {
  switch (name) {
    case 'bare':
      return startBare(cpus);
    case 'embedded':
      return startEmbedded(cpus, env);
    case 'dist-1w':
      return startDistributed(1, cpus, env);
    case 'dist-2w':
      return startDistributed(2, cpus, env);
    case 'bullmq':
      return startBullmq(cpus);
  }
}
