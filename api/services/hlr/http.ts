import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { failedLookup, type HlrProvider, type HlrResult, type HlrStatus } from '../../../core/hlr';

/**
 * An HLR provider over HTTP, speaking the synchronous HLR API of hlr-lookups.com (v2,
 * https://www.hlr-lookups.com/en/api-docs#post-hlr-lookup), a common shape among HLR vendors:
 *
 *   POST <HLR_HTTP_URL>/hlr-lookup   {"msisdn": "+491788735000"}
 *   X-Digest-Key: <HLR_HTTP_KEY>
 *   X-Digest-Timestamp: <unix seconds>
 *   X-Digest-Signature: hex HMAC-SHA256(<HLR_HTTP_SECRET>, "/hlr-lookup" + timestamp + "POST" + body)
 *
 *   200 {"id", "msisdn", "connectivity_status": "CONNECTED" | "ABSENT" | "INVALID_MSISDN" | "UNDETERMINED",
 *        "original_network_name", "original_country_code", "is_ported", "ported_network_name",
 *        "is_roaming", "cost": "0.0100", "processing_status": "COMPLETED" | "REJECTED" | "FAILED",
 *        "error_code", ...}
 *
 * HLR_HTTP_URL is the API base, e.g. https://www.hlr-lookups.com/api/v2.
 */
export const HLR_LOOKUP_PATH = '/hlr-lookup';

/** connectivity_status → our status (core/hlr.ts). */
const CONNECTIVITY_STATUS: Record<string, HlrStatus> = {
  CONNECTED: 'active',
  ABSENT: 'absent_subscriber',
  INVALID_MSISDN: 'invalid_number',
  UNDETERMINED: 'unknown',
};

const nullableString = z.string().nullish().transform((v) => (v ? v : null));
const lookupAnswer = z.looseObject({
  connectivity_status: z.string().nullish(),
  processing_status: z.string().nullish(),
  original_network_name: nullableString,
  original_country_code: nullableString,
  is_ported: z.boolean().nullish(),
  ported_network_name: nullableString,
  is_roaming: z.boolean().nullish(),
  cost: z.union([z.string(), z.number()]).nullish(),
  error_code: z.union([z.string(), z.number()]).nullish(),
});

/** HMAC the provider checks each request against (see the header comment). */
export function hlrLookupSignature(secret: string, path: string, timestamp: number, method: string, body: string): string {
  return createHmac('sha256', secret).update(`${path}${timestamp}${method}${body}`).digest('hex');
}

export interface HttpHlrOptions {
  /** API base URL, without a trailing slash. */
  url: string;
  key: string;
  secret: string;
  /** A lookup with no complete answer within this time is `failed` ("no answer within …"). */
  timeoutMs: number;
  /** Recorded when a completed lookup's answer names no cost. */
  defaultCost: number;
}

export class HttpHlrProvider implements HlrProvider {
  readonly name = 'hlr-lookups';

  constructor(private readonly options: HttpHlrOptions) {}

  async lookup(e164: string): Promise<HlrResult> {
    const body = JSON.stringify({ msisdn: e164 });
    const timestamp = Math.floor(Date.now() / 1000);
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.options.url}${HLR_LOOKUP_PATH}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'X-Digest-Key': this.options.key,
          'X-Digest-Timestamp': String(timestamp),
          'X-Digest-Signature': hlrLookupSignature(this.options.secret, HLR_LOOKUP_PATH, timestamp, 'POST', body),
        },
        body,
        signal: timeout,
      });
      // The timeout covers the body too: a provider that sends headers and then stalls is no answer.
      text = await response.text();
    } catch (error) {
      if (timeout.aborted) return failedLookup(`provider gave no answer within ${this.options.timeoutMs} ms`);
      return failedLookup(`provider unreachable: ${describeFetchError(error)}`);
    }
    if (!response.ok) return failedLookup(`provider answered HTTP ${response.status}: ${errorMessage(text)}`, rawOf(text));
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return failedLookup(`provider answered HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`, text.slice(0, 2000));
    }
    const parsed = lookupAnswer.safeParse(json);
    if (!parsed.success) return failedLookup(`provider answer not understood: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`, json);
    return this.mapAnswer(parsed.data, json);
  }

  private mapAnswer(answer: z.infer<typeof lookupAnswer>, raw: unknown): HlrResult {
    const charged = answer.cost === null || answer.cost === undefined ? undefined : Number(answer.cost);
    const cost = charged !== undefined && Number.isFinite(charged) ? charged : undefined;
    if (answer.processing_status && answer.processing_status !== 'COMPLETED') {
      // REJECTED (e.g. not a mobile number, no route) or FAILED: no connectivity data.
      const code = answer.error_code === null || answer.error_code === undefined ? '' : ` (error_code ${answer.error_code})`;
      return failedLookup(`provider: lookup ${answer.processing_status}${code}`, raw, cost ?? 0);
    }
    const connectivity = answer.connectivity_status ?? '';
    const status = CONNECTIVITY_STATUS[connectivity] ?? 'unknown';
    const ported = answer.is_ported ?? false;
    return {
      status,
      operator: (ported ? answer.ported_network_name : null) ?? answer.original_network_name,
      country: answer.original_country_code?.toUpperCase() ?? null,
      ported,
      roaming: answer.is_roaming ?? false,
      cost: cost ?? this.options.defaultCost,
      error:
        status !== 'unknown'
          ? null
          : connectivity in CONNECTIVITY_STATUS
            ? 'provider: connectivity undetermined'
            : `provider: unrecognised connectivity_status "${connectivity}"`,
      raw,
    };
  }
}

/** The provider's own words for an error answer, when it gives any. */
function errorMessage(text: string): string {
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const errors = Array.isArray(json.errors) ? json.errors : json.error !== undefined ? [json.error] : json.message !== undefined ? [json.message] : [];
    const messages = errors.map((e) => (typeof e === 'string' ? e : typeof e === 'object' && e !== null && 'message' in e ? String(e.message) : JSON.stringify(e)));
    if (messages.length > 0) return messages.join('; ').slice(0, 300);
  } catch {
    // Not JSON: quote the text.
  }
  return text.trim().slice(0, 200) || '(empty body)';
}

function rawOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text.slice(0, 2000);
  }
}

/** fetch's "fetch failed" hides the reason (ECONNREFUSED, ENOTFOUND, a reset) in `cause`. */
function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
