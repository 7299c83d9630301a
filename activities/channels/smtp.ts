import { createHash } from 'node:crypto';
import { parseServerMessageId } from 'nodemailer/lib/smtp-connection/server-message-id';
import { z } from 'zod';
import { decodeHtmlEntities, isHtml } from '../../core/links';
import type { MessageStatus } from '../../core/status';
import { composeEmail } from './email-mime';
import { requireXSignature } from './http-answer';
import { SmtpPool } from './smtp-client';
import { defineAdapter, WebhookRejected, type OutgoingMessage, type ProviderReceipt, type SubmitResult, type WebhookRequest } from './types';

/**
 * Email over SMTP (docs/providers/smtp.md): a pool of SMTP connections to one relay
 * (`smtp-client.ts`), each batch's messages submitted concurrently over it. The relay's answer decides the outcome (2xx accepted,
 * 4xx and lost connections try later, 5xx refused for good); bounces come back later through a
 * signed webhook naming the Message-ID we gave the message.
 */
export const smtpSettings = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535).default(587),
  /** TLS from the first byte (port 465); otherwise STARTTLS is used when the server offers it. */
  secure: z.boolean().default(false),
  /** Refuse to send unless the server upgrades the connection with STARTTLS. */
  requireTLS: z.boolean().default(false),
  /** Accept a server certificate that does not verify (a relay with a self-signed certificate). */
  allowInvalidCertificate: z.boolean().default(false),
  user: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /** Connections kept open to the relay: how many messages are in flight at once. */
  maxConnections: z.number().int().min(1).max(100).default(5),
  /** Messages one connection sends before it is replaced by a fresh one. */
  maxMessagesPerConnection: z.number().int().min(1).default(100),
  /** The most messages one submit call takes; a pause or cancel is checked between calls. */
  batchSize: z.number().int().min(1).max(500).default(100),
  /** The right-hand side of our Message-IDs (default: the sender address's domain). */
  messageIdDomain: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, 'must be a domain name')
    .optional(),
  /** The envelope sender (MAIL FROM), where bounces go; default: the message's From address. */
  returnPath: z.string().min(3).optional(),
  /** HMAC-SHA256 key of the bounce webhook (default: WEBHOOK_SECRET). */
  webhookSecret: z.string().min(1).optional(),
  connectionTimeoutMs: z.number().int().positive().default(5000),
  greetingTimeoutMs: z.number().int().positive().default(5000),
  /** Silence on an open connection for this long drops it (its message tries later). */
  socketTimeoutMs: z.number().int().positive().default(15_000),
  /** Connect and log in when the worker starts: a relay that refuses stops the start. */
  verifyOnStart: z.boolean().default(false),
}).refine((s) => (s.user === undefined) === (s.password === undefined), { message: 'user and password go together', path: ['password'] });

export type SmtpSettings = z.infer<typeof smtpSettings>;

/**
 * The Message-ID of a message: derived from its send id alone, so a resubmission (same send id)
 * carries the same Message-ID and a receiving server or a bounce can be matched to it.
 */
export function messageIdFor(sendId: string, domain: string): string {
  const local = /^[A-Za-z0-9:._-]{1,200}$/.test(sendId) ? sendId.replace(/:/g, '.') : createHash('sha256').update(sendId).digest('hex').slice(0, 40);
  return `<${local}@${domain}>`;
}

/** `<id@domain>` whether or not the bounce wrote the angle brackets. */
function normalizedMessageId(id: string): string {
  const trimmed = id.trim();
  return trimmed.startsWith('<') ? trimmed : `<${trimmed}>`;
}

function addressDomain(address: string | null): string | undefined {
  return address?.match(/@([A-Za-z0-9.-]+)>?\s*$/)?.[1];
}

/**
 * The plain-text alternative of an HTML body: links written as `label (url)` so the short links
 * still work in a text-only client, the open pixel and markup dropped, entities decoded.
 */
