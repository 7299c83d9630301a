import { z } from 'zod';
import { recordReceipts } from '../../activities/metrics';
import { signatureMatches, xSignature } from '../../activities/channels/http-answer';
import { providerWebhooks } from '../../activities/channels/registry';
import { WebhookRejected, type ProviderReceipt, type WebhookRequest } from '../../activities/channels/types';
import type { Channel } from '../../core/config';
import { applyProviderReceipts } from '../../db/messages';
import type { ApiDeps } from '../deps';
import { HttpError, badRequest, zodDetails } from '../errors';
import { errorSchema, type ApiRegistry } from '../routing';
import { channelSchema, messageStatusSchema } from '../schemas';

/** The generic receipts' signature: `X-Signature: sha256=HMAC(WEBHOOK_SECRET, body)`. */
export const webhookSignature = xSignature;

const receiptSchema = z.object({
  providerMessageId: z.string().min(1),
  status: messageStatusSchema.extract(['PENDING', 'DELIVERED', 'READ', 'UNDELIVERED', 'ERROR']),
  description: z.string().max(1000).optional(),
});
const genericWebhookBody = z.object({ receipts: z.array(receiptSchema).min(1).max(10_000) });

function rawBodyOf(req: { rawBody?: Buffer; body?: unknown }): Buffer {
  if (req.rawBody) return req.rawBody;
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

function flatStrings(record: Record<string, unknown>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v)]));
}

/**
 * Provider callbacks. A configured provider with a callback of its own (WhatsApp, Viber, email
 * bounces, ...) answers with its adapter, which checks the provider's signature scheme; any other
 * provider name takes the generic receipt format signed with X-Signature: sha256=HMAC(WEBHOOK_SECRET, body).
 * Receipts are written to Postgres here, never signalled to workflows (a run accepts at most 10,000
 * signals); one for a provider id not known yet is parked and applied when the id appears.
 */
export function registerWebhookRoutes(api: ApiRegistry, deps: ApiDeps): void {
  const hooks = providerWebhooks(deps.config.providers, deps.config.webhookSecret);

  async function record(channel: Channel, provider: string, receipts: readonly ProviderReceipt[], log: { warn(o: object, m: string): void }) {
    const { applied, parked } = await applyProviderReceipts(deps.pool, { channel, provider, receipts, source: `webhook:${provider}` });
    recordReceipts(provider, channel, receipts.map((r) => r.status));
    // A receipt may overtake the answer that tells us the provider's id: kept until it appears.
    if (parked > 0) log.warn({ provider, parked }, 'receipts for message ids not known yet: parked until they are');
    return { applied, unknown: parked };
  }

  for (const method of ['get', 'post'] as const) {
    api.route(
      {
        method,
        path: '/webhooks/:channel/:provider',
        summary:
          method === 'get'
            ? "A provider's subscription handshake (WhatsApp's hub.challenge)"
            : "Delivery receipts: in the configured provider's own format and signature, or the generic `{receipts: [{providerMessageId, status, description}]}` signed with X-Signature: sha256=HMAC(WEBHOOK_SECRET, body)",
        tag: 'Webhooks',
        auth: 'public',
        responses: {
          200: {
            description: 'Recorded. Receipts for provider ids not known yet (`unknown`) are kept and applied when the id appears',
            schema: z.object({ applied: z.number(), unknown: z.number() }),
          },
          400: { description: 'Not a body this provider sends', schema: errorSchema },
          401: { description: 'Bad signature', schema: errorSchema },
          404: { description: 'Unknown channel, or a handshake for a provider without one', schema: errorSchema },
        },
      },
      async ({ req, res, params }) => {
        const channel = channelSchema.safeParse(params.channel);
        if (!channel.success) throw new HttpError(404, 'not_found', `unknown channel ${params.channel}`);
        const provider = params.provider!;
        const rawBody = rawBodyOf(req as { rawBody?: Buffer; body?: unknown });
        const hook = hooks.get(provider);
        if (hook) {
          if (!hook.channels.includes(channel.data)) throw new HttpError(404, 'not_found', `provider ${provider} does not serve ${channel.data}`);
          const request: WebhookRequest = {
            method: method === 'get' ? 'GET' : 'POST',
            channel: channel.data,
            headers: flatStrings(req.headers as Record<string, unknown>),
            query: flatStrings(req.query as Record<string, unknown>),
            rawBody,
          };
          let answer;
          try {
            answer = await hook.handle(request);
          } catch (error) {
            if (error instanceof WebhookRejected) {
              throw new HttpError(error.status, error.status === 401 ? 'bad_signature' : error.status === 404 ? 'not_found' : 'bad_request', error.message);
            }
            throw error;
          }
          const counts = answer.receipts?.length ? await record(channel.data, provider, answer.receipts, req.log) : { applied: 0, unknown: 0 };
          res.status(answer.status ?? 200);
          if (typeof answer.body === 'string') res.type('text/plain').send(answer.body);
          else res.json(answer.body ?? counts);
          return;
        }
        if (method === 'get') throw new HttpError(404, 'not_found', `provider ${provider} has no subscription handshake`);
        if (!signatureMatches(req.get('x-signature'), webhookSignature(deps.config.webhookSecret, rawBody))) {
          throw new HttpError(401, 'bad_signature', 'webhook signature does not match');
        }
        const body = genericWebhookBody.safeParse(req.body);
        if (!body.success) throw badRequest('invalid receipts', zodDetails(body.error, ['body']));
        res.json(await record(channel.data, provider, body.data.receipts, req.log));
      },
    );
  }
}
