import client from 'prom-client';
import type { MessageStatus } from '../core/status';

/**
 * Engine metrics recorded where the work happens (dispatch in the worker, receipts in the worker
 * and the API). The API's `/metrics` serves them with its own; a worker on its own serves them on
 * WORKER_METRICS_PORT.
 */
export const engineMetrics = new client.Registry();

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
