import { z } from 'zod';
import { CHANNELS, CHAT_MESSENGERS } from '../core/config';
import { SENDER_RULES, senderNameProblem } from '../core/senders';
import { MESSAGE_STATUSES } from '../core/status';

/** Seven days: the longest a channel attempt may wait for a final status. */
export const MAX_LIFETIME_MINUTES = 7 * 24 * 60;

/**
 * An object schema that rejects unknown fields with one issue per field, each naming it
 * (`channels.0.colour: unknown field "colour"`). `z.strictObject` reports them all at the object's
 * own path, which for a request body is the empty path. Typed (and documented in OpenAPI) as strict.
 */
export function closedObject<T extends z.core.$ZodLooseShape>(shape: T): z.ZodObject<T, z.core.$strict> {
  const known = new Set(Object.keys(shape));
  const schema = z
    .looseObject(shape)
    .superRefine(
      (value, ctx) => {
        for (const key of Object.keys(value)) {
          if (!known.has(key)) ctx.addIssue({ code: 'custom', path: [key], message: `unknown field "${key}"` });
        }
      },
      // Also when other fields are wrong: every problem is reported in one answer.
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
    )
    .meta({ additionalProperties: false });
  return schema as unknown as z.ZodObject<T, z.core.$strict>;
}

const HHMM = /^([01]?\d|2[0-3]):[0-5]\d$|^24:00$/;
/** `H:MM` or `HH:MM`, stored as `HH:MM`. Content rules (24:00 only as `to`, no empty window) are
 * checked by core/send-window.ts's validateSendWindows, as 422 naming `sendWindows.N.from`. */
const hhmm = z
  .string()
  .regex(HHMM, 'expected HH:MM (00:00–23:59, or 24:00 as the end)')
  .transform((value) => value.padStart(5, '0'));
export const sendWindowSchema = closedObject({ from: hhmm, to: hhmm });
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });
const nonEmpty = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `at most ${max} characters`);
/** A sender name that must also be a valid name on its channel (core/senders.ts). */
const senderFor = (channel: string, max: number) =>
  nonEmpty(max).refine((name) => senderNameProblem(channel, name) === undefined, { message: SENDER_RULES[channel] ?? 'not a valid sender' });

const channelBase = {
  /** Defaults to true for the first channel and false for the rest (resolved when saved). */
  mandatory: z.boolean().optional(),
  /** Fractional minutes allowed (tests use seconds); counted from the attempt's first dispatch. */
  lifetimeMinutes: z
    .number()
    .positive('must be greater than 0')
    .max(MAX_LIFETIME_MINUTES, `must be at most ${MAX_LIFETIME_MINUTES} (7 days)`)
    .default(1440),
  shortenLinks: z.boolean().default(false),
};


