import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Channel } from '../../core/config';
import type { ProviderConfig } from '../../core/providers';
import type { ProviderReceipt } from '../../db/messages';

export type { ProviderReceipt };

/** One message handed to a channel provider. `sendId` is the idempotency key: a provider must
 * accept a resubmission with the same sendId without sending twice. */
export interface OutgoingMessage {
  messageId: string;
  sendId: string;
  channel: Channel;
  recipient: string;
  sender: string | null;
  text: string | null;
  payload: Record<string, unknown> | null;
  /** When the sending lifetime ends (SMPP validity_period, retry budget). */
  deliveryEndAt: Date;
}

/** `detail`: the provider's request and answer in a line (e.g. `POST /messages → 200 id=…`), kept
 * in the message's event log with the provider's secrets redacted. */
export type SubmitResult =
  | { messageId: string; outcome: 'accepted'; providerMessageId: string; detail?: string }
  /** Permanent refusal: the message ends ERROR. */
  | { messageId: string; outcome: 'rejected'; reason: string; detail?: string }
  /** Throttled or unavailable: retried with backoff within the lifetime. */
  | { messageId: string; outcome: 'transient'; reason: string; retryAfterMs?: number; detail?: string };

export interface ChannelProvider {
  /** Stored on each message (`provider` column) and used in webhook paths. */
  readonly name: string;
  readonly channel: Channel;
  /** The most messages one `submit` call takes (default: a whole page, 500). A slow provider
   * declares a small batch: a pause or cancel is checked between batches. */
  readonly maxBatchSize?: number;
  /**
   * Hands a batch to the provider and answers for each message (a message left unanswered goes
   * back to be claimed again). Must finish within SUBMIT_MARGIN_MS (db/dispatch.ts): time out
   * requests well below it, answering `transient` for what did not get through.
   */
  submit(batch: readonly OutgoingMessage[], signal?: AbortSignal): Promise<SubmitResult[]>;
}

/** A channel's providers: which one sends a message depends on its sender and, for a chat, its
 * messenger (core/providers.ts#routeProvider). Undefined: none serves it. */
export interface ChannelRoutes {
  readonly channel: Channel;
  forMessage(message: { sender: string | null; payload: Record<string, unknown> | null }): ChannelProvider | undefined;
}

export type ProviderRegistry = Partial<Record<Channel, ChannelProvider | ChannelRoutes>>;

export function isChannelRoutes(entry: ChannelProvider | ChannelRoutes): entry is ChannelRoutes {
  return typeof (entry as ChannelRoutes).forMessage === 'function';
}

/** What a worker gives an adapter's connection. */
export interface ProviderContext {
  config: ProviderConfig;
  pool: Pool;
  logger: Logger;
  /** `<PUBLIC_URL>/webhooks/<channel>/<provider name>`: where this provider's callbacks go. */
  webhookUrl(channel: Channel): string;
  /** Records receipts that arrive over the provider's own connection (SMPP deliver_sm). */
  applyReceipts(channel: Channel, receipts: readonly ProviderReceipt[]): Promise<void>;
}

/** One configured provider's client: one connection (an SMPP bind, an SMTP pool) shared by the
 * channels it serves. */
export interface ProviderClient {
  readonly maxBatchSize?: number;
  /** Connects (SMPP binds here); a failure stops the worker's start with the reason. */
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** Messages of one channel; `signal` aborts when the provider's timeoutMs runs out or the worker stops. */
  submit(batch: readonly OutgoingMessage[], signal: AbortSignal): Promise<SubmitResult[]>;
}

/** A provider's callback, as the API received it. */
export interface WebhookRequest {
  method: 'GET' | 'POST';
  channel: Channel;
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  rawBody: Buffer;
}

/** What the API answers a callback, and the receipts it carries (applied before the answer). */
export interface WebhookAnswer {
  status?: number;
  /** A string goes as text/plain (WhatsApp's hub.challenge), anything else as JSON. */
  body?: unknown;
  receipts?: ProviderReceipt[];
}

/** A callback refused: a bad signature (401) or a body that is not the provider's (400). */
export class WebhookRejected extends Error {
  constructor(
    readonly status: 400 | 401 | 404,
    message: string,
  ) {
    super(message);
  }
}

export interface WebhookContext {
  config: ProviderConfig;
  /** WEBHOOK_SECRET: the HMAC key of providers that sign with a shared secret of ours. */
  webhookSecret: string;
}

/**
 * A provider type: its settings (checked when a process starts, errors naming the setting), the
 * client the worker runs, and, for providers that call back, the webhook the API serves.
 */
export interface ProviderAdapter<Settings = unknown> {
  readonly type: string;
  readonly settings: z.ZodType<Settings>;
  createClient(settings: Settings, ctx: ProviderContext): ProviderClient;
  webhook?(settings: Settings, ctx: WebhookContext): (req: WebhookRequest) => Promise<WebhookAnswer> | WebhookAnswer;
}

/** Declares an adapter with its settings type inferred from the schema. */
export function defineAdapter<Schema extends z.ZodType>(adapter: ProviderAdapter<z.infer<Schema>> & { settings: Schema }): ProviderAdapter<unknown> {
  return adapter as unknown as ProviderAdapter<unknown>;
}
