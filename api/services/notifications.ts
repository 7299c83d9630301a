import { hash, randomUUID } from 'node:crypto';
import { uuidv7 } from '../../db/ids';
import type { Pool } from 'pg';
import type { AppConfig, Channel } from '../../core/config';
import { isValidEmail, normalizePhone } from '../../core/phone';
import { shortLinkUrl, trackLinks, type LinkTracking, type ShortLinkTarget, type TrackedText } from '../../core/links';
import { missingVariables, renderText, type Variables } from '../../core/render';
import { nextWindowOpening } from '../../core/send-window';
import { routePricePerPart } from '../../core/providers';
import { messageCost, smsInfo } from '../../core/sms';
import type { TemplateRecord } from '../../db/entities';
import { BULK_CHUNK, type NewMessage } from '../../db/messages';
import { sendWriter, writeSends, type NewSend } from '../../db/sends';
import { streamWorkflowId } from '../../workflows/definitions';
import { HttpError, unprocessable, type ErrorDetail } from '../errors';
import type { RecipientInput, TemplateChannel } from '../schemas';
import { newShortCode } from './links';
import { messageSender } from './templates';

export interface RenderedChannel {
  text: string | null;
  payload: Record<string, unknown>;
  parts: number;
  /** The short links in `text` (with `shortenLinks`): stored with the message. */
  links: ShortLinkTarget[];
}

/**
 * Renders one channel of a template for one recipient's variables. With `shortenLinks`, the text's
 * links are tracked (core/links.ts) before SMS parts are counted, so parts and cost are those of
 * the text as sent. WhatsApp sends an approved template: its parameters are not rewritten.
 */
export function renderChannel(channel: TemplateChannel, vars: Variables, tracking: LinkTracking): RenderedChannel {
  const tracked = (text: string): TrackedText => (channel.shortenLinks ? trackLinks(channel.channel, text, tracking) : { text, links: [] });
  switch (channel.channel) {
    case 'sms': {
      const { text, links } = tracked(renderText(channel.text, vars));
      return { text, payload: {}, parts: smsInfo(text).parts, links };
    }
    case 'email': {
      const { text, links } = tracked(renderText(channel.text, vars, { html: true }));
      return { text, payload: { subject: renderText(channel.subject, vars) }, parts: 1, links };
    }
    case 'push':
      return { ...tracked(renderText(channel.text, vars)), payload: {}, parts: 1 };
    case 'viber':
      return {
        ...tracked(renderText(channel.text, vars)),
        payload: {
          imageUrl: channel.imageUrl ? renderText(channel.imageUrl, vars) : undefined,
          buttonUrl: channel.buttonUrl ? renderText(channel.buttonUrl, vars) : undefined,
          buttonText: channel.buttonText ? renderText(channel.buttonText, vars) : undefined,
        },
        parts: 1,
      };
    case 'whatsapp': {
      const templateData = Object.fromEntries(Object.entries(channel.templateData).map(([k, v]) => [k, renderText(v, vars)]));
      return {
        text: `${channel.templateName} ${JSON.stringify(templateData)}`,
        payload: {
          templateName: channel.templateName,
          templateNamespace: channel.templateNamespace,
          language: channel.language,
          templateData,
          mediaUrl: channel.mediaUrl ? renderText(channel.mediaUrl, vars) : undefined,
        },
        parts: 1,
        links: [],
      };
    }
    case 'chat':
      return {
        ...tracked(renderText(channel.text, vars)),
        payload: { chatId: channel.chatId, botId: channel.botId, messenger: channel.messenger },
        parts: 1,
      };
  }
}

/** A problem with one recipient, named by its field (`phone`, `email`, `pushToken`, `variables`). */
export interface RecipientProblem {
  field: 'phone' | 'email' | 'pushToken' | 'variables';
  message: string;
}

interface ResolvedRecipient {
  address?: string;
  country?: string;
  problem?: RecipientProblem;
}

/** A recipient as a send or a file row gives it; a chat file row names the chat itself. */
export type PlannedRecipient = RecipientInput & { chatId?: string };