export const smsChannelSchema = closedObject({ channel: z.literal('sms'), ...channelBase, sender: senderFor('sms', 16), text: nonEmpty(5000) });
export const emailChannelSchema = closedObject({
  channel: z.literal('email'),
  ...channelBase,
  /** The From: an address, optionally with a display name (`ACME <news@acme.com>`). */
  sender: senderFor('email', 320),
  subject: nonEmpty(998),
  /** HTML allowed; variable values are HTML-escaped when rendered. */
  text: nonEmpty(500_000),
});
export const pushChannelSchema = closedObject({ channel: z.literal('push'), ...channelBase, sender: nonEmpty(100), text: nonEmpty(4000) });
export const viberChannelSchema = closedObject({
  channel: z.literal('viber'),
  ...channelBase,
  sender: nonEmpty(100),
  text: nonEmpty(1000),
  imageUrl: httpUrl.optional(),
  buttonUrl: httpUrl.optional(),
  buttonText: nonEmpty(30).optional(),
}).superRefine(
  (c, ctx) => {
    // A Viber button is a caption and a link: one without the other cannot be sent.
    if (c.buttonUrl !== undefined && c.buttonText === undefined) {
      ctx.addIssue({ code: 'custom', path: ['buttonText'], message: 'required when buttonUrl is given (a button needs its caption)' });
    }
    if (c.buttonText !== undefined && c.buttonUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['buttonUrl'], message: 'required when buttonText is given (a button needs its link)' });
    }
  },
  { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
);
/** WhatsApp template parameters: positional (`"1"`, `"2"`) or named (lowercase letters, digits, _). */
const TEMPLATE_DATA_KEY_RULE = 'a parameter name is 1 to 64 lowercase letters, digits and _ (e.g. "1" or "order_id")';
const templateDataKey = z.string().regex(/^[a-z0-9_]{1,64}$/, TEMPLATE_DATA_KEY_RULE);
export const whatsappChannelSchema = closedObject({
  channel: z.literal('whatsapp'),
  ...channelBase,
  sender: nonEmpty(100),
  templateName: z.string().regex(/^[a-z0-9_]{1,512}$/, 'lowercase letters, digits and _ (a WhatsApp template name)'),
  templateNamespace: nonEmpty(200).optional(),
  /** Parameter values; each may hold `{variable}` placeholders. */
  templateData: z
    .record(templateDataKey, nonEmpty(1024), { error: (issue) => (issue.code === 'invalid_key' ? TEMPLATE_DATA_KEY_RULE : undefined) })
    .refine((data) => Object.keys(data).length <= 100, 'at most 100 parameters')
    .default({}),
  language: z.string().regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, 'a language code such as en or en_US'),
  mediaUrl: httpUrl.optional(),
});
export const chatChannelSchema = closedObject({
  channel: z.literal('chat'),
  ...channelBase,
  chatId: nonEmpty(200),
  botId: nonEmpty(200),
  messenger: z.enum(CHAT_MESSENGERS, { error: `one of ${CHAT_MESSENGERS.join(', ')}` }),
  text: nonEmpty(4096),
});

export const templateChannelSchema = z.discriminatedUnion(
  'channel',
  [smsChannelSchema, emailChannelSchema, pushChannelSchema, viberChannelSchema, whatsappChannelSchema, chatChannelSchema],
  { error: (issue) => (issue.code === 'invalid_union' ? `channel must be one of ${CHANNELS.join(', ')}` : undefined) },
);
export type TemplateChannelInput = z.infer<typeof templateChannelSchema>;
/** A stored channel configuration: `mandatory` resolved. */
export type TemplateChannel = TemplateChannelInput & { mandatory: boolean };

export const templateInputSchema = closedObject({
  name: nonEmpty(200),
  /** IANA time zone of the send windows; checked (422) and stored in its canonical spelling. */
  timezone: nonEmpty(100).default('UTC'),
  /** Empty or absent: any time. A window whose `to` is before its `from` crosses midnight. */
  sendWindows: z.array(sendWindowSchema).max(24, 'at most 24 windows').default([]),
  channels: z
    .array(templateChannelSchema)
    .min(1, 'a template needs at least one channel')
    .max(CHANNELS.length, `at most ${CHANNELS.length} channels (each channel once)`),
});
export type TemplateInput = z.infer<typeof templateInputSchema>;

export const templateSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  timezone: z.string(),
  sendWindows: z.array(z.object({ from: z.string(), to: z.string() })),
  channels: z.array(z.record(z.string(), z.unknown())),
  variables: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const variablesSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

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

/** `POST /api/v1/templates/:id/preview`. */
export const templatePreviewSchema = closedObject({
  variables: variablesSchema.default({}),
  /** Optional recipient phone: its country selects the price (PRICE_TABLE). */
  phone: z.string().max(32).optional(),
});
/** `POST /api/v1/templates/preview`: a template body not saved yet, previewed the same way. */
export const draftPreviewSchema = closedObject({
  template: templateInputSchema,
  variables: variablesSchema.default({}),
  phone: z.string().max(32).optional(),
});
export const templatePreviewResponse = z.object({
  templateId: z.uuid(),
  country: z.string().nullable(),
  variables: z.array(z.string()),
  channels: z.array(
    z.object({
      channel: channelSchema,
      mandatory: z.boolean(),
      sender: z.string().nullable(),
      text: z.string().nullable(),
      subject: z.string().optional(),
      payload: z.record(z.string(), z.unknown()),
      parts: z.number().int(),
      encoding: z.enum(['GSM-7', 'UCS-2']).optional(),
      units: z.number().int().optional(),
      pricePerPart: z.number(),
      cost: z.number(),
    }),
  ),
});
