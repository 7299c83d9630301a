import { z } from 'zod';
import { clip, httpRequest, isSuccess, noAnswerReason, refusalResult, sendEach } from './http-answer';
import { defineAdapter, type OutgoingMessage, type ProviderReceipt, type SubmitResult } from './types';

/**
 * Telegram Bot API `sendMessage` for chats whose messenger is telegram (docs/providers/telegram.md).
 * The bot token is part of the request URL, so every line this adapter writes shows the URL with
 * the token replaced by `<token>`.
 */
const settings = z
  .object({
    baseUrl: z.url({ protocol: /^https?$/ }).default('https://api.telegram.org'),
    /** The bot's token from @BotFather; `botTokens` maps bot ids (the template's botId) to tokens for several bots. */
    botToken: z.string().min(1).optional(),
    botTokens: z.record(z.string().min(1), z.string().min(1)).optional(),
    parseMode: z.enum(['HTML', 'MarkdownV2', 'Markdown']).optional(),
    /** The Bot API has no delivery receipts: its `ok` means the message is in the chat, recorded as DELIVERED. */
    acceptedIsDelivered: z.boolean().default(true),
    concurrency: z.number().int().min(1).max(30).default(10),
  })
  .strict()
  .refine((s) => s.botToken !== undefined || s.botTokens !== undefined, { path: ['botToken'], message: 'required (or botTokens)' });

const BATCH_SIZE = 50;

interface TelegramAnswer {
  ok?: boolean;
  result?: { message_id?: number; chat?: { id?: number | string } };
  error_code?: number;
  description?: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

export const telegramAdapter = defineAdapter({
  type: 'telegram',
  settings,
  createClient(s, ctx) {
    const name = ctx.config.name;
    const base = s.baseUrl.replace(/\/+$/, '');
    const tokenFor = (m: OutgoingMessage): string | undefined => {
      const botId = typeof m.payload?.botId === 'string' ? m.payload.botId : m.sender;
      return (botId !== null && s.botTokens?.[botId]) || s.botToken;
    };
    return {
      maxBatchSize: BATCH_SIZE,
      async submit(batch, signal) {
        const delivered: ProviderReceipt[] = [];
        const results = await sendEach(batch, s.concurrency, signal, name, async (m): Promise<SubmitResult> => {
          const messenger = m.payload?.messenger;
          // Routing is by sender (the bot id): a chat of another messenger must not reach Telegram.
          if (typeof messenger === 'string' && messenger !== 'telegram') {
            return { messageId: m.messageId, outcome: 'rejected', reason: `${name}: a ${messenger} chat, not a telegram one: route its bot to a provider for ${messenger}` };
          }
          const token = tokenFor(m);
          if (!token) return { messageId: m.messageId, outcome: 'rejected', reason: `${name}: no token for bot ${String(m.payload?.botId ?? m.sender)} in botTokens` };
          const shownUrl = `${base}/bot<token>/sendMessage`;
          const body = { chat_id: m.recipient, text: m.text ?? '', ...(s.parseMode ? { parse_mode: s.parseMode } : {}) };
          let answer;
          try {
            answer = await httpRequest(`${base}/bot${token}/sendMessage`, { json: body, signal });
          } catch (error) {
            // fetch's errors may quote the URL: never let the token through.
            const reason = noAnswerReason(error, signal).split(token).join('<token>');
            return { messageId: m.messageId, outcome: 'transient', reason: `${name}: ${reason}`, detail: `POST ${shownUrl} → no answer` };
          }
          const reply = (answer.json ?? {}) as TelegramAnswer;
          if (isSuccess(answer.status) && reply.ok === true && typeof reply.result?.message_id === 'number') {
            const providerMessageId = `${m.recipient}:${reply.result.message_id}`;
            if (s.acceptedIsDelivered) delivered.push({ providerMessageId, status: 'DELIVERED', description: `${name}: in the chat` });
            return { messageId: m.messageId, outcome: 'accepted', providerMessageId, detail: `POST ${shownUrl} → ${answer.status} message_id=${reply.result.message_id}` };
          }
          const why = `${reply.error_code ?? answer.status} ${reply.description ?? (clip(answer.text.split(token).join('<token>')) || 'no body')}`;
          const retryAfter = reply.parameters?.retry_after;
          return refusalResult(m, answer, {
            provider: name,
            why,
            detail: `POST ${shownUrl} → ${why}`,
            retryAfterMs: typeof retryAfter === 'number' ? retryAfter * 1000 : undefined,
          });
        });
        // Recorded ahead of the SENT they follow: kept until the dispatcher stores the message ids.
        // A failure here must not fail the batch (it was sent): those messages stay SENT.
        if (delivered.length > 0) {
          await ctx.applyReceipts(batch[0]!.channel, delivered).catch((error: Error) => ctx.logger.warn({ err: error.message }, 'telegram: DELIVERED receipts not recorded'));
        }
        return results;
      },
    };
  },
});
