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

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }
}
