import { z } from 'zod';
import type { MessageStatus } from '../../core/status';
import { clip, httpRequest, idString, isSuccess, noAnswerResult, refusalResult, requireXSignature, sendEach } from './http-answer';
import { defineAdapter, WebhookRejected, type OutgoingMessage, type ProviderReceipt, type SubmitResult } from './types';

/**
 * Generic HTTP SMS (docs/providers/http-sms.md): one JSON POST per message to an aggregator's
 * simple API, `{messageId}` back; delivery reports come to our webhook signed with
 * `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
 */
const settings = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'expected the http(s) URL messages are POSTed to' }),
    /** The header carrying the credential, and its whole value (`Bearer …`, an API key). */
    authHeader: z.string().min(1).default('Authorization'),
    authValue: z.string().min(1).optional(),
    /** The `from` of messages without a sender. */
    defaultFrom: z.string().min(1).optional(),
    /** HMAC key of the delivery webhooks; WEBHOOK_SECRET when not set. */
    webhookSecret: z.string().min(8, 'at least 8 characters').optional(),
    concurrency: z.number().int().min(1).max(100).default(10),
  })
  .strict();

const STATUSES: Record<string, MessageStatus> = {
  accepted: 'PENDING',
  delivered: 'DELIVERED',
  undelivered: 'UNDELIVERED',
  expired: 'UNDELIVERED',
  rejected: 'UNDELIVERED',
};

const report = z.object({
  messageId: z.union([z.string().min(1), z.number().refine(Number.isSafeInteger, 'a number id must be an integer below 2^53: send larger ids as strings')]),
  status: z.enum(Object.keys(STATUSES) as [string, ...string[]]),
  errorCode: z.union([z.string(), z.number()]).optional(),
  at: z.string().optional(),
});
const reports = z.union([report, z.array(report).min(1).max(10_000)]);

/** Messages handed to the aggregator in one submit call (sent `concurrency` at a time). */
const BATCH_SIZE = 50;

export const httpSmsAdapter = defineAdapter({
  type: 'http-sms',
  settings,
  createClient(s, ctx) {
    const name = ctx.config.name;
    const path = new URL(s.url).pathname;
    const headers: Record<string, string> = s.authValue ? { [s.authHeader]: s.authValue } : {};
    return {
      maxBatchSize: BATCH_SIZE,
      submit(batch, signal) {
        return sendEach(batch, s.concurrency, signal, name, async (m: OutgoingMessage): Promise<SubmitResult> => {
          const body = {
            to: m.recipient,
            from: m.sender ?? s.defaultFrom,
            text: m.text ?? '',
            reference: m.sendId,
            validUntil: m.deliveryEndAt.toISOString(),
          };
          let answer;
          try {
            answer = await httpRequest(s.url, { headers, json: body, signal });
          } catch (error) {
            return noAnswerResult(m, { provider: name, error, signal, detail: `POST ${path} → no answer` });
          }
          if (isSuccess(answer.status)) {
            const id = idString((answer.json as { messageId?: unknown } | undefined)?.messageId);
            // An API without ids of its own names messages by our reference in its reports.
            if (!id) return { messageId: m.messageId, outcome: 'accepted', providerMessageId: m.sendId, detail: `POST ${path} → ${answer.status} without messageId: reports go by reference ${m.sendId}` };
            return { messageId: m.messageId, outcome: 'accepted', providerMessageId: id, detail: `POST ${path} → ${answer.status} messageId=${id}` };
          }
          const why = `${answer.status} ${clip(answer.text) || 'no body'}`;
          return refusalResult(m, answer, { provider: name, why, detail: `POST ${path} → ${why}` });
        });
      },
    };
  },
  webhook(s, ctx) {
    const secret = s.webhookSecret ?? ctx.webhookSecret;
    return (req) => {
      if (req.method !== 'POST') throw new WebhookRejected(404, `${ctx.config.name} has no subscription handshake`);
      requireXSignature(req.headers, secret, req.rawBody);
      let parsed;
      try {
        parsed = reports.safeParse(JSON.parse(req.rawBody.toString('utf8')));
      } catch {
        throw new WebhookRejected(400, 'body is not JSON');
      }
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new WebhookRejected(400, `not a delivery report: ${issue.path.join('.') || 'body'}: ${issue.message}`);
      }
      const list = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
      const receipts: ProviderReceipt[] = list.map((r) => ({
        providerMessageId: String(r.messageId),
        status: STATUSES[r.status]!,
        description: [`${ctx.config.name}: ${r.status}`, r.errorCode !== undefined ? `error ${r.errorCode}` : '', r.at ? `at ${r.at}` : ''].filter(Boolean).join(', '),
      }));
      return { receipts };
    };
  },
});
