import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { clip, httpRequest, isSuccess, noAnswerReason, refusalResult, sendEach, type HttpAnswer } from './http-answer';
import { defineAdapter, type OutgoingMessage, type ProviderReceipt, type SubmitResult } from './types';

/**
 * Push over FCM HTTP v1 (docs/providers/fcm.md): one `messages:send` per message, authorised by an
 * OAuth2 access token minted from a service-account key (an RS256 JWT exchanged at the key's
 * token_uri) and cached until shortly before it expires.
 */
export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const JWT_LIFETIME_S = 3600;
/** A cached token is renewed this long before it expires (clock skew, a request in flight). */
const TOKEN_RENEW_MARGIN_MS = 5 * 60_000;
const BATCH_SIZE = 50;

const serviceAccountSchema = z.looseObject({
  client_email: z.string().min(1),
  private_key: z.string().includes('PRIVATE KEY', { message: 'expected a PEM private key' }),
  private_key_id: z.string().optional(),
  token_uri: z.url({ protocol: /^https?$/ }).default('https://oauth2.googleapis.com/token'),
  project_id: z.string().optional(),
});
type ServiceAccount = z.infer<typeof serviceAccountSchema>;

const settings = z
  .object({
    /** The service-account key JSON (an object or its text), or `serviceAccountFile`: the path of that JSON file. */
    serviceAccount: z.unknown().optional(),
    serviceAccountFile: z.string().min(1).optional(),
    /** Default: the key's project_id. */
    projectId: z.string().min(1).optional(),
    baseUrl: z.url({ protocol: /^https?$/ }).default('https://fcm.googleapis.com'),
    /** FCM confirms nothing after it accepts a message: recorded DELIVERED on acceptance unless off
     * (then an app may confirm through the generic webhook). */
    acceptedIsDelivered: z.boolean().default(true),
    concurrency: z.number().int().min(1).max(100).default(20),
  })
  .strict()
  .transform((s, ctx) => {
    if ((s.serviceAccount === undefined) === (s.serviceAccountFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['serviceAccount'], message: 'set serviceAccount (the key JSON) or serviceAccountFile (its path), one of them' });
      return z.NEVER;
    }
    let raw = s.serviceAccount;
    const at = s.serviceAccountFile !== undefined ? 'serviceAccountFile' : 'serviceAccount';
    // A key passed through an environment variable (`"${FCM_KEY}"`) arrives as its JSON text.
    if (typeof raw === 'string') {
      try {
        raw = JSON.parse(raw);
      } catch {
        ctx.addIssue({ code: 'custom', path: [at], message: 'not the key JSON (an object, or its JSON text)' });
        return z.NEVER;
      }
    }
    if (s.serviceAccountFile !== undefined) {
      try {
        raw = JSON.parse(readFileSync(s.serviceAccountFile, 'utf8'));
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: [at], message: `cannot read the key file: ${(error as Error).message}` });
        return z.NEVER;
      }
    }
    const key = serviceAccountSchema.safeParse(raw);
    if (!key.success) {
      const issue = key.error.issues[0]!;
      ctx.addIssue({ code: 'custom', path: [at, ...issue.path.map(String)], message: issue.message });
      return z.NEVER;
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(key.data.private_key);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: [at, 'private_key'], message: `not a usable private key (${(error as Error).message})` });
      return z.NEVER;
    }
    const projectId = s.projectId ?? key.data.project_id;
    if (!projectId) {
      ctx.addIssue({ code: 'custom', path: ['projectId'], message: 'required: the key has no project_id' });
      return z.NEVER;
    }
    return { key: key.data, privateKey, projectId, baseUrl: s.baseUrl.replace(/\/+$/, ''), acceptedIsDelivered: s.acceptedIsDelivered, concurrency: s.concurrency };
  });

/** The RS256-signed JWT a service account exchanges for an access token (RFC 7523). */
export function serviceAccountJwt(key: Pick<ServiceAccount, 'client_email' | 'token_uri' | 'private_key_id'>, privateKey: KeyObject, nowMs = Date.now()): string {
  const iat = Math.floor(nowMs / 1000);
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = encode({ alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) });
  const claims = encode({ iss: key.client_email, scope: FCM_SCOPE, aud: key.token_uri, iat, exp: iat + JWT_LIFETIME_S });
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), privateKey).toString('base64url');
  return `${header}.${claims}.${signature}`;
}

class TokenError extends Error {}

/** Access tokens: one minted at a time, reused until TOKEN_RENEW_MARGIN_MS before they expire. */
class AccessTokens {
  private current?: { token: string; renewAt: number };
  private minting?: Promise<string>;

  constructor(
    private readonly key: ServiceAccount,
    private readonly privateKey: KeyObject,
  ) {}

  get(signal: AbortSignal): Promise<string> {
    if (this.current && Date.now() < this.current.renewAt) return Promise.resolve(this.current.token);
    this.minting ??= this.mint(signal).finally(() => (this.minting = undefined));
    return this.minting;
  }

  /** FCM refused `token` (401): the next get() mints a new one, unless another call already did. */
  invalidate(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }

