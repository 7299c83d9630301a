import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { applyStatusChanges } from '../../db/messages';
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
 * workflows (a run accepts at most 10,000 signals); the task's sweep picks them up. */
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
        200: { description: 'Recorded (unknown messages are logged and acknowledged)', schema: z.object({ applied: z.number(), unknown: z.number() }) },
        401: { description: 'Bad signature', schema: errorSchema },
      },
    },
    async ({ req, res, params, body }) => {
      const channel = channelSchema.safeParse(params.channel);
      if (!channel.success) throw new HttpError(404, 'not_found', `unknown channel ${params.channel}`);
      const given = Buffer.from(req.get('x-signature') ?? '');
      const expected = Buffer.from(webhookSignature(deps.config.webhookSecret, (req as { rawBody?: Buffer }).rawBody ?? ''));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HttpError(401, 'bad_signature', 'webhook signature does not match');
      const { rows } = await deps.pool.query<{ id: string; provider_message_id: string }>(
        'select id, provider_message_id from messages where provider = $1 and provider_message_id = any($2::text[]) and channel = $3',
        [params.provider, body.receipts.map((r) => r.providerMessageId), channel.data],
      );
      const idByRef = new Map(rows.map((r) => [r.provider_message_id, r.id]));
      const known = body.receipts.filter((r) => idByRef.has(r.providerMessageId));
      const unknown = body.receipts.length - known.length;
      if (unknown > 0) req.log.warn({ provider: params.provider, unknown }, 'receipts for unknown messages acknowledged');
      const results = await applyStatusChanges(
        deps.pool,
        known.map((r) => ({ messageId: idByRef.get(r.providerMessageId)!, status: r.status, description: r.description ?? null })),
        `webhook:${params.provider}`,
      );
      res.json({ applied: results.filter((r) => r.applied).length, unknown });
    },
  );
}
