import { Context, CancelledFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Channel } from '../core/config';
import { applyStatusChanges, claimForDispatch, type ClaimedMessage, type StatusChange } from '../db/messages';
import type { OutgoingMessage, ProviderRegistry, SubmitResult } from './channels/types';

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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

/**
 * Channel dispatch activities: run on the channel's own task queue, so the worker's rate limit
 * for that queue bounds the provider. One activity pages through a task's pending rows, 500 at a
 * time, and heartbeats its cursor: a retry after a crash resumes from the last page, and rows a
 * crashed attempt had claimed are resubmitted under the same send id.
 */
export function createDispatchActivities(deps: { pool: Pool; providers: ProviderRegistry }) {
  async function submitWithRetry(claimed: ClaimedMessage[], input: DispatchInput, signal: AbortSignal): Promise<SubmitResult[]> {
    const provider = deps.providers[input.channel];
    const outgoing = new Map<string, OutgoingMessage>(
      claimed.map((m) => [
        m.id,
        {
          messageId: m.id,
          sendId: m.sendId,
          channel: input.channel,
          recipient: m.recipient,
          sender: m.sender,
          text: m.text,
          payload: m.payload,
          deliveryEndAt: m.deliveryEndAt,
        },
      ]),
    );
    if (!provider) {
      return claimed.map((m) => ({ messageId: m.id, outcome: 'rejected', reason: `no provider configured for ${input.channel}` }));
    }
    const final: SubmitResult[] = [];
    let batch = [...outgoing.values()];
    let attempt = 0;
    while (batch.length > 0) {
      const results = await provider.submit(batch);
      const transient = results.filter((r) => r.outcome === 'transient');
      final.push(...results.filter((r) => r.outcome !== 'transient'));
      if (transient.length === 0) break;
      attempt += 1;
      const wait = Math.min(MAX_TRANSIENT_BACKOFF_MS, Math.max(...transient.map((r) => r.retryAfterMs ?? 0), 100 * 2 ** attempt));
      const retryBy = Date.now() + wait;
      // Retry within the lifetime only; what is left stays QUEUED and the lifetime sweep ends it.
      batch = transient.map((r) => outgoing.get(r.messageId)!).filter((m) => m.deliveryEndAt.getTime() > retryBy);
      if (batch.length === 0 || signal.aborted) break;
      Context.current().heartbeat();
      await sleep(wait, signal);
    }
    return final;
  }

  return {
    async dispatchChannel(input: DispatchInput): Promise<DispatchResult> {
      const ctx = Context.current();
      const cursor: DispatchCursor = (ctx.info.heartbeatDetails as DispatchCursor | undefined) ?? { afterSeq: 0, submitted: 0, rejected: 0 };
      const closesAt = input.windowClosesAt ? new Date(input.windowClosesAt).getTime() : Infinity;
      for (;;) {
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('dispatch canceled (task paused or canceled)');
        if (Date.now() >= closesAt) return { submitted: cursor.submitted, rejected: cursor.rejected, windowClosed: true };
        const claimed = await claimForDispatch(deps.pool, {
          taskId: input.taskId,
          channel: input.channel,
          afterSeq: cursor.afterSeq,
          limit: DISPATCH_PAGE_SIZE,
          partition: input.partition,
        });
        if (claimed.length === 0) return { submitted: cursor.submitted, rejected: cursor.rejected, windowClosed: false };
        const results = await submitWithRetry(claimed, input, ctx.cancellationSignal);
        const changes: StatusChange[] = results.map((r) =>
          r.outcome === 'accepted'
            ? { messageId: r.messageId, status: 'SENT', providerMessageId: r.providerMessageId }
            : { messageId: r.messageId, status: 'ERROR', description: r.outcome === 'rejected' ? r.reason : `gave up: ${r.reason}` },
        );
        await applyStatusChanges(deps.pool, changes, `provider:${deps.providers[input.channel]?.name ?? 'none'}`);
        await deps.pool.query('update messages set provider = $2 where id = any($1::uuid[]) and provider is null', [
          claimed.map((m) => m.id),
          deps.providers[input.channel]?.name ?? null,
        ]);
        cursor.afterSeq = claimed[claimed.length - 1]!.seq;
        cursor.submitted += results.filter((r) => r.outcome === 'accepted').length;
        cursor.rejected += results.filter((r) => r.outcome === 'rejected').length;
        ctx.heartbeat(cursor);
      }
    },
  };
}

export type DispatchActivities = ReturnType<typeof createDispatchActivities>;
