import { Context, CancelledFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Channel } from '../core/config';
import { applyStatusChanges, claimForDispatch, type ClaimedMessage, type StatusChange, type TaskScope } from '../db/messages';
import type { OutgoingMessage, ProviderRegistry, SubmitResult } from './channels/types';
import { RateLimiter } from './rate-limiter';

export interface DispatchInput {
  taskId: string;
  channel: Channel;
  /** ISO time the current send window closes; dispatch stops there (undefined: never). */
  windowClosesAt?: string;
  partition?: { index: number; count: number };
}

export interface DispatchResult {
  submitted: number;
  rejected: number;
  /** True when dispatch stopped because the send window closed. */
  windowClosed: boolean;
}

interface DispatchCursor {
  afterSeq: number;
  submitted: number;
  rejected: number;
}

export const DISPATCH_PAGE_SIZE = 500;
const MAX_TRANSIENT_BACKOFF_MS = 5_000;

/** Sleeps, waking early when the activity is canceled. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Channel dispatch activities: run on the channel's own task queue, so the worker's rate limit
 * for that queue bounds the provider. One activity pages through a task's pending rows, 500 at a
 * time, and heartbeats its cursor: a retry after a crash resumes from the last page, and rows a
 * crashed attempt had claimed are resubmitted under the same send id.
 */
