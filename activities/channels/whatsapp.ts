import { z } from 'zod';
import type { MessageStatus } from '../../core/status';
import { clip, hmacSha256Hex, httpRequest, isSuccess, isTransientStatus, msisdn, noAnswerReason, parseRetryAfter, sendEach, signatureMatches } from './http-answer';
import { defineAdapter, WebhookRejected, type OutgoingMessage, type ProviderReceipt, type SubmitResult, type WebhookAnswer } from './types';

/**
 * WhatsApp Cloud API (docs/providers/whatsapp.md): an approved template per message,
 * `POST {baseUrl}/{apiVersion}/{phoneNumberId}/messages`, and the status webhooks of the app
 * (`X-Hub-Signature-256`, and the `hub.challenge` handshake when the webhook is subscribed).
 */
const settingsSchema = z
  .object({
    baseUrl: z
      .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
      .default('https://graph.facebook.com')
      .transform((url) => url.replace(/\/+$/, '')),
    apiVersion: z.string().regex(/^v\d+\.\d+$/, 'a Graph API version such as v21.0').default('v21.0'),
    /** A system user's permanent access token (whatsapp_business_messaging). */
    accessToken: z.string().min(1, 'required'),
    /** The business phone number's id: the sender of every message whose sender phoneNumberIds does not list. */
    phoneNumberId: z.string().regex(/^\d+$/, 'the phone number id (digits) from WhatsApp Manager'),
    /** Sender name (as approved here) → phone number id, for a business with several numbers. */
    phoneNumberIds: z.record(z.string(), z.string().regex(/^\d+$/, 'a phone number id (digits)')).default({}),
    /** The Meta app's secret: the HMAC key of X-Hub-Signature-256. */
    appSecret: z.string().min(1, 'required'),
    /** What we answer Meta's subscription handshake to (the "Verify token" typed in the app's webhook settings). */
    verifyToken: z.string().min(1, 'required'),
    /** Requests in flight at once; also the batch size the worker hands over. */
    concurrency: z.number().int().min(1).max(100).default(10),
  })
  .strict();

type WhatsAppSettings = z.infer<typeof settingsSchema>;

/** Graph error codes that mean "later": rate limits (80007, 130429, 131056 per recipient pair,
 * 4 per app) and the service being unavailable (2, 131016, 133004). */
const TRANSIENT_CODES = new Set([2, 4, 80007, 130429, 131016, 131056, 133004]);

const IMAGE = /\.(jpe?g|png|webp)$/i;
const VIDEO = /\.(mp4|3gpp?)$/i;

/** The template's header media, its kind told by the URL's file extension (a document otherwise). */
export function headerMedia(mediaUrl: string): Record<string, unknown> {
  const path = new URL(mediaUrl).pathname;
  if (IMAGE.test(path)) return { type: 'image', image: { link: mediaUrl } };
  if (VIDEO.test(path)) return { type: 'video', video: { link: mediaUrl } };
  const filename = decodeURIComponent(path.split('/').pop() ?? '');
  return { type: 'document', document: { link: mediaUrl, ...(filename ? { filename } : {}) } };
}

/** Body parameters: positional ones ("1", "2", …) in their order, then named ones by name. */
export function bodyParameters(templateData: Record<string, string>): Record<string, unknown>[] {
  const keys = Object.keys(templateData);
  const positional = keys.filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
  const named = keys.filter((k) => !/^\d+$/.test(k)).sort();
  return [
    ...positional.map((k) => ({ type: 'text', text: templateData[k] })),
    ...named.map((k) => ({ type: 'text', parameter_name: k, text: templateData[k] })),
  ];
}

export function whatsappRequestBody(message: OutgoingMessage): Record<string, unknown> {
  const payload = message.payload ?? {};
  const templateData = (payload.templateData ?? {}) as Record<string, string>;
  const components: Record<string, unknown>[] = [];
  if (typeof payload.mediaUrl === 'string' && payload.mediaUrl !== '') components.push({ type: 'header', parameters: [headerMedia(payload.mediaUrl)] });
  const parameters = bodyParameters(templateData);
  if (parameters.length > 0) components.push({ type: 'body', parameters });
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to: msisdn(message.recipient),
    type: 'template',
    template: {
      name: payload.templateName,
      language: { code: payload.language },
      ...(components.length > 0 ? { components } : {}),
    },
    // Comes back on the status webhooks: which of our sends a status is about.
    biz_opaque_callback_data: message.sendId,
  };
}

interface GraphError {
  code?: number;
  message?: string;
  error_data?: { details?: string };
}

function graphError(text: string): GraphError | undefined {
  try {
    const error = (JSON.parse(text) as { error?: GraphError }).error;
    return error && typeof error === 'object' ? error : undefined;
  } catch {
    return undefined;
  }
}

/** The Cloud API has no idempotency key: a send id it accepted in this process is answered from
 * here when resubmitted (an answer lost on the way back to the database), not sent again. */
const REMEMBERED_SENDS = 10_000;

