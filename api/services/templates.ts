import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppConfig, Channel } from '../../core/config';
import { PREVIEW_SHORT_CODE, type LinkTracking } from '../../core/links';
import { normalizePhone } from '../../core/phone';
import { extractVariables, missingVariables, type Variables } from '../../core/render';
import { routePricePerPart } from '../../core/providers';
import { messageCost, smsInfo, type SmsEncoding } from '../../core/sms';
import { validateSendWindows } from '../../core/send-window';
import { ChannelSettingSchema, SenderSchema, TemplateSchema, type TemplateRecord } from '../../db/entities';
import { unprocessable, type ErrorDetail } from '../errors';
import type { TemplateChannel, TemplateInput } from '../schemas';
import { renderChannel } from './notifications';

/** Every text field of a channel configuration that may hold `{variable}` placeholders. */
export function channelTexts(channel: TemplateChannel): string[] {
  switch (channel.channel) {
    case 'email':
      return [channel.subject, channel.text];
    case 'viber':
      return [channel.text, channel.buttonText ?? '', channel.buttonUrl ?? '', channel.imageUrl ?? ''];
    case 'whatsapp':
      return [...Object.values(channel.templateData), channel.mediaUrl ?? ''];
    default:
      return [channel.text];
  }
}

/** Who a message appears to come from: the sender name, or for chat the bot. */
export function messageSender(channel: TemplateChannel): string {
  return channel.channel === 'chat' ? channel.botId : channel.sender;
}

export function channelSender(channel: TemplateChannel): string | null {
  return channel.channel === 'chat' ? null : channel.sender;
}

/** `sendWindows[1].from: …` (core/send-window.ts) → `{ path: 'sendWindows.1.from', message: '…' }`. */
export function windowProblemDetail(problem: string): ErrorDetail {
  const match = /^sendWindows\[(\d+)\](?:\.(from|to))?(?::\s*|\s+)(.*)$/s.exec(problem);
  if (match) return { path: ['sendWindows', match[1], match[2]].filter(Boolean).join('.'), message: match[3]! };
  return { path: problem.startsWith('sendWindows') ? 'sendWindows' : 'timezone', message: problem };
}

/** The canonical spelling of a valid IANA time zone (`europe/moscow` → `Europe/Moscow`). */
export function canonicalTimeZone(timezone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    return timezone;
  }
}

/** Checks what the shape alone cannot: timezone, windows, duplicate channels, an optional first
 * channel, enabled channels and approved senders. Throws 422 naming every problem's field; returns
 * the template's channels with `mandatory` resolved (first: true, the rest: false unless given). */
export async function validateTemplate(em: EntityManager, input: TemplateInput): Promise<TemplateChannel[]> {
  const details: ErrorDetail[] = [];
  for (const problem of validateSendWindows(input.sendWindows, input.timezone)) details.push(windowProblemDetail(problem));
  const channels: TemplateChannel[] = input.channels.map((c, i) => ({ ...c, mandatory: c.mandatory ?? i === 0 }));
  if (channels[0] && !channels[0].mandatory) {
    // Optional channels are fallbacks for earlier ones; the first has nothing to fall back from.
    details.push({ path: 'channels.0.mandatory', message: 'the first channel cannot be optional: an optional channel is a fallback for earlier ones' });
  }
  const seen = new Set<string>();
  channels.forEach((c, i) => {
    if (seen.has(c.channel)) details.push({ path: `channels.${i}.channel`, message: `channel ${c.channel} is listed twice` });
    seen.add(c.channel);
  });
  const settings = await em.find(ChannelSettingSchema, {});
  const enabled = new Map(settings.map((s) => [s.channel as string, s.enabled]));
  const senders = await em.find(SenderSchema, { name: { $in: [...new Set(channels.map(channelSender).filter((s): s is string => s !== null))] } });
  const status = new Map(senders.map((s) => [`${s.channel}:${s.name}`, s.status]));
  channels.forEach((c, i) => {
    if (!enabled.get(c.channel)) {
      details.push({ path: `channels.${i}.channel`, message: `channel ${c.channel} is disabled (an admin can enable it)` });
    }
    const sender = channelSender(c);
    const senderStatus = sender === null ? undefined : status.get(`${c.channel}:${sender}`);
    if (sender !== null && senderStatus !== 'approved') {
      const why = senderStatus === 'pending' ? ' (its request is pending)' : senderStatus === 'rejected' ? ' (it was rejected)' : '';
      details.push({ path: `channels.${i}.sender`, message: `sender "${sender}" is not approved for ${c.channel}${why}` });
    }
  });
  if (details.length > 0) throw unprocessable('the template cannot be used as given', details);
  return channels;
}

export function templateVariables(channels: TemplateChannel[]): string[] {
  return extractVariables(...channels.flatMap(channelTexts));
}

