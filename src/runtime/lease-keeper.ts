import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Lease } from '../ports/lease.js';

/**
 * Holds a lease for this process while it can: tries to take it, renews it at a third of
 * its TTL, and reports when it is won or lost. A process that dies stops renewing, and
 * another takes over once the TTL has lapsed.
 */
export class LeaseKeeper {
  readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  private holding = false;
  private stopped = false;

  constructor(
    private readonly lease: Lease,
    private readonly name: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly onWon: () => Promise<void>,
  ) {}

  get held(): boolean {
    return this.holding && !this.stopped;
  }

  async start(): Promise<void> {
    await this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.holding) await this.lease.release(this.name, this.holder).catch(() => undefined);
    this.holding = false;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let won = false;
    try {
      won = await this.lease.acquire(this.name, this.holder, this.ttlMs);
    } catch (error) {
      this.logger.warn({ lease: this.name, err: String(error) }, 'lease not renewed');
    }
    if (won && !this.holding) {
      this.holding = true;
      this.logger.info(
        { lease: this.name, holder: this.holder },
        'lease won: running the schedules',
      );
      await this.onWon().catch((error: unknown) =>
        this.logger.warn({ err: String(error) }, 'first run after winning the lease failed'),
      );
    } else if (!won && this.holding) {
      this.holding = false;
      this.logger.warn({ lease: this.name }, 'lease lost: another process runs the schedules');
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(50, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }
}
