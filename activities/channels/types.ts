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
  submit(batch: readonly OutgoingMessage[]): Promise<SubmitResult[]>;
}

export type ProviderRegistry = Partial<Record<Channel, ChannelProvider>>;
