import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Channel } from '../core/config';
import { claimForDispatch, retryLater, returnClaims, type ClaimedMessage, type ClaimedPage, type ClaimRotation } from '../db/dispatch';
import { applyStatusChanges, type StatusChange } from '../db/messages';
import type { DispatchWakeups } from '../db/notify';
import type { TaskScope } from '../db/scope';
import { isChannelRoutes, type ChannelProvider, type OutgoingMessage, type ProviderRegistry, type SubmitResult } from './channels/types';
import { keepHeartbeating, sleep } from './heartbeat';
import { RateLimiter } from './rate-limiter';
import { recordHandOver } from './metrics';

export interface DispatchInput {
  taskId: string;
  channel: Channel;
  partition?: { index: number; count: number };
}

export interface DispatchResult {
  submitted: number;
  rejected: number;
  /** True when dispatch stopped because the task's send window is closed. */
  windowClosed: boolean;
}

export const DISPATCH_PAGE_SIZE = 500;
/** An idle stream dispatcher looks for work this often even without a notification: the safety
 * net for rows that become due by time alone (a window opening, a lapsed lease, a retry another
 * process scheduled). Its own retries it wakes up for on time. */
export const STREAM_IDLE_POLL_MS = 5000;
/** After a small page, the stream's dispatcher waits this long before claiming again, so that under
 * a steady flow of API sends each claim, hand-over and status change carries several sends instead
 * of one or two (each statement's fixed cost was most of PostgreSQL's work per send). A send
 * arriving to an idle dispatcher is still claimed at once. */
const STREAM_LINGER_MS = 10;
const STREAM_SMALL_PAGE = 50;
/** A provider's "try later" without a Retry-After waits 250 ms, doubling per attempt, up to this. */
const MAX_RETRY_DELAY_MS = 30_000;
/** Between two of a page's batches, the page's tasks are checked for a pause or cancel at most
 * this often: a slow provider's page stops within this of a pause, a fast one pays nothing. */
const CONTROL_CHECK_MS = 250;

/** A campaign dispatcher's claim cursor starts over this often (see dispatchChannel). */
const CURSOR_RESTART_MS = 5000;

export function retryDelayMs(attempts: number, retryAfterMs?: number): number {
  return Math.max(retryAfterMs ?? 0, Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** Math.max(0, attempts - 1)));
}

