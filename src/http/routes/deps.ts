import type { ServiceContext } from '../../runtime/context.js';
import type { HttpMetrics } from '../metrics.js';

/** What every route plugin is registered with. */
export interface HttpDeps {
  readonly ctx: ServiceContext;
  readonly metrics: HttpMetrics;
}
