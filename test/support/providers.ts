import type { Pool } from 'pg';
import { SandboxProvider, sandboxProviders } from '../../activities/channels/sandbox';
import type { ChannelProvider, OutgoingMessage, ProviderRegistry, SubmitResult } from '../../activities/channels/types';
import { CHANNELS, type Channel } from '../../core/config';

/**
 * Providers with the behaviours of real ones that tests need to provoke (slow calls, answers held
 * back, a recipient the carrier keeps throttling), each built on the sandbox so what reaches the
 * "carrier" is still counted in `sandbox_submissions`.
 */
export abstract class ProviderAround implements ChannelProvider {
  readonly name: string;
  readonly channel: Channel;
  constructor(protected readonly inner: ChannelProvider) {
    this.name = inner.name;
    this.channel = inner.channel;
  }
  abstract submit(batch: readonly OutgoingMessage[]): Promise<SubmitResult[]>;
}

/** A provider whose every call takes `delayMs` and carries at most `batch` messages (an HTTP API). */
export class SlowProvider extends ProviderAround {
  constructor(
    inner: ChannelProvider,
    readonly maxBatchSize: number,
    private readonly delayMs: number,
  ) {
    super(inner);
  }
  async submit(batch: readonly OutgoingMessage[]): Promise<SubmitResult[]> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    return this.inner.submit(batch);
  }
}

/** Answers "try later" (429 with Retry-After) for the recipients `throttles` picks, `times` times
 * each (forever by default); the others go through. */
export class ThrottlingProvider extends ProviderAround {
  private readonly refusals = new Map<string, number>();
  constructor(
    inner: ChannelProvider,
    private readonly throttles: (recipient: string) => boolean,
    private readonly retryAfterMs: number,
    private readonly times = Infinity,
  ) {
    super(inner);
  }
  async submit(batch: readonly OutgoingMessage[]): Promise<SubmitResult[]> {
    const refused = batch.filter((m) => this.throttles(m.recipient) && (this.refusals.get(m.sendId) ?? 0) < this.times);
    for (const m of refused) this.refusals.set(m.sendId, (this.refusals.get(m.sendId) ?? 0) + 1);
    const passed = await this.inner.submit(batch.filter((m) => !refused.includes(m)));
    return [
      ...passed,
      ...refused.map((m) => ({ messageId: m.messageId, outcome: 'transient' as const, reason: 'carrier: throttled (429)', retryAfterMs: this.retryAfterMs })),
    ];
  }
}

/** Holds its answers back while armed: the carrier got the message, but we have not heard yet.
 * Answers with its own provider ids, `gated-<send id>`, known to the test in advance. */
export class GatedProvider extends ProviderAround {
  override readonly name = 'gated';
  private gate?: { reached: (batch: readonly OutgoingMessage[]) => void; opened: Promise<void> };

  static providerMessageId(sendId: string): string {
    return `gated-${sendId}`;
  }

  /** Holds the next batch: `reached` resolves when it arrives, `release()` lets its answers go. */
  arm(): { reached: Promise<readonly OutgoingMessage[]>; release: () => void } {
    let release!: () => void;
    let reached!: (batch: readonly OutgoingMessage[]) => void;
    const arrived = new Promise<readonly OutgoingMessage[]>((resolve) => (reached = resolve));
    const opened = new Promise<void>((resolve) => (release = resolve));
    this.gate = { reached, opened };
    return { reached: arrived, release };
  }

  async submit(batch: readonly OutgoingMessage[]): Promise<SubmitResult[]> {
    const gate = this.gate;
    this.gate = undefined;
    if (gate) {
      gate.reached(batch);
      await gate.opened;
    }
    const results = await this.inner.submit(batch);
    const sendIds = new Map(batch.map((m) => [m.messageId, m.sendId]));
    return results.map((r) => (r.outcome === 'accepted' ? { ...r, providerMessageId: GatedProvider.providerMessageId(sendIds.get(r.messageId)!) } : r));
  }
}

/** The sandbox on every channel, with `wrap` applied to the channels it names. */
export function sandboxWith(
  pool: Pool,
  wrap: Partial<Record<Channel, (sandbox: SandboxProvider) => ChannelProvider>>,
  options: { latencyMs?: number; deduplicate?: boolean } = {},
): ProviderRegistry {
  const base = sandboxProviders(pool, options.latencyMs ?? 100, { deduplicate: options.deduplicate });
  return Object.fromEntries(CHANNELS.map((channel) => [channel, wrap[channel]?.(base[channel] as SandboxProvider) ?? base[channel]]));
}