/** A name for one dispatch attempt, stored on the rows it claims (their owner). */
function newOwner(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * Channel dispatch activities: run on the channel's own task queue, so the worker's rate limit
 * for that queue bounds the provider. Every page goes through the same gate (db/dispatch.ts) and
 * the same hand-over, whether a campaign's workflow or the notifications stream asked for it.
 */
export function createDispatchActivities(deps: {
  pool: Pool;
  providers: ProviderRegistry;
  ratePerSecond?: Partial<Record<Channel, number>>;
  wakeups?: DispatchWakeups;
}) {
  const { pool } = deps;
  const limiters = new Map<Channel, RateLimiter>();
  for (const [channel, rate] of Object.entries(deps.ratePerSecond ?? {})) {
    if (rate && rate > 0) limiters.set(channel as Channel, new RateLimiter(rate));
  }

  /** Records a batch's answers: accepted → SENT, refused → ERROR, "try later" → back with a
   * not-before time. Returns the earliest retry time (local ms), if any. */
  async function recordAnswers(provider: ChannelProvider, owner: string, batch: readonly ClaimedMessage[], results: SubmitResult[]): Promise<number | undefined> {
    const source = `provider:${provider.name}`;
    const changes: StatusChange[] = [];
    const retries: { messageId: string; reason: string; delayMs: number }[] = [];
    const attempts = new Map(batch.map((m) => [m.id, m.attempts]));
    for (const r of results) {
      const reason = 'reason' in r ? (r.detail ? `${r.reason} (${r.detail})` : r.reason) : r.detail;
      if (r.outcome === 'accepted') changes.push({ messageId: r.messageId, status: 'SENT', description: reason ?? null, providerMessageId: r.providerMessageId, provider: provider.name });
      else if (r.outcome === 'rejected') changes.push({ messageId: r.messageId, status: 'ERROR', description: reason, provider: provider.name });
      else retries.push({ messageId: r.messageId, reason: reason!, delayMs: retryDelayMs(attempts.get(r.messageId) ?? 1, r.retryAfterMs) });
    }
    if (changes.length > 0) await applyStatusChanges(pool, changes, source);
    await retryLater(pool, owner, retries, source);
    const answered = new Set(results.map((r) => r.messageId));
    await returnClaims(pool, owner, batch.filter((m) => !answered.has(m.id)).map((m) => m.id));
    return retries.length > 0 ? Date.now() + Math.min(...retries.map((r) => r.delayMs)) : undefined;
  }

  /** Ids of the tasks among `taskIds` that are no longer running (paused, canceled, failed). */
  async function stoppedTasks(taskIds: string[]): Promise<Set<string>> {
    const { rows } = await pool.query(`select id from tasks where id = any($1::uuid[]) and status <> 'in_progress'`, [taskIds]);
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Hands a claimed page to the provider, in the provider's batch size. Nothing is handed over
   * once the attempt is stopped, once its lease runs short, or — checked between batches — once
   * the row's task has been paused or canceled; what is left goes back (db/dispatch.ts#returnClaims).
   */
  async function handOver(
    page: ClaimedPage,
    channel: Channel,
    owner: string,
    signal: AbortSignal,
  ): Promise<{ accepted: number; rejected: number; retryAt?: number }> {
    const counts: { accepted: number; rejected: number; retryAt?: number } = { accepted: 0, rejected: 0 };
    const entry = deps.providers[channel];
    if (!entry) {
      await applyStatusChanges(
        pool,
        page.messages.map((m) => ({ messageId: m.id, status: 'ERROR', description: `no provider configured for ${channel}` })),
        'dispatcher',
      );
      counts.rejected = page.messages.length;
      return counts;
    }
    // Each provider takes its own messages (routed by sender, and a chat by its messenger) in its
    // own batch size; a message no provider serves (a chat in a messenger none is set up for) fails.
    const batches: { provider: ChannelProvider; messages: ClaimedMessage[] }[] = [];
    const byProvider = new Map<ChannelProvider, ClaimedMessage[]>();
    const unserved: ClaimedMessage[] = [];
    for (const m of page.messages) {
      const provider = isChannelRoutes(entry) ? entry.forMessage(m) : entry;
      if (!provider) {
        unserved.push(m);
        continue;
      }
      if (!byProvider.has(provider)) byProvider.set(provider, []);
      byProvider.get(provider)!.push(m);
    }
    if (unserved.length > 0) {
      await applyStatusChanges(
        pool,
        unserved.map((m) => ({ messageId: m.id, status: 'ERROR', description: `no provider configured for ${channel}${typeof m.payload?.messenger === 'string' ? ` in ${m.payload.messenger}` : ''}` })),
        'dispatcher',
      );
      counts.rejected += unserved.length;
    }
    for (const [provider, messages] of byProvider) {
      const size = provider.maxBatchSize ?? DISPATCH_PAGE_SIZE;
      for (let i = 0; i < messages.length; i += size) batches.push({ provider, messages: messages.slice(i, i + size) });
    }
    let checkedAt = Date.now();
    let stopped = new Set<string>();
    /** Rows of tasks paused or canceled meanwhile: not handed over, given back. */
    const giveBack: string[] = [];
    while (batches.length > 0) {
      if (signal.aborted || Date.now() >= page.submitBefore) break;
      if (Date.now() - checkedAt >= CONTROL_CHECK_MS) {
        stopped = await stoppedTasks([...new Set(batches.flatMap((b) => b.messages.map((m) => m.taskId)))]);
        checkedAt = Date.now();
      }
      const { provider, messages } = batches.shift()!;
      const batch = messages.filter((m) => !stopped.has(m.taskId));
      giveBack.push(...messages.filter((m) => stopped.has(m.taskId)).map((m) => m.id));
      if (batch.length === 0) continue;
      const outgoing: OutgoingMessage[] = batch.map((m) => ({
        messageId: m.id,
        sendId: m.sendId,
        channel,
        recipient: m.recipient,
        sender: m.sender,
        text: m.text,
        payload: m.payload,
        deliveryEndAt: m.deliveryEndAt,
      }));
      const results = await provider.submit(outgoing, signal);
      recordHandOver(channel, outgoing.length);
      const retryAt = await recordAnswers(provider, owner, batch, results);
      if (retryAt !== undefined) counts.retryAt = Math.min(counts.retryAt ?? Infinity, retryAt);
      counts.accepted += results.filter((r) => r.outcome === 'accepted').length;
      counts.rejected += results.filter((r) => r.outcome === 'rejected').length;
    }
    // What was not handed over (stopped tasks, an aborted attempt, a lease running short) goes back.
    await returnClaims(pool, owner, [...giveBack, ...batches.flatMap((b) => b.messages.map((m) => m.id))]);
    return counts;
  }

  /** Claims (within the channel's rate limit) and hands over one page. */
  async function dispatchPage(
    scope: TaskScope,
    channel: Channel,
    owner: string,
    signal: AbortSignal,
    options: { partition?: { index: number; count: number }; rotation?: ClaimRotation; afterSeq?: number } = {},
  ): Promise<{ claimed: number; accepted: number; rejected: number; windowClosed: boolean; retryAt?: number; lastSeq?: number }> {
    const limiter = limiters.get(channel);
    // With a rate limit, claim no more than a tenth of a second's worth: claimed rows start their
    // lifetime, so they should not wait long for tokens.
    const pageSize = limiter ? Math.max(1, Math.min(DISPATCH_PAGE_SIZE, Math.ceil(limiter.ratePerSecond / 10))) : DISPATCH_PAGE_SIZE;
    if (limiter) await limiter.take(pageSize, signal);
    if (signal.aborted) return { claimed: 0, accepted: 0, rejected: 0, windowClosed: false };
    const page = await claimForDispatch(pool, { scope, channel, limit: pageSize, owner, ...options });
    if (page.messages.length === 0) return { claimed: 0, accepted: 0, rejected: 0, windowClosed: page.windowClosed };
    const counts = await handOver(page, channel, owner, signal);
    return { claimed: page.messages.length, ...counts, windowClosed: false, lastSeq: page.messages[page.messages.length - 1]!.seq };
  }

  return {
    /**
     * A campaign's dispatch on one channel (one partition of its rows, then any that are left):
     * claims and hands over pages until nothing of the task can be claimed now — all handed over,
     * the task paused or canceled, or its window closed. Returns early, giving back its claims, when the worker stops.
     */
    async dispatchChannel(input: DispatchInput): Promise<DispatchResult> {
      const ctx = Context.current();
      const owner = newOwner();
      const stopHeartbeat = keepHeartbeating();
      const result: DispatchResult = { submitted: 0, rejected: 0, windowClosed: false };
      // Pages are claimed forward from the last one (`afterSeq`); rows behind it that became
      // claimable again (given back, or due for a retry) are found when the cursor starts over:
      // every CURSOR_RESTART_MS, and before the dispatcher decides there is nothing left.
      let afterSeq: number | undefined;
      let cursorStarted = Date.now();
      const startOver = () => {
        afterSeq = undefined;
        cursorStarted = Date.now();
      };
      let partition = input.partition;
      try {
        while (!ctx.cancellationSignal.aborted) {
          if (Date.now() - cursorStarted >= CURSOR_RESTART_MS) startOver();
          const page = await dispatchPage({ taskId: input.taskId }, input.channel, owner, ctx.cancellationSignal, { partition, afterSeq });
          result.submitted += page.accepted;
          result.rejected += page.rejected;
          if (page.claimed === 0) {
            if (afterSeq !== undefined && !page.windowClosed) {
              startOver();
              continue;
            }
            if (partition && partition.count > 1 && !page.windowClosed) {
              // Its own share is done: it helps with the other partitions' rows (SKIP LOCKED keeps
              // claims apart), so the channel's last rows do not wait for its slowest dispatcher
              // alone — the last 3,000 rows of a 100,000-row campaign took 9 s that way.
              partition = undefined;
              startOver();
              continue;
            }
            result.windowClosed = page.windowClosed;
            break;
          }
          afterSeq = page.lastSeq;
        }
      } finally {
        stopHeartbeat();
      }
      return result;
    },

    /**
     * The notifications stream's dispatch on one channel, until `until` (ISO): hands over the
     * waiting rows of every running API send, a fair share of each page per task; when there is
     * nothing, waits for a notification of new rows (or STREAM_IDLE_POLL_MS).
     */
    async streamChannel(input: { channel: Channel; until: string }): Promise<{ submitted: number }> {
      const ctx = Context.current();
      const until = new Date(input.until).getTime();
      const owner = newOwner();
      const rotation: ClaimRotation = { after: null };
      const stopHeartbeat = keepHeartbeating();
      let submitted = 0;
      let retryAt = Infinity;
      try {
        while (Date.now() < until && !ctx.cancellationSignal.aborted) {
          if (retryAt <= Date.now()) retryAt = Infinity; // due: this claim takes those rows
          const announced = deps.wakeups?.mark(input.channel);
          const page = await dispatchPage({ stream: true }, input.channel, owner, ctx.cancellationSignal, { rotation });
          submitted += page.accepted;
          if (page.retryAt !== undefined) retryAt = Math.min(retryAt, page.retryAt);
          if (page.claimed >= STREAM_SMALL_PAGE) continue;
          if (page.claimed > 0) {
            await sleep(STREAM_LINGER_MS, ctx.cancellationSignal);
            continue;
          }
          const idle = Math.max(0, Math.min(STREAM_IDLE_POLL_MS, until - Date.now(), retryAt + 20 - Date.now()));
          if (deps.wakeups) await deps.wakeups.wait(input.channel, idle, ctx.cancellationSignal, announced);
          else await sleep(idle, ctx.cancellationSignal);
        }
      } finally {
        stopHeartbeat();
      }
      return { submitted };
    },
  };
}

export type DispatchActivities = ReturnType<typeof createDispatchActivities>;