async function sendOne(
  message: OutgoingMessage,
  settings: WhatsAppSettings,
  accepted: Map<string, string>,
  signal: AbortSignal,
): Promise<SubmitResult> {
  const base = { messageId: message.messageId };
  const known = accepted.get(message.sendId);
  if (known) return { ...base, outcome: 'accepted', providerMessageId: known, detail: `already accepted as ${known}` };
  const phoneNumberId = (message.sender !== null ? settings.phoneNumberIds[message.sender] : undefined) ?? settings.phoneNumberId;
  const path = `/${settings.apiVersion}/${phoneNumberId}/messages`;
  let answer;
  try {
    answer = await httpRequest(`${settings.baseUrl}${path}`, { headers: { Authorization: `Bearer ${settings.accessToken}` }, json: whatsappRequestBody(message), signal });
  } catch (error) {
    return { ...base, outcome: 'transient', reason: `whatsapp: ${noAnswerReason(error, signal)}` };
  }
  const line = `POST ${path} → ${answer.status}`;
  if (isSuccess(answer.status)) {
    let id: unknown;
    try {
      id = (JSON.parse(answer.text) as { messages?: { id?: unknown }[] }).messages?.[0]?.id;
    } catch {
      id = undefined;
    }
    if (typeof id !== 'string' || id === '') return { ...base, outcome: 'transient', reason: 'whatsapp: answer without a message id', detail: `${line} ${clip(answer.text)}` };
    accepted.set(message.sendId, id);
    if (accepted.size > REMEMBERED_SENDS) accepted.delete(accepted.keys().next().value!);
    return { ...base, outcome: 'accepted', providerMessageId: id, detail: `${line} id=${id}` };
  }
  const error = graphError(answer.text);
  const said = error
    ? clip(`${error.code ?? '?'}: ${error.message ?? 'error'}${error.error_data?.details ? ` (${error.error_data.details})` : ''}`)
    : clip(answer.text) || 'no body';
  const transient = (error?.code !== undefined && TRANSIENT_CODES.has(error.code)) || isTransientStatus(answer.status);
  if (transient) return { ...base, outcome: 'transient', reason: `whatsapp ${said}`, retryAfterMs: parseRetryAfter(answer.headers.get('retry-after')), detail: line };
  return { ...base, outcome: 'rejected', reason: `whatsapp ${said}`, detail: line };
}

const STATUSES: Record<string, MessageStatus> = {
  sent: 'PENDING',
  delivered: 'DELIVERED',
  read: 'READ',
  failed: 'UNDELIVERED',
};
const RANK: MessageStatus[] = ['PENDING', 'DELIVERED', 'UNDELIVERED', 'READ'];

interface StatusUpdate {
  id?: unknown;
  status?: unknown;
  timestamp?: unknown;
  errors?: { code?: number; title?: string; message?: string }[];
}

/** The receipts of a status webhook, in the order they happened (by timestamp, then by status). */
export function whatsappReceipts(body: unknown): ProviderReceipt[] {
  const entries = (body as { entry?: unknown } | null)?.entry;
  if (!Array.isArray(entries)) throw new WebhookRejected(400, 'a WhatsApp webhook carries entry[]');
  const found: { receipt: ProviderReceipt; at: number }[] = [];
  for (const entry of entries as { changes?: { value?: { statuses?: StatusUpdate[] } }[] }[]) {
    for (const change of entry?.changes ?? []) {
      for (const update of change?.value?.statuses ?? []) {
        const status = typeof update.status === 'string' ? STATUSES[update.status] : undefined;
        if (!status || typeof update.id !== 'string' || update.id === '') continue;
        const failure = (update.errors ?? []).map((e) => [e.code, e.title ?? e.message].filter((x) => x !== undefined).join(': ')).join('; ');
        found.push({
          receipt: { providerMessageId: update.id, status, description: clip(`whatsapp: ${update.status as string}${failure ? ` (${failure})` : ''}`) },
          at: Number(update.timestamp) || 0,
        });
      }
    }
  }
  found.sort((a, b) => a.at - b.at || RANK.indexOf(a.receipt.status) - RANK.indexOf(b.receipt.status));
  return found.map((f) => f.receipt);
}

export const whatsappAdapter = defineAdapter({
  type: 'whatsapp',
  settings: settingsSchema,
  createClient(settings) {
    const accepted = new Map<string, string>();
    return {
      maxBatchSize: settings.concurrency,
      submit: (batch, signal) => sendEach(batch, settings.concurrency, signal, 'whatsapp', (message) => sendOne(message, settings, accepted, signal)),
    };
  },
  webhook(settings) {
    return (req): WebhookAnswer => {
      if (req.method === 'GET') {
        const challenge = req.query['hub.challenge'];
        if (req.query['hub.mode'] === 'subscribe' && challenge && signatureMatches(req.query['hub.verify_token'], settings.verifyToken)) {
          return { status: 200, body: challenge };
        }
        return { status: 403, body: { error: { code: 'forbidden', message: 'hub.verify_token does not match' } } };
      }
      if (!signatureMatches(req.headers['x-hub-signature-256'], `sha256=${hmacSha256Hex(settings.appSecret, req.rawBody)}`)) {
        throw new WebhookRejected(401, 'X-Hub-Signature-256 does not match the body');
      }
      let body: unknown;
      try {
        body = JSON.parse(req.rawBody.toString('utf8'));
      } catch {
        throw new WebhookRejected(400, 'a WhatsApp webhook is JSON');
      }
      return { receipts: whatsappReceipts(body) };
    };
  },
});
