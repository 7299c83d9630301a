import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { extractVariables } from '../../core/render';
import { validateSendWindows } from '../../core/send-window';
import { ChannelSettingSchema, SenderSchema, TemplateSchema, type TemplateRecord } from '../../db/entities';
import { unprocessable, type ErrorDetail } from '../errors';
import type { TemplateChannel, TemplateInput } from '../schemas';

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

export function channelSender(channel: TemplateChannel): string | null {
  return channel.channel === 'chat' ? null : channel.sender;
}

/** Checks what the shape alone cannot: timezone, windows, duplicate channels, enabled channels and
 * approved senders. Returns the template's channels with `mandatory` resolved (first: true). */
export async function validateTemplate(em: EntityManager, input: TemplateInput): Promise<TemplateChannel[]> {
  const details: ErrorDetail[] = [];
  for (const problem of validateSendWindows(input.sendWindows, input.timezone)) {
    details.push({ path: /timezone/i.test(problem) ? 'timezone' : 'sendWindows', message: problem });
  }
  const channels: TemplateChannel[] = input.channels.map((c, i) => ({ ...c, mandatory: c.mandatory ?? i === 0 }));
  const seen = new Set<string>();
  channels.forEach((c, i) => {
    if (seen.has(c.channel)) details.push({ path: `channels.${i}.channel`, message: `channel ${c.channel} is listed twice` });
    seen.add(c.channel);
  });
  const settings = await em.find(ChannelSettingSchema, {});
  const enabled = new Map(settings.map((s) => [s.channel as string, s.enabled]));
  const approved = await em.find(SenderSchema, { status: 'approved' });
  const approvedNames = new Set(approved.map((s) => `${s.channel}:${s.name}`));
  channels.forEach((c, i) => {
    if (!enabled.get(c.channel)) {
      details.push({ path: `channels.${i}.channel`, message: `channel ${c.channel} is disabled (an admin can enable it)` });
    }
    const sender = channelSender(c);
    if (sender !== null && !approvedNames.has(`${c.channel}:${sender}`)) {
      details.push({ path: `channels.${i}.sender`, message: `sender "${sender}" is not approved for ${c.channel}` });
    }
  });
  if (details.length > 0) throw unprocessable('the template cannot be used as given', details);
  return channels;
}

export function templateVariables(channels: TemplateChannel[]): string[] {
  return extractVariables(...channels.flatMap(channelTexts));
}

export async function createTemplate(em: EntityManager, input: TemplateInput): Promise<TemplateRecord> {
  const channels = await validateTemplate(em, input);
  const template = em.create(TemplateSchema, {
    id: randomUUID(),
    name: input.name,
    timezone: input.timezone,
    sendWindows: input.sendWindows,
    channels: channels as unknown as Record<string, unknown>[],
    variables: templateVariables(channels),
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  await em.flush();
  return template;
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
