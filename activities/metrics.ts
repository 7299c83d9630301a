import client from 'prom-client';
import type { MessageStatus } from '../core/status';

/**
 * Engine metrics recorded where the work happens (dispatch in the worker, receipts in the worker
 * and the API). The API's `/metrics` serves them with its own; a worker on its own serves them on
 * WORKER_METRICS_PORT.
 */
export const engineMetrics = new client.Registry();

let sdkMetricsUrl: string | undefined;
/** Where the Temporal SDK's runtime serves its metrics in this process (worker/worker.ts). */
export function setSdkMetricsUrl(url: string): void {
  sdkMetricsUrl = url;
}

/** The engine's metrics and, in a process that runs workers, the Temporal SDK's (workflow and
 * activity task latencies, slots, polls), as one Prometheus text. */
export async function engineMetricsText(): Promise<string> {
  const own = await engineMetrics.metrics();
  if (!sdkMetricsUrl) return own;
  const sdk = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(2000) }).then(
    (res) => (res.ok ? res.text() : ''),
    () => '',
  );
  return `${own}\n${sdk}`;
}

const providerRequests = new client.Histogram({
  name: 'provider_request_seconds',
  help: 'Time of one submit request to a provider (a batch of messages)',
  labelNames: ['provider', 'channel'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [engineMetrics],
});
const providerMessages = new client.Counter({
  name: 'provider_messages_total',
  help: 'Messages handed to a provider, by its answer: submitted (all), accepted, rejected (permanent), transient (retried)',
  labelNames: ['provider', 'channel', 'outcome'],
  registers: [engineMetrics],
});
const providerReceipts = new client.Counter({
  name: 'provider_receipts_total',
  help: 'Delivery receipts received from a provider, by the status they report',
  labelNames: ['provider', 'channel', 'status'],
  registers: [engineMetrics],
});

export function recordSubmit(provider: string, channel: string, seconds: number, counts: { submitted: number; accepted: number; rejected: number; transient: number }): void {
  providerRequests.observe({ provider, channel }, seconds);
  for (const [outcome, n] of Object.entries(counts)) if (n > 0) providerMessages.inc({ provider, channel, outcome }, n);
}

export function recordReceipts(provider: string, channel: string, statuses: readonly MessageStatus[]): void {
  const counts = new Map<MessageStatus, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  for (const [status, n] of counts) providerReceipts.inc({ provider, channel, status }, n);
}

// What an engineer graphs (docs/metrics.md lists them with their queries). The statements that
// change statuses return what they changed, so counting costs no query of its own.

const statusChanges = new client.Counter({
  name: 'messages_status_changes_total',
  help: 'Messages that reached a status, by channel and that status (CREATED: registered)',
  labelNames: ['channel', 'status'],
  registers: [engineMetrics],
});
const handedOver = new client.Counter({
  name: 'dispatch_handed_over_total',
  help: 'Messages handed to a provider by the dispatchers (every attempt), by channel',
  labelNames: ['channel'],
  registers: [engineMetrics],
});
const claimLag = new client.Histogram({
  name: 'dispatch_claim_lag_seconds',
  help: 'From when a row could first be sent (registered, released, resumed, its retry time, its task started or its window opened) to its claim',
  labelNames: ['channel'],
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
  registers: [engineMetrics],
});
const receiptLatency = new client.Histogram({
  name: 'receipt_latency_seconds',
  help: 'From a message handed over (SENT) to the receipt that gave it its status, by channel and status',
  labelNames: ['channel', 'status'],
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600],
  registers: [engineMetrics],
});
const sweepDuration = new client.Histogram({
  name: 'sweep_seconds',
  help: 'One sweep (lapsed claims, lifetimes, fallbacks, windows), by scope: a campaign or the stream',
  labelNames: ['scope'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [engineMetrics],
});

/** Rows that reached a status, grouped by channel and status until they are recorded: what a
 * statement returned, or what a COPY wrote before its transaction committed. */
export class StatusTally {
  private readonly counts = new Map<string, number>();

  add(channel: string, status: string, n = 1): void {
    const key = `${channel}\u0000${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  /** Adds the tally to messages_status_changes_total and empties it. */
  record(): void {
    for (const [key, n] of this.counts) {
      const [channel, status] = key.split('\u0000') as [string, string];
      statusChanges.inc({ channel, status }, n);
    }
    this.counts.clear();
  }
}

/** Counts rows that reached a status, as a statement returned them (one entry per row, or
 * grouped with `n`). */
export function countStatusChanges(rows: readonly { channel: string; status: string; n?: number }[]): void {
  const tally = new StatusTally();
  for (const r of rows) tally.add(r.channel, r.status, r.n);
  tally.record();
}

export function recordHandOver(channel: string, messages: number): void {
  if (messages > 0) handedOver.inc({ channel }, messages);
}

export function recordClaimLag(channel: string, lagSeconds: readonly number[]): void {
  const child = claimLag.labels({ channel });
  for (const s of lagSeconds) child.observe(Math.max(0, s));
}

export function recordReceiptLatency(rows: readonly { channel: string; status: string; seconds: number | null }[]): void {
  for (const r of rows) if (r.seconds !== null) receiptLatency.observe({ channel: r.channel, status: r.status }, Math.max(0, r.seconds));
}

export function timeSweep(scope: 'campaign' | 'stream'): () => void {
  return sweepDuration.startTimer({ scope });
}

/** Rows waiting, in flight and held, as each task's latest sweep saw them (a campaign's workflow
 * sweeps it every 1–15 s; the stream's sweep reports the API sends' every 5 s). Kept per task so a
 * finished task drops out; summed at scrape time. */
const progressByTask = new Map<string, { waiting: number; inFlight: number; held: number }>();

export function recordTaskProgress(taskId: string, progress: { waiting: number; inFlight: number; held: number }): void {
  if (progress.waiting + progress.inFlight + progress.held === 0) progressByTask.delete(taskId);
  else progressByTask.set(taskId, { waiting: progress.waiting, inFlight: progress.inFlight, held: progress.held });
}

function rowGauge(name: string, help: string, pick: (c: { waiting: number; inFlight: number; held: number }) => number) {
  return new client.Gauge({
    name,
    help,
    registers: [engineMetrics],
    collect() {
      let sum = 0;
      for (const progress of progressByTask.values()) sum += pick(progress);
      this.set(sum);
    },
  });
}
rowGauge('messages_waiting', 'Rows released and not handed over yet (to send now, paused, delayed, or waiting to retry)', (c) => c.waiting);
rowGauge('messages_in_flight', 'Rows handed to a provider and waiting for a receipt or the end of their lifetime', (c) => c.inFlight);
rowGauge('messages_held', 'Fallback rows held until the earlier channels end', (c) => c.held);