export function htmlToText(html: string): string {
  const text = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(head|style|script|title)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<a\b[^>]*?\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>([\s\S]*?)<\/a\s*>/gi, (_m, d?: string, s?: string, b?: string, label = '') => {
      const url = decodeHtmlEntities(d ?? s ?? b ?? '');
      const shown = decodeHtmlEntities(label.replace(/<[^>]*>/g, '')).trim();
      return !shown || shown === url ? url : `${shown} (${url})`;
    })
    .replace(/<img\b[^>]*>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '\n- ')
    .replace(/<\/(p|div|h[1-6]|tr|ul|ol|table|blockquote)\s*>/gi, '\n\n')
    .replace(/<[^>]+>/g, '');
  return decodeHtmlEntities(text)
    .split('\n')
    .map((line) => line.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const ABORTED_REASON = 'SMTP: no answer before the timeout (the relay may still have taken it; a resubmission carries the same Message-ID)';

/** What the classification reads of a failure: smtp-client.ts's SmtpError, or anything shaped like it. */
interface SmtpFailure extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  permanent?: boolean;
}

/** An SMTP failure as an outcome: a 5xx reply refuses the message for good; a 4xx reply, a
 * dropped or timed-out connection and a failed login (the relay's problem, not the message's)
 * try later. */
export function classifySmtpError(messageId: string, error: SmtpFailure): SubmitResult {
  const reply = error.response?.replace(/\s+/g, ' ').trim();
  const at = error.command ? `${error.command.split(' ')[0]} → ` : '';
  if (error.responseCode !== undefined) {
    const detail = `${at}${reply ?? error.responseCode}`;
    // 503 (bad sequence of commands) is the session's problem, not the message's.
    const permanent = error.code !== 'EAUTH' && (error.permanent ?? (error.responseCode >= 500 && error.responseCode !== 503));
    return permanent
      ? { messageId, outcome: 'rejected', reason: `SMTP ${reply ?? error.responseCode}`, detail }
      : { messageId, outcome: 'transient', reason: `SMTP ${reply ?? error.responseCode}`, detail };
  }
  // Refused by the mailer before anything was sent: an address it cannot write into an envelope.
  if (error.code === 'EENVELOPE') return { messageId, outcome: 'rejected', reason: `SMTP envelope: ${error.message}` };
  return { messageId, outcome: 'transient', reason: `SMTP ${error.code ?? 'error'}: ${error.message}` };
}

