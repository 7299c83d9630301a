import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { applyProviderReceipts } from '../../db/messages';
import type { ApiDeps } from '../deps';
import { HttpError } from '../errors';
import { errorSchema, type ApiRegistry } from '../routing';
import { channelSchema, messageStatusSchema } from '../schemas';

export function webhookSignature(secret: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

const receiptSchema = z.object({
  providerMessageId: z.string().min(1),
  status: messageStatusSchema.extract(['PENDING', 'DELIVERED', 'READ', 'UNDELIVERED', 'ERROR']),
  description: z.string().max(1000).optional(),
});
const webhookBody = z.object({ receipts: z.array(receiptSchema).min(1).max(10_000) });

/** Delivery receipts from HTTP providers are written to Postgres here, never signalled to
 * workflows (a run accepts at most 10,000 signals). A receipt for a provider id not known yet is
 * parked and applied when the id appears (db/messages.ts#applyProviderReceipts). */
export function registerWebhookRoutes(api: ApiRegistry, deps: ApiDeps): void {
  api.route(
    {
      method: 'post',
      path: '/webhooks/:channel/:provider',
      summary: 'Delivery receipts from a generic HTTP provider, signed with X-Signature: sha256=HMAC(WEBHOOK_SECRET, body)',
      tag: 'Webhooks',
      auth: 'public',
      body: webhookBody,
      responses: {
        200: {
          description: 'Recorded. Receipts for provider ids not known yet (`unknown`) are kept and applied when the id appears',
          schema: z.object({ applied: z.number(), unknown: z.number() }),
        },
        401: { description: 'Bad signature', schema: errorSchema },
      },
    },
    async ({ req, res, params, body }) => {
      const channel = channelSchema.safeParse(params.channel);
      if (!channel.success) throw new HttpError(404, 'not_found', `unknown channel ${params.channel}`);
      const given = Buffer.from(req.get('x-signature') ?? '');
      const expected = Buffer.from(webhookSignature(deps.config.webhookSecret, (req as { rawBody?: Buffer }).rawBody ?? ''));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HttpError(401, 'bad_signature', 'webhook signature does not match');
      const { applied, parked } = await applyProviderReceipts(deps.pool, {
        channel: channel.data,
        provider: params.provider!,
        receipts: body.receipts,
        source: `webhook:${params.provider}`,
      });
      // A receipt may overtake the answer that tells us the provider's id: kept until it appears.
      if (parked > 0) req.log.warn({ provider: params.provider, parked }, 'receipts for message ids not known yet: parked until they are');
      res.json({ applied, unknown: parked });
    },
  );
}
