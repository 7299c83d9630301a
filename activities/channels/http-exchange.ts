/**
 * The little HTTP both JSON-over-HTTP adapters of this branch need (viber.ts, whatsapp.ts): one
 * POST with the provider's timeout signal, Retry-After, webhook HMACs, and JSON read without
 * rounding 64-bit ids.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface HttpAnswer {
  status: number;
  retryAfterMs?: number;
  text: string;
}

/** POSTs a JSON body; throws when there is no answer (network error, or `signal` aborted). */
export async function postJson(url: string, headers: Record<string, string>, body: unknown, signal: AbortSignal): Promise<HttpAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
    body: JSON.stringify(body),
    signal,
  });
  const text = await response.text();
  return { status: response.status, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')), text };
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Why a request got no answer: the provider's timeout (or a stopping worker), or the network. */
export function noAnswerReason(provider: string, error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return `${provider}: no answer (request aborted: timeout or worker stopping)`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return `${provider}: request failed (${cause?.code ?? cause?.message ?? (error as Error).message})`;
}

/**
 * JSON.parse that keeps integers of 16 digits or more as strings: Viber's message tokens are
 * 64-bit and a JavaScript number rounds them above 2^53 (5491391152263159293 → …9300).
 */
export function parseJsonKeepingBigIntegers(text: string): unknown {
  const quoted = text.replace(/"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/g, (match) => (match.startsWith('"') ? match : `"${match}"`));
  return JSON.parse(quoted);
}

/** An id from a parsed answer: a string, or a number that fits exactly. */
export function idString(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
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

/** Runs `fn` over `items`, at most `limit` at a time, answers in the items' order. */
export async function mapConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** A status's text, cut for an event line. */
export function clip(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** `+79990000007` → `79990000007`: the international number without the plus. */
export function msisdn(recipient: string): string {
  return recipient.replace(/\D/g, '');
}
