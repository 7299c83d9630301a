import type { Channel } from '../../core/config';

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

export type SubmitResult =
  | { messageId: string; outcome: 'accepted'; providerMessageId: string }
  /** Permanent refusal: the message ends ERROR. */
  | { messageId: string; outcome: 'rejected'; reason: string }
  /** Throttled or unavailable: retried with backoff within the lifetime. */
  | { messageId: string; outcome: 'transient'; reason: string; retryAfterMs?: number };

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
  submit(batch: readonly OutgoingMessage[]): Promise<SubmitResult[]>;
}

export type ProviderRegistry = Partial<Record<Channel, ChannelProvider>>;
