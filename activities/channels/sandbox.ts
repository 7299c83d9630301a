import { EventEmitter } from 'node:events';
import type { Pool } from 'pg';
import { CHANNELS, type Channel } from '../../core/config';
import type { MessageStatus } from '../../core/status';
import { applyStatusChanges } from '../../db/messages';
import { z } from 'zod';
import { defineAdapter, type ChannelProvider, type OutgoingMessage, type ProviderRegistry, type SubmitResult } from './types';

/**
 * The built-in sandbox provider (shared/API.md, "Sandbox numbers"): the recipient's last digit
 * decides the outcome, so every status and fallback can be demonstrated without a carrier.
 * Its receipts are stored in `sandbox_receipts` with the time they fall due, the way a carrier
 * holds them, and `SandboxCarrier` delivers them through the same path as real webhooks.
 */
export function sandboxOutcomeDigit(recipient: string): string {
  const local = recipient.includes('@') ? recipient.slice(0, recipient.indexOf('@')) : recipient;
  const digits = local.match(/\d/g);
  return digits ? digits[digits.length - 1]! : '';
}

const TRANSIENT_FAILURES_BEFORE_SUCCESS = 2;

export class SandboxProvider implements ChannelProvider {
  readonly name = 'sandbox';
  /** Submissions refused so far per send id (digit 4: throttled twice, then accepted). */
  private readonly transientFailures = new Map<string, number>();

  constructor(
    readonly channel: Channel,
    private readonly pool: Pool,
    private readonly latencyMs: number,
    /** Off, it behaves like a provider without idempotency keys: a resubmitted send id is sent (and
     * receipted) again — still counted in `sandbox_submissions.duplicates`, which is how tests see
     * that the engine alone never submits a row twice. */
    private readonly deduplicate = true,
  ) {}

  async submit(batch: readonly OutgoingMessage[]): Promise<SubmitResult[]> {
    const results: SubmitResult[] = [];
    const receipts: { messageId: string; status: MessageStatus; description: string; dueInMs: number }[] = [];
    for (const message of batch) {
      const digit = sandboxOutcomeDigit(message.recipient);
      if (digit === '2') {
        results.push({ messageId: message.messageId, outcome: 'rejected', reason: 'sandbox: permanent error at submit' });
        continue;
      }
      if (digit === '4') {
        const failures = this.transientFailures.get(message.sendId) ?? 0;
        if (failures < TRANSIENT_FAILURES_BEFORE_SUCCESS) {
          this.transientFailures.set(message.sendId, failures + 1);
          const reason = failures === 0 ? 'sandbox: throttled (429)' : 'sandbox: service unavailable (503)';
          results.push({ messageId: message.messageId, outcome: 'transient', reason, retryAfterMs: 50 });
          continue;
        }
        this.transientFailures.delete(message.sendId);
      }
      results.push({ messageId: message.messageId, outcome: 'accepted', providerMessageId: `sandbox-${message.sendId}` });
      if (digit === '1') receipts.push({ messageId: message.messageId, status: 'UNDELIVERED', description: 'sandbox: not delivered', dueInMs: this.latencyMs });
      else if (digit === '3') continue; // accepted, but no receipt ever: the lifetime decides
      else {
        receipts.push({ messageId: message.messageId, status: 'DELIVERED', description: 'sandbox: delivered', dueInMs: this.latencyMs });
        if (digit === '5') receipts.push({ messageId: message.messageId, status: 'READ', description: 'sandbox: read', dueInMs: this.latencyMs * 2 });
      }
    }
    const accepted = results.filter((r) => r.outcome === 'accepted');
    if (accepted.length === 0) return results;
    const sendIds = new Map(batch.map((m) => [m.messageId, m.sendId]));
    // One statement: each send id is accepted once (a resubmission is acknowledged with the same
    // provider id but not sent again, and schedules no second receipt), and the receipts of the
    // fresh ones are scheduled with it.
    const { rows: fresh } = await this.pool.query<{ message_id: string }>(
      `with incoming as (select * from unnest($1::text[], $2::uuid[]) as s(send_id, message_id)),
       dup as (update sandbox_submissions d set duplicates = d.duplicates + 1 from incoming i where d.send_id = i.send_id returning d.send_id),
       fresh as (
         insert into sandbox_submissions (send_id, message_id)
         select send_id, message_id from incoming where send_id not in (select send_id from dup)
         on conflict do nothing
         returning message_id),
       scheduled as (
         insert into sandbox_receipts (message_id, status, description, due_at)
         select id, status, description, now() + make_interval(secs => delay_ms / 1000.0)
         from unnest($3::uuid[], $4::text[], $5::text[], $6::int[]) as r(id, status, description, delay_ms)
         where not $7 or id in (select message_id from fresh)
         on conflict (message_id, status) do update set due_at = excluded.due_at)
       select message_id from fresh`,
      [
        accepted.map((r) => sendIds.get(r.messageId)!),
        accepted.map((r) => r.messageId),
        receipts.map((r) => r.messageId),
        receipts.map((r) => r.status),
        receipts.map((r) => r.description),
        receipts.map((r) => r.dueInMs),
        this.deduplicate,
      ],
    );
    const freshIds = new Set(fresh.map((r) => r.message_id));
    const due = this.deduplicate ? receipts.filter((r) => freshIds.has(r.messageId)) : receipts;
    if (due.length > 0) receiptsScheduled.emit('scheduled', Date.now() + Math.min(...due.map((r) => r.dueInMs)));
    return results;
  }
}

