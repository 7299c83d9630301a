/**
 * What the HTTP adapters (fcm, telegram, chat-http, http-sms, viber, whatsapp) share: one request
 * under the provider's timeout signal, the classification of a refusal into a SubmitResult (429,
 * 408 and 5xx: try later, honouring Retry-After; any other 4xx: refused for good), messages sent
 * a few at a time, webhook HMACs, and JSON read without rounding 64-bit ids.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookRejected, type OutgoingMessage, type SubmitResult } from './types';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** Sends one request and reads the whole answer; throws when there is none (network error, or `signal` aborted). */
export async function httpRequest(
  url: string,
  init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; json?: unknown; form?: URLSearchParams; signal: AbortSignal },
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { Accept: 'application/json', ...init.headers };
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = init.form.toString();
  }
  const response = await fetch(url, { method: init.method ?? 'POST', headers, body, signal: init.signal });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Retry-After as delay-seconds or an HTTP date, in milliseconds from `now`. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** Throttled or unavailable: worth trying again later. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/**
 * A provider's refusal (a non-2xx answer) as a SubmitResult: 429/408/5xx → transient with the
 * answer's Retry-After (or `retryAfterMs` when the provider puts it in the body), other → rejected.
 * `why` names the provider's error (`404 UNREGISTERED: Requested entity was not found.`).
 */
export function refusalResult(
  message: OutgoingMessage,
  answer: HttpAnswer,
  args: { provider: string; why: string; detail: string; retryAfterMs?: number },
): SubmitResult {
  const reason = `${args.provider}: ${args.why}`;
  if (isTransientStatus(answer.status)) {
    const retryAfterMs = args.retryAfterMs ?? parseRetryAfter(answer.headers.get('retry-after'));
    return { messageId: message.messageId, outcome: 'transient', reason, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), detail: args.detail };
  }
  return { messageId: message.messageId, outcome: 'rejected', reason, detail: args.detail };
}

/** No answer at all (timeout, worker stopping, connection refused): the message is tried again. */
export function noAnswerResult(message: OutgoingMessage, args: { provider: string; error: unknown; signal: AbortSignal; detail: string }): SubmitResult {
  return { messageId: message.messageId, outcome: 'transient', reason: `${args.provider}: ${noAnswerReason(args.error, args.signal)}`, detail: args.detail };
}

export function noAnswerReason(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'no answer in time (request aborted)';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return `request failed (${cause?.code ?? cause?.message ?? (error as Error).message})`;
}

/** A string id from an answer: a non-empty string, or an integer a JavaScript number holds exactly. */
export function idString(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** A provider's text cut for an event line. */
export function clip(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/**
 * Sends each message with `send`, at most `concurrency` at a time (one message per request); a
 * message not started before `signal` aborts, or whose `send` throws, answers transient.
 */
export async function sendEach(
  batch: readonly OutgoingMessage[],
  concurrency: number,
  signal: AbortSignal,
  provider: string,
  send: (message: OutgoingMessage) => Promise<SubmitResult>,
): Promise<SubmitResult[]> {
  const results = new Array<SubmitResult>(batch.length);
  let next = 0;
  const lane = async () => {
    while (next < batch.length) {
      const index = next++;
      const message = batch[index]!;
      if (signal.aborted) {
        results[index] = { messageId: message.messageId, outcome: 'transient', reason: `${provider}: not sent, no time left in this attempt` };
        continue;
      }
      try {
        results[index] = await send(message);
      } catch (error) {
        results[index] = { messageId: message.messageId, outcome: 'transient', reason: `${provider}: ${noAnswerReason(error, signal)}` };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batch.length) }, lane));
  return results;
}

/**
 * JSON.parse that keeps integers of 16 digits or more as strings: Viber's message tokens are
 * 64-bit and a JavaScript number rounds them above 2^53 (5491391152263159293 → …9300).
 */
export function parseJsonKeepingBigIntegers(text: string): unknown {
  const quoted = text.replace(/"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/g, (match) => (match.startsWith('"') ? match : `"${match}"`));
  return JSON.parse(quoted);
}

export function hmacSha256Hex(key: string, body: Buffer | string): string {
  return createHmac('sha256', key).update(body).digest('hex');
}

/** Compares a signature (or a token) with the expected one in constant time. */
export function signatureMatches(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Our own callback signature, `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`: the generic
 * receipts (WEBHOOK_SECRET), the SMTP bounces and the HTTP SMS reports. */
export function xSignature(secret: string, rawBody: Buffer | string): string {
  return `sha256=${hmacSha256Hex(secret, rawBody)}`;
}

/** Refuses (401) a callback whose X-Signature does not match its body. */
export function requireXSignature(headers: Record<string, string | undefined>, secret: string, rawBody: Buffer): void {
  if (!signatureMatches(headers['x-signature'], xSignature(secret, rawBody))) throw new WebhookRejected(401, 'X-Signature does not match the body');
}

/** `+79990000007` → `79990000007`: the international number without the plus. */
export function msisdn(recipient: string): string {
  return recipient.replace(/\D/g, '');
}
