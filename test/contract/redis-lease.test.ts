import { describe } from 'vitest';
import type { Clock } from '../../src/ports/clock.js';
import type { Lease } from '../../src/ports/lease.js';
import { REDIS_FIXTURES } from '../helpers/backends-redis.js';
import { enginesUp } from '../helpers/engines.js';
import { describeLeaseContract } from './lease.contract.js';

/** The suite's reference: leases in one process's memory, shared by its adapters. */
class MemoryLease implements Lease {
  constructor(
    private readonly held: Map<string, { holder: string; until: number }>,
    private readonly clock: Clock,
  ) {}

  acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    const current = this.held.get(name);
    if (current && current.holder !== holder && current.until > now) return Promise.resolve(false);
    this.held.set(name, { holder, until: now + ttlMs });
    return Promise.resolve(true);
  }

  release(name: string, holder: string): Promise<void> {
    if (this.held.get(name)?.holder === holder) this.held.delete(name);
    return Promise.resolve();
  }
}

describeLeaseContract('memory', () => {
  const held = new Map<string, { holder: string; until: number }>();
  return Promise.resolve({
    open: (clock) => new MemoryLease(held, clock),
    dispose: () => Promise.resolve(held.clear()),
  });
});

const up = await enginesUp('redis');
describe.skipIf(!up)('redis', () => {
  describeLeaseContract('redis', REDIS_FIXTURES.lease);
});