export function sandboxProviders(pool: Pool, latencyMs: number, options: { deduplicate?: boolean } = {}): ProviderRegistry {
  return Object.fromEntries(CHANNELS.map((channel) => [channel, new SandboxProvider(channel, pool, latencyMs, options.deduplicate ?? true)]));
}

/** The sandbox as a configured provider (`"type": "sandbox"`), e.g. to route one sender's messages
 * to it while the channel's other senders go to a real carrier. */
export const sandboxAdapter = defineAdapter({
  type: 'sandbox',
  settings: z.object({ latencyMs: z.number().int().min(0).default(200) }).strict(),
  createClient(settings, ctx) {
    const byChannel = new Map<Channel, SandboxProvider>();
    return {
      submit(batch) {
        const channel = batch[0]!.channel;
        if (!byChannel.has(channel)) byChannel.set(channel, new SandboxProvider(channel, ctx.pool, settings.latencyMs));
        return byChannel.get(channel)!.submit(batch);
      },
    };
  },
});

/** Receipts were scheduled in this process, the first due at the time given (epoch ms): its
 * carrier's leading loop wakes for it if it would sleep past it. */
const receiptsScheduled = new EventEmitter();
receiptsScheduled.setMaxListeners(0);

/** With nothing due soon, the carrier looks again this often (receipts scheduled by another process). */
const CARRIER_IDLE_MS = 2000;
/** After a pass that did not fill its batch, the least the carrier waits before the next: receipts
 * falling due meanwhile go out together, as a carrier's reports arrive in batches. Waking for every
 * submission instead cost four round trips a pass for a few receipts each — at 4,000 messages a
 * second about 9,000 statements a second that found nothing due. */
const CARRIER_PASS_INTERVAL_MS = 25;

/** Delivers the sandbox's due receipts in batches, as a carrier's delivery reports would arrive. A
 * leading loop sleeps until the next receipt falls due (at least CARRIER_PASS_INTERVAL_MS, at most
 * CARRIER_IDLE_MS: receipts scheduled by another process), woken earlier by receipts scheduled here
 * that fall due sooner. A backlog — a full batch — is worked by `concurrency` loops side by side
 * (each takes its own receipts, SKIP LOCKED): one loop applying every receipt of a fast campaign fell
 * seconds behind the dispatchers. The helpers sleep until the leader finds a backlog. */
export class SandboxCarrier {
  private running?: Promise<void>;
  private stopped = false;
  /** Ends the leading loop's sleep at the time given (epoch ms), or now, if that is sooner. */
  private wakeLeader?: (at: number) => void;
  /** The earliest due time scheduled here since the leader last read the next one from the table:
   * a receipt scheduled while the leader is at the database finds no sleep to end, and the read
   * may have missed it. */
  private scheduledDueAt = Infinity;
  private readonly idleHelpers = new Set<() => void>();

  constructor(
    private readonly pool: Pool,
    private readonly batchSize = 1000,
    private readonly concurrency = 3,
  ) {}

