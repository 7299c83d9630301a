/**
 * A token bucket: at most `ratePerSecond` messages a second, with bursts up to one second's worth.
 * One per channel per worker process (CHANNEL_RATE_PER_SECOND is per worker: with N workers the
 * provider sees up to N times the rate).
 */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();

  constructor(readonly ratePerSecond: number) {
    this.tokens = ratePerSecond;
  }

  /** Waits until `count` messages may go; resolves early (with what is allowed) when aborted. */
  async take(count: number, signal?: AbortSignal): Promise<void> {
    let needed = count;
    while (needed > 0) {
      if (signal?.aborted) return;
      this.refill();
      const granted = Math.min(needed, Math.floor(this.tokens));
      if (granted > 0) {
        this.tokens -= granted;
        needed -= granted;
        continue;
      }
      const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000));
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }

  /** Takes up to `count` tokens without waiting; returns how many it took. */
  takeNow(count: number): number {
    this.refill();
    const granted = Math.max(0, Math.min(count, Math.floor(this.tokens)));
    this.tokens -= granted;
    return granted;
  }

  /** Milliseconds until one more token is there. */
  msUntilNext(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }
}