export const smtpAdapter = defineAdapter({
  type: 'smtp',
  settings: smtpSettings,
  createClient(settings) {
    const client = new SmtpPool({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      requireTLS: settings.requireTLS,
      rejectUnauthorized: !settings.allowInvalidCertificate,
      auth: settings.user !== undefined ? { user: settings.user, pass: settings.password! } : undefined,
      maxConnections: settings.maxConnections,
      maxMessagesPerConnection: settings.maxMessagesPerConnection,
      connectionTimeoutMs: settings.connectionTimeoutMs,
      greetingTimeoutMs: settings.greetingTimeoutMs,
      socketTimeoutMs: settings.socketTimeoutMs,
    });

    async function sendOne(message: OutgoingMessage, signal: AbortSignal): Promise<SubmitResult> {
      if (!message.sender) return { messageId: message.messageId, outcome: 'rejected', reason: 'no sender address (From) on the message' };
      const domain = settings.messageIdDomain ?? addressDomain(message.sender) ?? settings.host;
      const body = message.text ?? '';
      const subject = typeof message.payload?.subject === 'string' ? message.payload.subject : '';
      const content = isHtml(body) ? { html: body, text: htmlToText(body) } : { text: decodeHtmlEntities(body) };
      const messageIdHeader = messageIdFor(message.sendId, domain);
      try {
        const email = composeEmail({ from: message.sender, to: message.recipient, subject, ...content, messageId: messageIdHeader, date: new Date() }, settings.returnPath);
        const answer = await client.send({ from: email.envelope.from, to: email.envelope.to[0]! }, email.raw, signal);
        const response = answer.text.replace(/\s+/g, ' ').trim();
        // Microsoft 365 and Amazon SES replace the Message-ID with one of their own and name it here.
        const serverMessageId = parseServerMessageId(answer.text, settings.host);
        const server = serverMessageId && serverMessageId !== messageIdHeader ? ` (server id ${serverMessageId})` : '';
        return { messageId: message.messageId, outcome: 'accepted', providerMessageId: messageIdHeader, detail: `${response}${server}` };
      } catch (error) {
        if (signal.aborted) {
          return { messageId: message.messageId, outcome: 'transient', reason: ABORTED_REASON };
        }
        return classifySmtpError(message.messageId, error as SmtpFailure);
      }
    }

    return {
      maxBatchSize: settings.batchSize,
      async start() {
        if (settings.verifyOnStart) await client.verify();
      },
      async stop() {
        client.close();
      },
      async submit(batch, signal) {
        // An abort withdraws the sends no connection has taken yet (smtp-client.ts).
        // The pool queues what its connections cannot take yet: all go at once, maxConnections in flight.
        const results: (SubmitResult | undefined)[] = batch.map(() => undefined);
        const all = Promise.all(batch.map(async (message, i) => (results[i] = await sendOne(message, signal))));
        let onAbort: (() => void) | undefined;
        const aborted = new Promise<void>((resolve) => (onAbort = resolve));
        signal.addEventListener('abort', onAbort!, { once: true });
        // A send that does not stop on the abort must not hold the batch past the provider's timeout.
        await Promise.race([all, aborted]).finally(() => signal.removeEventListener('abort', onAbort!));
        return results.map((r, i) => r ?? { messageId: batch[i]!.messageId, outcome: 'transient', reason: ABORTED_REASON });
      },
    };
  },

  webhook(settings, ctx) {
    const secret = settings.webhookSecret ?? ctx.webhookSecret;
    return (req: WebhookRequest) => {
      if (req.method !== 'POST') throw new WebhookRejected(404, 'the SMTP bounce webhook takes POST only');
      requireXSignature(req.headers, secret, req.rawBody);
      let json: unknown;
      try {
        json = JSON.parse(req.rawBody.toString('utf8'));
      } catch {
        throw new WebhookRejected(400, 'body is not JSON');
      }
      const parsed = bounceBody.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new WebhookRejected(400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
      }
      return { receipts: parsed.data.bounces.map(bounceReceipt) };
    };
  },
});

const bounceBody = z.object({
  bounces: z
    .array(
      z.object({
        messageId: z.string().min(3).max(998),
        type: z.enum(['hard', 'soft', 'complaint', 'delivered']),
        description: z.string().max(900).optional(),
      }),
    )
    .min(1)
    .max(10_000),
});

const BOUNCE_STATUS: Record<z.infer<typeof bounceBody>['bounces'][number]['type'], MessageStatus> = {
  hard: 'UNDELIVERED',
  // Still being retried by the receiving side: in flight, not final.
  soft: 'PENDING',
  // A spam complaint proves the message reached the mailbox: DELIVERED, the complaint in the log
  // (a message already DELIVERED or READ keeps its status; the event is still recorded).
  complaint: 'DELIVERED',
  delivered: 'DELIVERED',
};

function bounceReceipt(bounce: z.infer<typeof bounceBody>['bounces'][number]): ProviderReceipt {
  const label = bounce.type === 'complaint' ? 'complaint (marked as spam)' : bounce.type === 'delivered' ? 'delivered' : `${bounce.type} bounce`;
  return {
    providerMessageId: normalizedMessageId(bounce.messageId),
    status: BOUNCE_STATUS[bounce.type],
    description: bounce.description ? `${label}: ${bounce.description}` : label,
  };
}
