import { z } from 'zod';
import { CHANNELS } from '../core/config';
import { MESSAGE_STATUSES } from '../core/status';

const MAX_LIFETIME_MINUTES = 7 * 24 * 60;
const hhmm = z.string().regex(/^([01]?\d|2[0-3]):[0-5]\d$|^24:00$/, 'expected HH:MM (00:00–23:59)');
export const sendWindowSchema = z.object({ from: hhmm, to: hhmm });
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });
const nonEmpty = (max: number) => z.string().trim().min(1, 'must not be empty').max(max);

const channelBase = {
  mandatory: z.boolean().optional(),
  lifetimeMinutes: z
    .number()
    .positive('must be greater than 0')
    .max(MAX_LIFETIME_MINUTES, `must be at most ${MAX_LIFETIME_MINUTES} (7 days)`)
    .default(1440),
  shortenLinks: z.boolean().default(false),
};

export const CHAT_MESSENGERS = ['whatsapp', 'viber', 'facebook', 'telegram', 'skype', 'slack', 'alice', 'imessage'] as const;

export const smsChannelSchema = z.strictObject({ channel: z.literal('sms'), ...channelBase, sender: nonEmpty(20), text: nonEmpty(5000) });
export const emailChannelSchema = z.strictObject({
  channel: z.literal('email'),
  ...channelBase,
  sender: nonEmpty(320),
  subject: nonEmpty(998),
  text: nonEmpty(500_000),
});
export const pushChannelSchema = z.strictObject({ channel: z.literal('push'), ...channelBase, sender: nonEmpty(100), text: nonEmpty(4000) });
export const viberChannelSchema = z
  .strictObject({
    channel: z.literal('viber'),
    ...channelBase,
    sender: nonEmpty(100),
    text: nonEmpty(1000),
    imageUrl: httpUrl.optional(),
    buttonUrl: httpUrl.optional(),
    buttonText: nonEmpty(30).optional(),
  })
  .refine((c) => Boolean(c.buttonUrl) === Boolean(c.buttonText), {
    message: 'buttonUrl and buttonText go together',
    path: ['buttonText'],
  });
export const whatsappChannelSchema = z.strictObject({
  channel: z.literal('whatsapp'),
  ...channelBase,
  sender: nonEmpty(100),
  templateName: z.string().regex(/^[a-z0-9_]{1,512}$/, 'lowercase letters, digits and _ (a WhatsApp template name)'),
  templateNamespace: nonEmpty(200).optional(),
  templateData: z.record(z.string(), z.string()).default({}),
  language: z.string().regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, 'a language code such as en or en_US'),
  mediaUrl: httpUrl.optional(),
});
export const chatChannelSchema = z.strictObject({
  channel: z.literal('chat'),
  ...channelBase,
  chatId: nonEmpty(200),
  botId: nonEmpty(200),
  messenger: z.enum(CHAT_MESSENGERS),
  text: nonEmpty(4096),
});

export const templateChannelSchema = z.discriminatedUnion('channel', [
  smsChannelSchema,
  emailChannelSchema,
  pushChannelSchema,
  viberChannelSchema,
  whatsappChannelSchema,
  chatChannelSchema,
]);
export type TemplateChannelInput = z.infer<typeof templateChannelSchema>;
/** A stored channel configuration: `mandatory` resolved. */
export type TemplateChannel = TemplateChannelInput & { mandatory: boolean };

export const templateInputSchema = z.strictObject({
  name: nonEmpty(200),
  timezone: z.string().default('UTC'),
  sendWindows: z.array(sendWindowSchema).max(24).default([]),
  channels: z.array(templateChannelSchema).min(1, 'a template needs at least one channel').max(CHANNELS.length),
});
export type TemplateInput = z.infer<typeof templateInputSchema>;

export const templateSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  timezone: z.string(),
  sendWindows: z.array(sendWindowSchema),
  channels: z.array(z.record(z.string(), z.unknown())),
  variables: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const variablesSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

export const recipientSchema = z.strictObject({
  externalId: z.string().max(200).optional(),
  phone: z.string().max(32).optional(),
  email: z.string().max(320).optional(),
  pushToken: z.string().max(4096).optional(),
  variables: variablesSchema.default({}),
});
export type RecipientInput = z.infer<typeof recipientSchema>;

export const MAX_RECIPIENTS_PER_CALL = 10_000;
export const sendNotificationSchema = z.strictObject({
  templateId: z.uuid(),
  variables: variablesSchema.default({}),
  // The 10,000 cap is enforced in the handler so it can answer 413, as API.md says.
  recipients: z.array(recipientSchema).min(1, 'at least one recipient'),
});

export const messageStatusSchema = z.enum(MESSAGE_STATUSES);
export const channelSchema = z.enum(CHANNELS);

export const sentMessageSchema = z.object({
  id: z.uuid(),
  channel: channelSchema,
  recipient: z.string(),
  status: messageStatusSchema,
  optional: z.boolean(),
});
export const sendNotificationResponse = z.object({ taskId: z.uuid(), messages: z.array(sentMessageSchema) });
