import { RetryableError } from '../domain/errors.js';
import type { Clock } from '../ports/clock.js';
import type { BreakerState } from '../ports/process-reports.js';
import type {
  CancelRequest,
  CancelResult,
  ChargeRequest,
  ChargeResult,
  PaymentGateway,
  PaymentLookup,
  RefundRequest,
} from '../ports/payment-gateway.js';

/** The states of `ProcessReports`' breaker: what every process reports. */
export type CircuitState = BreakerState;

export interface CircuitBreakerOptions {
  readonly clock: Clock;
  /** Consecutive transient failures (RetryableErrors) that open the circuit; default 5. */
  readonly failureThreshold?: number;
  /** How long the circuit first stays open; doubles while the trials keep failing. Default 5 s. */
  readonly openMs?: number;
  /** The longest it stays open at a time; default 60 s. */
  readonly maxOpenMs?: number;
}

/** What a caller rejected while a trial call is out is told to wait before trying again. */
const TRIAL_WAIT_MS = 1000;

/**
 * Backs all payment work off while the provider keeps failing, so that an outage costs
 * one trial call per open period instead of every order hammering it; the work resumes
 * by itself once a trial succeeds. Only transient failures count: a decline, or any
 * other answer, shows the provider is there.
 */
export class PaymentCircuitBreaker implements PaymentGateway {
  private readonly clock: Clock;
  private readonly failureThreshold: number;
  private readonly baseOpenMs: number;
  private readonly maxOpenMs: number;
  private open = false;
  private openUntil = 0;
  private openFor: number;
  private failures = 0;
  private trialOut = false;
  private readonly tripListeners: (() => void)[] = [];

  constructor(
    private readonly inner: PaymentGateway,
    options: CircuitBreakerOptions,
  ) {
    this.clock = options.clock;
    this.failureThreshold = options.failureThreshold ?? 5;
    this.baseOpenMs = options.openMs ?? 5_000;
    this.maxOpenMs = Math.max(this.baseOpenMs, options.maxOpenMs ?? 60_000);
    this.openFor = this.baseOpenMs;
  }

  get state(): CircuitState {
    if (!this.open) return 'closed';
    return this.clock.now() < this.openUntil ? 'open' : 'half-open';
  }

  /**
   * Calls `listener` each time the circuit opens after being closed (a failed half-open
   * trial keeps it open and is no new trip): metrics count trips without the breaker
   * knowing about metrics. The listener must not throw.
   */
  onTrip(listener: () => void): void {
    this.tripListeners.push(listener);
  }

  charge(request: ChargeRequest): Promise<ChargeResult> {
    return this.call(() => this.inner.charge(request));
  }

  refund(request: RefundRequest): Promise<void> {
    return this.call(() => this.inner.refund(request));
  }

  cancel(request: CancelRequest): Promise<CancelResult> {
    return this.call(() => this.inner.cancel(request));
  }

  find(orderId: string): Promise<PaymentLookup> {
    return this.call(() => this.inner.find(orderId));
  }

  private async call<T>(invoke: () => Promise<T>): Promise<T> {
    const trial = this.admit();
    try {
      const result = await invoke();
      this.answered();
      return result;
    } catch (error) {
      if (error instanceof RetryableError) this.failed(trial, error);
      else this.answered();
      throw error;
    } finally {
      if (trial) this.trialOut = false;
    }
  }

  /** Lets the call through (true when it is the half-open trial) or throws at once. */
  private admit(): boolean {
    if (!this.open) return false;
    const left = this.openUntil - this.clock.now();
    if (left > 0) {
      throw new RetryableError(
        'payment_circuit_open',
        `payment provider failing: calls paused for ${left} ms`,
        left,
      );
    }
    if (this.trialOut) {
      throw new RetryableError(
        'payment_circuit_open',
        'payment provider failing: a trial call is out',
        TRIAL_WAIT_MS,
      );
    }
    this.trialOut = true;
    return true;
  }

  private answered(): void {
    this.open = false;
    this.failures = 0;
    this.openFor = this.baseOpenMs;
  }

  private failed(trial: boolean, error: RetryableError): void {
    if (trial) {
      this.openFor = Math.min(this.openFor * 2, this.maxOpenMs);
      this.trip();
      return;
    }
    // Calls that were already out when the circuit opened change nothing.
    if (this.open || error.code === 'payment_circuit_open') return;
    this.failures += 1;
    if (this.failures >= this.failureThreshold) {
      this.openFor = this.baseOpenMs;
      this.trip();
    }
  }

  private trip(): void {
    const wasOpen = this.open;
    this.open = true;
    this.openUntil = this.clock.now() + this.openFor;
    this.failures = 0;
    if (!wasOpen) for (const listener of this.tripListeners) listener();
  }
}
