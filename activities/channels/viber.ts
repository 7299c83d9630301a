import { z } from 'zod';
import type { MessageStatus } from '../../core/status';
import { clip, hmacSha256Hex, httpRequest, idString, isSuccess, isTransientStatus, msisdn, noAnswerReason, parseJsonKeepingBigIntegers, parseRetryAfter, sendEach, signatureMatches } from './http-answer';
import { defineAdapter, WebhookRejected, type OutgoingMessage, type ProviderReceipt, type SubmitResult } from './types';

/**
 * Viber Business Messages through an aggregator's JSON API (docs/providers/viber.md): one
 * `POST {baseUrl}/send` per message carrying text, image and button, our sendId as the client's
 * message id (the aggregator sends a repeated id once), and the remaining lifetime as ttl.
 * Viber's message tokens are 64-bit integers: kept as strings from the answer to the callbacks.
 */
const settingsSchema = z
  .object({
    baseUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).transform((url) => url.replace(/\/+$/, '')),
    authToken: z.string().min(1, 'required'),
    /** The header that carries authToken, and what goes before it (`Authorization: Bearer …`, `X-Api-Key: …`). */
    tokenHeader: z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name').default('Authorization'),
    tokenPrefix: z.string().default('Bearer '),
    /** The HMAC key of X-Viber-Content-Signature on callbacks; authToken when not set. */
    webhookSecret: z.string().min(1).optional(),
    /** The aggregator's service (account) id, when its API asks for one. */
    serviceId: z.string().min(1).optional(),
    /** Requests in flight at once; also the batch size the worker hands over. */
    concurrency: z.number().int().min(1).max(100).default(10),
  })
  .strict();

type ViberSettings = z.infer<typeof settingsSchema>;

/** Viber accepts a ttl from 30 seconds to 14 days. */
const MIN_TTL_SECONDS = 30;
const MAX_TTL_SECONDS = 14 * 24 * 3600;

export function viberTtlSeconds(deliveryEndAt: Date, now = Date.now()): number {
  return Math.min(MAX_TTL_SECONDS, Math.max(MIN_TTL_SECONDS, Math.floor((deliveryEndAt.getTime() - now) / 1000)));
}

export function viberRequestBody(message: OutgoingMessage, settings: ViberSettings, callbackUrl: string, now = Date.now()): Record<string, unknown> {
  const payload = message.payload ?? {};
  const optional = (key: string) => (typeof payload[key] === 'string' && payload[key] !== '' ? (payload[key] as string) : undefined);
  return {
    message_id: message.sendId,
    ...(settings.serviceId ? { service_id: settings.serviceId } : {}),
    sender: message.sender,
    phone: msisdn(message.recipient),
    text: message.text,
    image_url: optional('imageUrl'),
    button_caption: optional('buttonText'),
    button_url: optional('buttonUrl'),
    ttl: viberTtlSeconds(message.deliveryEndAt, now),
    callback_url: callbackUrl,
  };
}

/** What the aggregator said, for an event line. */
function errorText(text: string): string {
  try {
    const body = parseJsonKeepingBigIntegers(text) as Record<string, unknown>;
    const found = [body.error, body.message, body.description, body.status_text].find((v) => typeof v === 'string' && v !== '');
    if (found) return clip(found as string);
    if (body.error && typeof body.error === 'object') return clip(JSON.stringify(body.error));
  } catch {
    // not JSON: the text itself
  }
  return clip(text) || 'no body';
}

async function sendOne(message: OutgoingMessage, settings: ViberSettings, callbackUrl: string, signal: AbortSignal): Promise<SubmitResult> {
  const base = { messageId: message.messageId };
  let answer;
  try {
    answer = await httpRequest(`${settings.baseUrl}/send`, {
      headers: { [settings.tokenHeader]: `${settings.tokenPrefix}${settings.authToken}` },
      json: viberRequestBody(message, settings, callbackUrl),
      signal,
    });
  } catch (error) {
    return { ...base, outcome: 'transient', reason: `viber: ${noAnswerReason(error, signal)}` };
  }
  const line = `POST /send → ${answer.status}`;
  if (isSuccess(answer.status)) {
    let token: string | undefined;
    try {
      token = idString((parseJsonKeepingBigIntegers(answer.text) as Record<string, unknown>).message_token);
    } catch {
      token = undefined;
    }
    // The message id makes a retry safe: the aggregator does not send a known id twice.
    if (!token) return { ...base, outcome: 'transient', reason: 'viber: answer without a message_token', detail: `${line} ${clip(answer.text)}` };
    return { ...base, outcome: 'accepted', providerMessageId: token, detail: `${line} message_token=${token}` };
  }
  const said = errorText(answer.text);
  if (isTransientStatus(answer.status)) {
    return { ...base, outcome: 'transient', reason: `viber: ${said}`, retryAfterMs: parseRetryAfter(answer.headers.get('retry-after')), detail: line };
  }
  return { ...base, outcome: 'rejected', reason: `viber: ${said}`, detail: line };
}

/** Callback statuses: delivered and seen are Viber's own, the failures as aggregators name them. */
const CALLBACK_STATUSES: Record<string, MessageStatus> = {
  delivered: 'DELIVERED',
  seen: 'READ',
  read: 'READ',
  expired: 'UNDELIVERED',
  failed: 'UNDELIVERED',
  undelivered: 'UNDELIVERED',
  rejected: 'UNDELIVERED',
};

export function viberReceipts(body: unknown): ProviderReceipt[] {
  const items = Array.isArray(body) ? body : [body];
  const receipts: ProviderReceipt[] = [];
  for (const item of items) {
    if (item === null || typeof item !== 'object') throw new WebhookRejected(400, 'a Viber callback is a JSON object (or a list of them)');
    const callback = item as Record<string, unknown>;
    const token = idString(callback.message_token);
    const said = typeof callback.status === 'string' ? callback.status.toLowerCase() : undefined;
    if (!token || !said) throw new WebhookRejected(400, 'a Viber callback carries message_token and status');
    const status = CALLBACK_STATUSES[said];
    if (!status) continue; // sent, accepted, …: nothing new for the message
    const why = [callback.error, callback.description, callback.reason].find((v) => typeof v === 'string' && v !== '') as string | undefined;
    receipts.push({ providerMessageId: token, status, description: clip(`viber: ${said}${why ? ` (${why})` : ''}`) });
  }
  return receipts;
}

export const viberAdapter = defineAdapter({
  type: 'viber',
  settings: settingsSchema,
  createClient(settings, ctx) {
    const callbackUrl = ctx.webhookUrl('viber');
    return {
      maxBatchSize: settings.concurrency,
      submit: (batch, signal) => sendEach(batch, settings.concurrency, signal, 'viber', (message) => sendOne(message, settings, callbackUrl, signal)),
    };
  },
  webhook(settings) {
    const key = settings.webhookSecret ?? settings.authToken;
    return (req) => {
      if (req.method !== 'POST') throw new WebhookRejected(404, 'Viber callbacks are POSTs');
      if (!signatureMatches(req.headers['x-viber-content-signature'], hmacSha256Hex(key, req.rawBody))) {
        throw new WebhookRejected(401, 'X-Viber-Content-Signature does not match the body');
      }
      let body: unknown;
      try {
        body = parseJsonKeepingBigIntegers(req.rawBody.toString('utf8'));
      } catch {
        throw new WebhookRejected(400, 'a Viber callback is JSON');
      }
      return { receipts: viberReceipts(body) };
    };
  },
});