/** The recipient's address on a channel: E.164 phone, e-mail, push token or chat id. */
function addressFor(channel: Channel, recipient: PlannedRecipient, defaultCountry?: string): ResolvedRecipient {
  if (channel === 'email') {
    if (!recipient.email) return { problem: { field: 'email', message: 'an email address is needed for the email channel' } };
    if (!isValidEmail(recipient.email)) return { problem: { field: 'email', message: `"${recipient.email}" is not a valid email address` } };
    return { address: recipient.email.toLowerCase() };
  }
  if (channel === 'push') {
    if (!recipient.pushToken) return { problem: { field: 'pushToken', message: 'a push token is needed for the push channel' } };
    return { address: recipient.pushToken };
  }
  if (channel === 'chat' && recipient.chatId) return { address: recipient.chatId };
  if (channel === 'chat' && !recipient.phone) {
    if (!recipient.externalId) return { problem: { field: 'phone', message: 'a phone or externalId is needed for the chat channel' } };
    return { address: recipient.externalId };
  }
  if (!recipient.phone) return { problem: { field: 'phone', message: `a phone number is needed for the ${channel} channel` } };
  const phone = normalizePhone(recipient.phone, defaultCountry);
  if (!phone) return { problem: { field: 'phone', message: `"${recipient.phone}" is not a valid phone number` } };
  return { address: phone.e164, country: phone.country };
}

/** What a recipient is sent: a template's channels (or a file row's own), with its values. */
export interface RecipientPlan {
  taskId: string;
  /** The recipient's place in its task (1-based): part of each message's send id. */
  seq: number;
  channels: readonly TemplateChannel[];
  template: { id: string | null; name: string | null; variables: readonly string[] };
  recipient: PlannedRecipient;
  variables: Variables;
  /** When the messages are created outside the send window: DELAYED until this opening. */
  delayedUntil?: Date | null;
}

/**
 * The message rows of one recipient, one per channel (the same for API sends and file rows), or
 * what is wrong with the recipient. A fallback channel the recipient has no address for is simply
 * not offered.
 */
export function planRecipient(plan: RecipientPlan, config: AppConfig): { rows: NewMessage[]; problems: RecipientProblem[] } {
  const problems: RecipientProblem[] = [];
  const missing = missingVariables(plan.template.variables, plan.variables);
  if (missing.length > 0) problems.push({ field: 'variables', message: `missing values for: ${missing.join(', ')}` });
  // The group's id is its first message's id: the fallback sweep finds a group's first row by its
  // primary key, so `messages_group` needs entries only for the later channels' rows — none for a
  // single-channel send (Migration20261201000000_group_first_row).
  const groupId = uuidv7();
  const rows: NewMessage[] = [];
  plan.channels.forEach((channel, channelIndex) => {
    const resolved = addressFor(channel.channel, plan.recipient, config.defaultPhoneCountry);
    if (resolved.problem) {
      if (channel.mandatory || channelIndex === 0) problems.push(resolved.problem);
      return;
    }
    const id = channelIndex === 0 ? groupId : uuidv7();
    const rendered = renderChannel(channel, plan.variables, { publicUrl: config.api.publicUrl, messageId: id, newCode: newShortCode });
    const sender = messageSender(channel);
    const price = routePricePerPart(config.priceTable, config.providers, channel.channel, sender, resolved.country);
    const delayed = channel.mandatory && plan.delayedUntil ? plan.delayedUntil : null;
    rows.push({
      id,
      taskId: plan.taskId,
      groupId,
      sendId: `${plan.taskId}:${plan.seq}:${channel.channel}`,
      seq: plan.seq,
      channel: channel.channel,
      channelIndex,
      optional: !channel.mandatory,
      status: delayed ? 'DELAYED' : 'CREATED',
      statusDescription: channel.mandatory ? (delayed ? 'outside the send window' : null) : 'Created, but optional',
      delayedStartAt: delayed,
      sender,
      recipient: resolved.address!,
      externalId: plan.recipient.externalId ?? null,
      text: rendered.text,
      payload: rendered.payload,
      variables: Object.keys(plan.variables).length > 0 ? plan.variables : null,
      templateId: plan.template.id,
      templateName: plan.template.name,
      parts: rendered.parts,
      cost: messageCost(rendered.parts, price),
      lifetimeSeconds: channel.lifetimeMinutes * 60,
      shortLink: rendered.links[0] ? shortLinkUrl(config.api.publicUrl, rendered.links[0].code) : null,
      links: rendered.links,
    });
  });
  return { rows, problems };
}

export interface SendRequest {
  template: TemplateRecord;
  variables: Variables;
  recipients: RecipientInput[];
  createdBy: string;
  idempotencyKey?: string;
}

