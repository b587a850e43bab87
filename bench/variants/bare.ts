import { startBaseline } from '../child.js';
import type { Target } from './target.js';

/** The limit: a bare node:http server answering 202, doing nothing with the order. */
export async function startBare(cpus: string | undefined): Promise<Target> {
  const child = await startBaseline(cpus);
  return {
    name: 'bare',
    url: child.url,
    headers: {},
    startMs: child.startMs,
    pipeline: false,
    setStock: () => Promise.resolve(),
    stock: () => Promise.resolve({ available: 0, reserved: 0 }),
    progress: () => Promise.resolve({ terminal: 0, open: 0, byStatus: {} }),
    completions: () => ({
      track: () => undefined,
      settle: () =>
        Promise.resolve({ recorded: [], observed: undefined, notCompleted: 0, unknown: 0 }),
    }),
    memory: async () => ({ rss: (await child.rss())?.now ?? 0, heapUsed: undefined }),
    stop: () => child.stop(),
  };
}
