import { z } from 'zod';
import { clip, httpRequest, idString, isSuccess, noAnswerResult, refusalResult, sendEach } from './http-answer';
import { defineAdapter, type OutgoingMessage, type SubmitResult } from './types';

/**
 * Generic chat platform over HTTP (docs/providers/chat-http.md): one JSON POST per message with
 * the chat id, bot id, messenger and text, `{id}` back. Receipts come through the generic webhook
 * (`/webhooks/chat/<name>`, `{receipts: [...]}` signed with WEBHOOK_SECRET), so no handler here.
 */
const settings = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'expected the http(s) URL messages are POSTed to' }),
    /** `Authorization: Bearer <bearerToken>`, or `<apiKeyHeader>: <apiKey>`. */
    bearerToken: z.string().min(1).optional(),
    apiKey: z.string().min(1).optional(),
    apiKeyHeader: z.string().min(1).default('X-Api-Key'),
    concurrency: z.number().int().min(1).max(100).default(10),
  })
  .strict()
  .refine((s) => !(s.bearerToken && s.apiKey), { path: ['apiKey'], message: 'set bearerToken or apiKey, not both' });

const BATCH_SIZE = 50;

export const chatHttpAdapter = defineAdapter({
  type: 'chat-http',
  settings,
  createClient(s, ctx) {
    const name = ctx.config.name;
    const path = new URL(s.url).pathname;
    const auth: Record<string, string> = s.bearerToken ? { Authorization: `Bearer ${s.bearerToken}` } : s.apiKey ? { [s.apiKeyHeader]: s.apiKey } : {};
    return {
      maxBatchSize: BATCH_SIZE,
      submit(batch, signal) {
        return sendEach(batch, s.concurrency, signal, name, async (m: OutgoingMessage): Promise<SubmitResult> => {
          const payload = m.payload ?? {};
          const body = {
            chatId: m.recipient,
            botId: typeof payload.botId === 'string' ? payload.botId : m.sender,
            messenger: typeof payload.messenger === 'string' ? payload.messenger : null,
            text: m.text ?? '',
            sendId: m.sendId,
          };
          let answer;
          try {
            answer = await httpRequest(s.url, { headers: { ...auth, 'Idempotency-Key': m.sendId }, json: body, signal });
          } catch (error) {
            return noAnswerResult(m, { provider: name, error, signal, detail: `POST ${path} → no answer` });
          }
          if (isSuccess(answer.status)) {
            const id = idString((answer.json as { id?: unknown } | undefined)?.id);
            // A platform without ids of its own names messages by our sendId in its receipts.
            if (!id) return { messageId: m.messageId, outcome: 'accepted', providerMessageId: m.sendId, detail: `POST ${path} → ${answer.status} without id: receipts go by sendId ${m.sendId}` };
            return { messageId: m.messageId, outcome: 'accepted', providerMessageId: id, detail: `POST ${path} → ${answer.status} id=${id}` };
          }
          const why = `${answer.status} ${clip(answer.text) || 'no body'}`;
          return refusalResult(m, answer, { provider: name, why, detail: `POST ${path} → ${why}` });
        });
      },
    };
  },
});