  private async mint(signal: AbortSignal): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: serviceAccountJwt(this.key, this.privateKey) });
    let answer: HttpAnswer;
    try {
      answer = await httpRequest(this.key.token_uri, { form, signal });
    } catch (error) {
      throw new TokenError(`access token: ${noAnswerReason(error, signal)}`);
    }
    const body = (answer.json ?? {}) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    if (!isSuccess(answer.status) || typeof body.access_token !== 'string') {
      const why = typeof body.error === 'string' ? `${body.error}${typeof body.error_description === 'string' ? ` (${body.error_description})` : ''}` : clip(answer.text);
      throw new TokenError(`access token: ${answer.status} ${why}`);
    }
    const expiresInMs = (typeof body.expires_in === 'number' ? body.expires_in : JWT_LIFETIME_S) * 1000;
    this.current = { token: body.access_token, renewAt: Date.now() + Math.max(expiresInMs - TOKEN_RENEW_MARGIN_MS, expiresInMs / 2) };
    return body.access_token;
  }
}

interface FcmError {
  error?: { code?: number; message?: string; status?: string; details?: { '@type'?: string; errorCode?: string }[] };
}

/** `UNREGISTERED: Requested entity was not found.` from FCM's error body. */
function fcmErrorOf(answer: HttpAnswer): string {
  const error = (answer.json as FcmError | undefined)?.error;
  if (!error) return clip(answer.text) || 'no body';
  const code = error.details?.find((d) => d['@type']?.endsWith('FcmError') && d.errorCode)?.errorCode ?? error.status ?? '';
  return [code, error.message].filter(Boolean).join(': ');
}

/** The FCM v1 message: the push text as the notification, its lifetime as Android's TTL and APNs' expiration. */
export function fcmMessage(m: OutgoingMessage, now = Date.now()): Record<string, unknown> {
  const payload = m.payload ?? {};
  const title = typeof payload.title === 'string' ? payload.title : (m.sender ?? undefined);
  const data =
    payload.data !== null && typeof payload.data === 'object'
      ? Object.fromEntries(Object.entries(payload.data as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
      : undefined;
  const remainingS = Math.max(0, Math.floor((m.deliveryEndAt.getTime() - now) / 1000));
  const apnsHeaders: Record<string, string> = { 'apns-expiration': String(Math.floor(m.deliveryEndAt.getTime() / 1000)) };
  // FCM has no idempotency key; on iOS a resubmitted send id replaces the notification shown.
  if (Buffer.byteLength(m.sendId) <= 64) apnsHeaders['apns-collapse-id'] = m.sendId;
  return {
    token: m.recipient,
    notification: { ...(title ? { title } : {}), body: m.text ?? '' },
    ...(data ? { data } : {}),
    android: { ttl: `${remainingS}s` },
    apns: { headers: apnsHeaders },
  };
}

export const fcmAdapter = defineAdapter({
  type: 'fcm',
  settings,
  createClient(s, ctx) {
    const name = ctx.config.name;
    const tokens = new AccessTokens(s.key, s.privateKey);
    const path = `/v1/projects/${encodeURIComponent(s.projectId)}/messages:send`;
    const url = `${s.baseUrl}${path}`;
    // token_uri itself counts as a secret setting (its key names a token): shown without its scheme.
    const tokenAt = ((u) => `${u.host}${u.pathname}`)(new URL(s.key.token_uri));
    return {
      maxBatchSize: BATCH_SIZE,
      async submit(batch, signal) {
        let token: string;
        try {
          token = await tokens.get(signal);
        } catch (error) {
          const reason = `${name}: ${error instanceof TokenError ? error.message : noAnswerReason(error, signal)}`;
          return batch.map((m) => ({ messageId: m.messageId, outcome: 'transient' as const, reason, detail: `POST ${tokenAt} (access token) → failed` }));
        }
        const delivered: ProviderReceipt[] = [];
        const results = await sendEach(batch, s.concurrency, signal, name, async (m): Promise<SubmitResult> => {
          const body = { message: fcmMessage(m) };
          let used = token;
          let steps = `POST ${path}`;
          let answer: HttpAnswer;
          try {
            answer = await httpRequest(url, { headers: { Authorization: `Bearer ${used}` }, json: body, signal });
            if (answer.status === 401) {
              // The token expired or was revoked early: mint another and try once more.
              tokens.invalidate(used);
              steps += ` → 401 ${fcmErrorOf(answer)}; new access token, again`;
              used = await tokens.get(signal);
              answer = await httpRequest(url, { headers: { Authorization: `Bearer ${used}` }, json: body, signal });
            }
          } catch (error) {
            const reason = error instanceof TokenError ? error.message : noAnswerReason(error, signal);
            return { messageId: m.messageId, outcome: 'transient', reason: `${name}: ${reason}`, detail: `${steps} → no answer` };
          }
          const sentName = (answer.json as { name?: unknown } | undefined)?.name;
          if (isSuccess(answer.status) && typeof sentName === 'string' && sentName !== '') {
            if (s.acceptedIsDelivered) delivered.push({ providerMessageId: sentName, status: 'DELIVERED', description: `${name}: accepted by FCM` });
            return { messageId: m.messageId, outcome: 'accepted', providerMessageId: sentName, detail: `${steps} → ${answer.status} ${sentName}` };
          }
          const why = `${answer.status} ${isSuccess(answer.status) ? `without a message name: ${clip(answer.text)}` : fcmErrorOf(answer)}`;
          return refusalResult(m, answer, { provider: name, why, detail: `${steps} → ${why}` });
        });
        // Recorded ahead of the SENT they follow: kept until the dispatcher stores the message names.
        if (delivered.length > 0) {
          await ctx.applyReceipts(batch[0]!.channel, delivered).catch((error: Error) => ctx.logger.warn({ err: error.message }, 'fcm: DELIVERED receipts not recorded'));
        }
        return results;
      },
    };
  },
});