export interface SendResponse {
  taskId: string;
  messages: { id: string; channel: string; recipient: string; status: string; optional: boolean }[];
}

/** Builds every message row of a send (one per recipient per channel) or throws 422 with every problem. */
export function planMessages(req: SendRequest, taskId: string, config: AppConfig, now = new Date()): NewMessage[] {
  // Outside the template's send window, messages are created DELAYED until it opens.
  const opening = nextWindowOpening(now, req.template.sendWindows, req.template.timezone);
  const details: ErrorDetail[] = [];
  const rows: NewMessage[] = [];
  req.recipients.forEach((recipient, index) => {
    const planned = planRecipient(
      {
        taskId,
        seq: index + 1,
        channels: req.template.channels as unknown as TemplateChannel[],
        template: req.template,
        recipient,
        variables: { ...req.variables, ...recipient.variables },
        delayedUntil: opening.getTime() > now.getTime() ? opening : null,
      },
      config,
    );
    for (const p of planned.problems) details.push({ path: `recipients.${index}.${p.field}`, message: p.message });
    rows.push(...planned.rows);
  });
  if (details.length > 0) throw unprocessable('some recipients cannot be sent to', details);
  return rows;
}

/** What a repeated Idempotency-Key is compared by: the template, the variables and the recipients. */
function requestHash(req: SendRequest): string {
  return hash('sha256', JSON.stringify({ t: req.template.id, v: req.variables, r: req.recipients }), 'hex');
}

/**
 * Records a send durably — its task, every message row and the idempotency key — in one
 * transaction, before the caller answers 202. Returns the stored answer for a repeated key.
 */
export async function recordSend(
  pool: Pool,
  config: AppConfig,
  req: SendRequest,
): Promise<{ response: SendResponse; created: boolean }> {
  const taskId = randomUUID();
  const rows = planMessages(req, taskId, config);
  const response: SendResponse = {
    taskId,
    messages: rows.map((m) => ({ id: m.id, channel: m.channel, recipient: m.recipient, status: m.status, optional: m.optional })),
  };
  const delayedUntil = rows.find((m) => m.delayedStartAt)?.delayedStartAt;
  const send: NewSend = {
    task: {
      id: taskId,
      name: `${req.template.name} (API)`,
      templateId: req.template.id,
      timezone: req.template.timezone,
      sendWindows: req.template.sendWindows,
      total: req.recipients.length,
      workflowId: streamWorkflowId(config.orchestratorTaskQueue),
      createdBy: req.createdBy,
      events: [
        { kind: 'created', detail: { source: 'api', recipients: req.recipients.length, messages: rows.length } },
        { kind: 'started', detail: {} },
        ...(delayedUntil ? [{ kind: 'waiting_for_window', detail: { until: delayedUntil.toISOString() } }] : []),
      ],
    },
    rows,
  };
  if (!req.idempotencyKey && rows.length <= BULK_CHUNK) {
    // Written with the sends of other requests arriving meanwhile, in one statement: durable when
    // this resolves, and the 202 only follows it.
    await sendWriter(pool).write(send);
    return { response, created: true };
  }
  const hash = req.idempotencyKey ? requestHash(req) : null;
  const client = await pool.connect();
  try {
    await client.query('begin');
    if (req.idempotencyKey) {
      // Waits for a concurrent request with the same key to commit, then finds its answer.
      const inserted = await client.query(
        `insert into idempotency_keys (api_key_id, key, request_hash, status_code, response) values ($1, $2, $3, 0, '{}')
         on conflict do nothing`,
        [req.createdBy, req.idempotencyKey, hash],
      );
      if (inserted.rowCount === 0) {
        await client.query('rollback');
        const { rows: stored } = await pool.query('select request_hash, response from idempotency_keys where api_key_id = $1 and key = $2', [
          req.createdBy,
          req.idempotencyKey,
        ]);
        if (stored[0].request_hash !== hash) {
          throw new HttpError(409, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request');
        }
        return { response: stored[0].response as SendResponse, created: false };
      }
    }
    await writeSends(client, [send]);
    if (req.idempotencyKey) {
      await client.query('update idempotency_keys set status_code = 202, response = $3 where api_key_id = $1 and key = $2', [
        req.createdBy,
        req.idempotencyKey,
        JSON.stringify(response),
      ]);
    }
    await client.query('commit');
    return { response, created: true };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
