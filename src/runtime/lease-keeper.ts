import type { Logger } from 'pino';
import type { Lease } from '../ports/lease.js';
import { newProcessName } from './process-name.js';

/**
 * Holds a lease for this process while it can: tries to take it, renews it at a third of
 * its TTL, and reports when it is won or lost. A process that dies stops renewing, and
 * another takes over once the TTL has lapsed. A renewal that comes back with another token
 * means the lease lapsed and was taken again meanwhile: lost, then won anew.
 */
export class LeaseKeeper {
  readonly holder = newProcessName();
  private timer: NodeJS.Timeout | undefined;
  private holding: number | undefined;
  private stopped = false;

  constructor(
    private readonly lease: Lease,
    private readonly name: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly onWon: () => Promise<void>,
  ) {}

  get held(): boolean {
    return this.token !== undefined;
  }

  /** The fencing token while this process holds the lease. */
  get token(): number | undefined {
    return this.stopped ? undefined : this.holding;
  }

  async start(): Promise<void> {
    await this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.holding !== undefined) {
      await this.lease.release(this.name, this.holder).catch(() => undefined);
    }
    this.holding = undefined;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let token: number | undefined;
    try {
      token = await this.lease.acquire(this.name, this.holder, this.ttlMs);
    } catch (error) {
      this.logger.warn({ lease: this.name, err: error }, 'lease not renewed');
    }
    if (this.holding !== undefined && token !== this.holding) {
      this.holding = undefined;
      this.logger.warn({ lease: this.name }, 'lease lost: another process runs the schedules');
    }
    if (token !== undefined && this.holding === undefined) {
      this.holding = token;
      this.logger.info(
        { lease: this.name, holder: this.holder, token },
        'lease won: running the schedules',
      );
      await this.onWon().catch((error: unknown) =>
        this.logger.warn({ err: error }, 'first run after winning the lease failed'),
      );
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(50, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }
}
