import { RetryableError } from '../domain/errors.js';

/** What a client over its cap of open streams is told to wait: a slot frees when one ends. */
export const STREAM_RETRY_AFTER_S = 5;

/** Open streams per name (an API key id, an IP), each name capped at `max`; 0 = no cap. */
export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly max: number,
    /** What is capped, for the error message (`API key`, `IP`). */
    private readonly what: string,
  ) {}

  /** Takes a slot for `name`, or throws `429 too_many_streams`; the answer gives it back once. */
  take(name: string): () => void {
    if (this.max === 0) return () => undefined;
    const held = this.open.get(name) ?? 0;
    if (held >= this.max) {
      throw new RetryableError(
        'too_many_streams',
        `too many open event streams for this ${this.what} (at most ${this.max}); close one first`,
        STREAM_RETRY_AFTER_S * 1000,
      );
    }
    this.open.set(name, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(name) ?? 1) - 1;
      if (left <= 0) this.open.delete(name);
      else this.open.set(name, left);
    };
  }

  /** Streams open for `name` now. */
  held(name: string): number {
    return this.open.get(name) ?? 0;
  }
}

/** A slot per API key and per IP, both or neither; the answer gives both back. */
export function takeSlots(
  perKey: StreamSlots,
  perIp: StreamSlots,
  keyId: string,
  ip: string,
): () => void {
  const releaseKey = perKey.take(keyId);
  let releaseIp: () => void;
  try {
    releaseIp = perIp.take(ip);
  } catch (error) {
    releaseKey();
    throw error;
  }
  return () => {
    releaseKey();
    releaseIp();
  };
}
