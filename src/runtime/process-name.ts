import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * A name for one holder in this process, unique in the deployment: host, pid, and random
 * bytes (a restarted process may get the same pid; two holders in one process, as tests
 * make them, differ too).
 */
export function newProcessName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}