  start(): void {
    const onScheduled = (dueAt: number) => {
      this.scheduledDueAt = Math.min(this.scheduledDueAt, dueAt);
      this.wakeLeader?.(dueAt);
    };
    receiptsScheduled.on('scheduled', onScheduled);
    const helpers = Array.from({ length: this.concurrency - 1 }, () => this.help());
    this.running = Promise.all([this.lead(), ...helpers]).then(() => {
      receiptsScheduled.off('scheduled', onScheduled);
    });
  }

  private wakeHelpers(): void {
    for (const wake of [...this.idleHelpers]) wake();
  }

  private async lead(): Promise<void> {
    while (!this.stopped) {
      let waitMs = CARRIER_IDLE_MS;
      try {
        if ((await this.deliverDue()) === this.batchSize) {
          // A backlog: the helpers join in, and this loop goes on without waiting.
          this.wakeHelpers();
          continue;
        }
        this.scheduledDueAt = Infinity;
        waitMs = Math.max(CARRIER_PASS_INTERVAL_MS, await this.untilNextDue());
      } catch {
        // Postgres briefly unavailable: the receipts stay in the table and go out on a later pass.
      }
      const earliest = Date.now() + CARRIER_PASS_INTERVAL_MS;
      await new Promise<void>((resolve) => {
        // Stopped while this loop was at the database: stop() found no sleep to end.
        if (this.stopped) return resolve();
        let wakeAt = Infinity;
        let timer: NodeJS.Timeout | undefined;
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        const sleepUntil = (at: number) => {
          if (this.stopped) return done();
          const next = Math.max(at, earliest);
          if (next >= wakeAt) return;
          wakeAt = next;
          clearTimeout(timer);
          timer = setTimeout(done, Math.max(0, next - Date.now()));
        };
        sleepUntil(Date.now() + waitMs);
        sleepUntil(this.scheduledDueAt);
        this.wakeLeader = sleepUntil;
      });
      this.wakeLeader = undefined;
    }
  }

  private async help(): Promise<void> {
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        if (this.stopped) return resolve();
        const done = () => {
          this.idleHelpers.delete(done);
          resolve();
        };
        this.idleHelpers.add(done);
      });
      try {
        while (!this.stopped && (await this.deliverDue()) === this.batchSize) {
          // a full batch: more are due, keep going
        }
      } catch {
        // as in lead(): a later pass takes them
      }
    }
  }

  /** Milliseconds until the next receipt falls due (at most CARRIER_IDLE_MS). */
  private async untilNextDue(): Promise<number> {
    const { rows } = await this.pool.query<{ ms: number | null }>(
      'select extract(epoch from (min(due_at) - clock_timestamp())) * 1000 as ms from sandbox_receipts',
    );
    const ms = rows[0]?.ms;
    return ms === null || ms === undefined ? CARRIER_IDLE_MS : Math.max(0, Math.min(CARRIER_IDLE_MS, Math.ceil(ms)));
  }

  /** Takes due receipts and applies them in one transaction: none lost, none applied twice. */
  async deliverDue(): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const { rows } = await client.query<{ message_id: string; status: MessageStatus; description: string }>(
        // The locking pick runs once, as an InitPlan, whatever the plan around it. Written as
        // "(…) in (select … for update skip locked)", three carrier loops were once found minutes
        // into one statement each, all in row locking (they skip each other's rows), with 40,000
        // receipts due and none applied: a join that ran the pick again per row.
        `delete from sandbox_receipts where ctid = any(array(
           select ctid from sandbox_receipts where due_at <= now()
           order by due_at limit $1 for update skip locked))
         returning message_id, status, description, due_at`,
        [this.batchSize],
      );
      rows.sort((a, b) => RECEIPT_ORDER.indexOf(a.status) - RECEIPT_ORDER.indexOf(b.status));
      if (rows.length > 0) {
        await applyStatusChanges(
          client,
          rows.map((r) => ({ messageId: r.message_id, status: r.status, description: r.description })),
          'provider:sandbox',
        );
      }
      await client.query('commit');
      return rows.length;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeHelpers();
    this.wakeLeader?.(Date.now());
    await this.running;
  }
}

const RECEIPT_ORDER: MessageStatus[] = ['PENDING', 'DELIVERED', 'UNDELIVERED', 'READ'];