export function createDispatchActivities(deps: {
  pool: Pool;
  providers: ProviderRegistry;
  ratePerSecond?: Partial<Record<Channel, number>>;
}) {
  const limiters = new Map<Channel, RateLimiter>();
  for (const [channel, rate] of Object.entries(deps.ratePerSecond ?? {})) {
    if (rate && rate > 0) limiters.set(channel as Channel, new RateLimiter(rate));
  }

  const providerName = (channel: Channel) => deps.providers[channel]?.name ?? 'none';

  /** Records a round of provider answers at once, so receipts never overtake their SENT. */
  async function recordResults(channel: Channel, results: SubmitResult[]): Promise<void> {
    const provider = providerName(channel);
    const changes: StatusChange[] = [];
    for (const r of results) {
      if (r.outcome === 'accepted') changes.push({ messageId: r.messageId, status: 'SENT', providerMessageId: r.providerMessageId, provider });
      else if (r.outcome === 'rejected') changes.push({ messageId: r.messageId, status: 'ERROR', description: r.reason, provider });
    }
    if (changes.length > 0) await applyStatusChanges(deps.pool, changes, `provider:${provider}`);
  }

  /**
   * Submits a page and records each answer as it comes. Throttled / unavailable answers are
   * retried with backoff while the message's lifetime allows; what is left stays QUEUED and the
   * lifetime sweep ends it.
   */
  async function submitPage(claimed: ClaimedMessage[], channel: Channel, signal: AbortSignal): Promise<{ accepted: number; rejected: number }> {
    const provider = deps.providers[channel];
    const counts = { accepted: 0, rejected: 0 };
    if (!provider) {
      await recordResults(channel, claimed.map((m) => ({ messageId: m.id, outcome: 'rejected', reason: `no provider configured for ${channel}` })));
      counts.rejected = claimed.length;
      return counts;
    }
    let batch: OutgoingMessage[] = claimed.map((m) => ({
      messageId: m.id,
      sendId: m.sendId,
      channel,
      recipient: m.recipient,
      sender: m.sender,
      text: m.text,
      payload: m.payload,
      deliveryEndAt: m.deliveryEndAt,
    }));
    for (let attempt = 1; batch.length > 0; attempt++) {
      const results = await provider.submit(batch);
      await recordResults(channel, results);
      counts.accepted += results.filter((r) => r.outcome === 'accepted').length;
      counts.rejected += results.filter((r) => r.outcome === 'rejected').length;
      const transient = results.filter((r): r is Extract<SubmitResult, { outcome: 'transient' }> => r.outcome === 'transient');
      if (transient.length === 0 || signal.aborted) break;
      const wait = Math.min(MAX_TRANSIENT_BACKOFF_MS, Math.max(100 * 2 ** attempt, ...transient.map((r) => r.retryAfterMs ?? 0)));
      const retryIds = new Set(transient.map((r) => r.messageId));
      batch = batch.filter((m) => retryIds.has(m.messageId) && m.deliveryEndAt.getTime() > Date.now() + wait);
      if (batch.length === 0) break;
      Context.current().heartbeat();
      await sleep(wait, signal);
    }
    return counts;
  }

  /** Claims (within the channel's rate limit) and submits one page; undefined when nothing waits. */
  async function dispatchPage(
    scope: TaskScope,
    channel: Channel,
    signal: AbortSignal,
    page: { afterSeq?: number; partition?: { index: number; count: number } } = {},
  ): Promise<{ lastSeq: number; accepted: number; rejected: number } | undefined> {
    const limiter = limiters.get(channel);
    // With a rate limit, claim no more than a tenth of a second's worth: claimed rows start their
    // lifetime, so they should not wait long for tokens.
    const pageSize = limiter ? Math.max(1, Math.min(DISPATCH_PAGE_SIZE, Math.ceil(limiter.ratePerSecond / 10))) : DISPATCH_PAGE_SIZE;
    if (limiter) await limiter.take(pageSize, signal);
    if (signal.aborted) throw new CancelledFailure('dispatch canceled (task paused or canceled)');
    const claimed = await claimForDispatch(deps.pool, { scope, channel, afterSeq: page.afterSeq ?? 0, limit: pageSize, partition: page.partition });
    if (claimed.length === 0) return undefined;
    const counts = await submitPage(claimed, channel, signal);
    return { lastSeq: claimed[claimed.length - 1]!.seq, ...counts };
  }

  return {
    /** A campaign task's dispatch: pages through its rows on one channel (one partition of them). */
    async dispatchChannel(input: DispatchInput): Promise<DispatchResult> {
      const ctx = Context.current();
      const cursor: DispatchCursor = (ctx.info.heartbeatDetails as DispatchCursor | undefined) ?? { afterSeq: 0, submitted: 0, rejected: 0 };
      const closesAt = input.windowClosesAt ? new Date(input.windowClosesAt).getTime() : Infinity;
      for (;;) {
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('dispatch canceled (task paused or canceled)');
        if (Date.now() >= closesAt) return { submitted: cursor.submitted, rejected: cursor.rejected, windowClosed: true };
        const page = await dispatchPage({ taskId: input.taskId }, input.channel, ctx.cancellationSignal, { afterSeq: cursor.afterSeq, partition: input.partition });
        if (!page) return { submitted: cursor.submitted, rejected: cursor.rejected, windowClosed: false };
        cursor.afterSeq = page.lastSeq;
        cursor.submitted += page.accepted;
        cursor.rejected += page.rejected;
        ctx.heartbeat(cursor);
      }
    },

    /**
     * The notifications stream's dispatch on one channel: for `runForMs`, sends whatever API sends
     * are waiting, polling every STREAM_POLL_MS when idle. Many small tasks, one activity.
     */
    async streamChannel(input: { channel: Channel; runForMs: number }): Promise<{ submitted: number }> {
      const ctx = Context.current();
      const until = Date.now() + input.runForMs;
      let submitted = 0;
      while (Date.now() < until && !ctx.cancellationSignal.aborted) {
        const page = await dispatchPage({ stream: true }, input.channel, ctx.cancellationSignal);
        ctx.heartbeat();
        if (page) submitted += page.accepted;
        else await sleep(STREAM_POLL_MS, ctx.cancellationSignal);
      }
      return { submitted };
    },
  };
}

/** How often an idle stream looks for new API sends (the latency floor of a single send). */
export const STREAM_POLL_MS = 50;

export type DispatchActivities = ReturnType<typeof createDispatchActivities>;