/** The stored form of a validated template input. */
async function templateFields(em: EntityManager, input: TemplateInput) {
  const channels = await validateTemplate(em, input);
  return {
    name: input.name,
    timezone: canonicalTimeZone(input.timezone),
    sendWindows: input.sendWindows,
    channels: channels as unknown as Record<string, unknown>[],
    variables: templateVariables(channels),
  };
}

export async function createTemplate(em: EntityManager, input: TemplateInput): Promise<TemplateRecord> {
  const now = new Date();
  const template = em.create(TemplateSchema, { id: randomUUID(), ...(await templateFields(em, input)), createdAt: now, updatedAt: now });
  await em.flush();
  return template;
}

/** A template body checked as a save would check it (senders approved, channels enabled), but not
 * stored: what the editor previews while it is being written. */
export async function draftTemplate(em: EntityManager, input: TemplateInput): Promise<TemplateRecord> {
  const now = new Date();
  return { id: DRAFT_TEMPLATE_ID, ...(await templateFields(em, input)), createdAt: now, updatedAt: now } as TemplateRecord;
}
/** The id a draft's preview answers with (a nil UUID: no template has it). */
export const DRAFT_TEMPLATE_ID = '00000000-0000-0000-0000-000000000000';

/** Replaces a template's content (running tasks keep the messages already rendered). */
export async function updateTemplate(em: EntityManager, template: TemplateRecord, input: TemplateInput): Promise<TemplateRecord> {
  Object.assign(template, await templateFields(em, input), { updatedAt: new Date() });
  await em.flush();
  return template;
}

export interface ChannelPreview {
  channel: Channel;
  mandatory: boolean;
  sender: string | null;
  text: string | null;
  subject?: string;
  payload: Record<string, unknown>;
  parts: number;
  encoding?: SmsEncoding;
  units?: number;
  pricePerPart: number;
  cost: number;
}

export interface TemplatePreview {
  templateId: string;
  country: string | null;
  variables: string[];
  channels: ChannelPreview[];
}

/** The message id an email preview's open pixel names: no message has it, so nothing is counted. */
const PREVIEW_MESSAGE_ID = '00000000-0000-0000-0000-000000000000';

/** Channels whose recipient is a phone number, so the phone's country selects the price. */
const PHONE_CHANNELS: ReadonlySet<string> = new Set(['sms', 'viber', 'whatsapp', 'chat']);

/**
 * Renders every channel of a template as a send would (same `renderChannel`; short links with a
 * placeholder code), with SMS encoding, parts and the cost from the price table. 422 listing
 * missing variables or naming an invalid phone.
 */
export function previewTemplate(template: TemplateRecord, input: { variables: Variables; phone?: string }, config: AppConfig): TemplatePreview {
  const details: ErrorDetail[] = [];
  const missing = missingVariables(template.variables, input.variables);
  if (missing.length > 0) details.push({ path: 'variables', message: `missing values for: ${missing.join(', ')}` });
  let country: string | undefined;
  if (input.phone !== undefined) {
    const phone = normalizePhone(input.phone, config.defaultPhoneCountry);
    if (!phone) details.push({ path: 'phone', message: `"${input.phone}" is not a valid phone number` });
    country = phone?.country;
  }
  if (details.length > 0) throw unprocessable('the template cannot be rendered with these values', details);
  // Links are shortened as a send would, with placeholder codes of the real length (nothing is stored).
  const previewTracking: LinkTracking = { publicUrl: config.api.publicUrl, messageId: PREVIEW_MESSAGE_ID, newCode: () => PREVIEW_SHORT_CODE };
  const channels = (template.channels as unknown as TemplateChannel[]).map((channel): ChannelPreview => {
    const rendered = renderChannel(channel, input.variables, previewTracking);
    const price = routePricePerPart(config.priceTable, config.providers, channel.channel, messageSender(channel), PHONE_CHANNELS.has(channel.channel) ? country : undefined);
    const payload = Object.fromEntries(Object.entries(rendered.payload).filter(([, v]) => v !== undefined));
    const preview: ChannelPreview = {
      channel: channel.channel,
      mandatory: channel.mandatory,
      sender: messageSender(channel),
      text: rendered.text,
      payload,
      parts: rendered.parts,
      pricePerPart: price,
      cost: messageCost(rendered.parts, price),
    };
    if (channel.channel === 'email') preview.subject = String(payload.subject ?? '');
    if (channel.channel === 'sms') {
      const info = smsInfo(rendered.text ?? '');
      preview.encoding = info.encoding;
      preview.units = info.units;
    }
    return preview;
  });
  return { templateId: template.id, country: country ?? null, variables: template.variables, channels };
}

export function presentTemplate(t: TemplateRecord) {
  return {
    id: t.id,
    name: t.name,
    timezone: t.timezone,
    sendWindows: t.sendWindows,
    channels: t.channels,
    variables: t.variables,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}
