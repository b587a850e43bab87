import type { Clock } from '../../ports/clock.js';
import type { BreakerState, ProcessReport, ProcessReports } from '../../ports/process-reports.js';
import type { RedisConnection, RedisScript } from './redis-connection.js';

/**
 * KEYS: the reports' hash. ARGV: process, the report (JSON), its TTL in ms. The hash lives at
 * least as long as its newest report, so a namespace nobody reports to any more empties itself.
 */
const PUT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`;

interface Stored {
  readonly breaker: BreakerState;
  readonly at: number;
  readonly expiresAt: number;
}

/**
 * Process reports in one Redis hash, `<ns>:process-reports`: a field per process, its report
 * and expiry as JSON. A read drops the fields past their expiry; a deployment has a handful
 * of processes, so reading them all is one small round trip.
 */
export class RedisProcessReports implements ProcessReports {
  private readonly putScript: RedisScript;
  private readonly key: string;

  constructor(
    private readonly connection: RedisConnection,
    namespace: string,
    private readonly clock: Clock,
  ) {
    this.key = `${namespace}:process-reports`;
    this.putScript = connection.script('orderflowProcessReportPut', PUT);
  }

  async put({ process, breaker, at }: ProcessReport, ttlMs: number): Promise<void> {
    const stored: Stored = { breaker, at, expiresAt: this.clock.now() + ttlMs };
    await this.putScript([this.key], [process, JSON.stringify(stored), Math.max(1, ttlMs)]);
  }

  live(): Promise<readonly ProcessReport[]> {
    return this.connection.run(async (client) => {
      const fields = await client.hgetall(this.key);
      const now = this.clock.now();
      const live: ProcessReport[] = [];
      const gone: string[] = [];
      for (const [process, json] of Object.entries(fields)) {
        const { breaker, at, expiresAt } = JSON.parse(json) as Stored;
        if (expiresAt > now) live.push({ process, breaker, at });
        else gone.push(process);
      }
      if (gone.length > 0) await client.hdel(this.key, ...gone);
      return live.sort((a, b) => a.process.localeCompare(b.process));
    });
  }

  async remove(process: string): Promise<void> {
    await this.connection.run((client) => client.hdel(this.key, process));
  }

  /** The connection belongs to the backend that opened it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
