/**
 * The six task files (shared/API.md, "Notification tasks"): which columns each has, which are
 * required, what each means, an example value, and the lists Excel offers for it. One definition,
 * read by the downloads (the .xlsx templates to fill) and by the import (which column means what).
 */
import { CHANNELS, CHAT_MESSENGERS } from './config';

export const TASK_FILE_TYPES = ['sms', 'sponsored', 'chat', 'whatsapp-chat', 'universal', 'full'] as const;
export type TaskFileType = (typeof TASK_FILE_TYPES)[number];


/** Languages of WhatsApp message templates (Meta's list of supported codes). */
export const WHATSAPP_LANGUAGES = [
  'af', 'sq', 'ar', 'az', 'bn', 'bg', 'ca', 'zh_CN', 'zh_HK', 'zh_TW', 'hr', 'cs', 'da', 'nl', 'en', 'en_GB', 'en_US', 'et',
  'fil', 'fi', 'fr', 'ka', 'de', 'el', 'gu', 'ha', 'he', 'hi', 'hu', 'id', 'ga', 'it', 'ja', 'kn', 'kk', 'rw_RW', 'ko', 'ky_KG',
  'lo', 'lv', 'lt', 'mk', 'ms', 'ml', 'mr', 'nb', 'fa', 'pl', 'pt_BR', 'pt_PT', 'pa', 'ro', 'ru', 'sr', 'sk', 'sl', 'es',
  'es_AR', 'es_ES', 'es_MX', 'sw', 'sv', 'ta', 'te', 'th', 'tr', 'uk', 'ur', 'uz', 'vi', 'zu',
] as const;

export interface TaskFileColumn {
  /** Exactly as in row 1 of the sheet. */
  name: string;
  required: boolean;
  description: string;
  example: string;
  /** Allowed values, offered as an Excel list. */
  list?: readonly string[];
}

/** Prefix of a universal file's variable columns: `var:name` fills `{name}`. */
export const VARIABLE_COLUMN_PREFIX = 'var:';

const recipientPhone = (what: string): TaskFileColumn => ({
  name: 'phone',
  required: true,
  description: `The recipient's mobile number for ${what}, international (+7 999 123-45-67) or national when the server has a default country. Each number once per task: repeats are dropped and counted.`,
  example: '+79991234567',
});
const externalId: TaskFileColumn = {
  name: 'externalId',
  required: false,
  description: 'Your own id of the recipient (e.g. the CRM client id), kept on every message and in the export.',
  example: 'crm-42',
};
const senderColumn = (channel: string): TaskFileColumn => ({
  name: 'sender',
  required: true,
  description: `A sender name approved for ${channel} (GET /api/v1/senders).`,
  example: 'ACME',
});

/** Per channel, its fields in a `full` file, named `<channel>.<field>` (the example row sends
 * Viber with an SMS fallback, so only those have example values). */
const FULL_CHANNEL_FIELDS: Record<(typeof CHANNELS)[number], TaskFileColumn[]> = {
  sms: [
    { name: 'sms.sender', required: false, description: 'SMS: approved sender name.', example: 'ACME' },
    { name: 'sms.text', required: false, description: 'SMS: the text (GSM-7: 160 characters a part, 153 when split; otherwise 70 / 67).', example: 'Your order A-1 is ready' },
  ],
  email: [
    { name: 'email.sender', required: false, description: 'Email: the approved From address.', example: '' },
    { name: 'email.subject', required: false, description: 'Email: the subject.', example: '' },
    { name: 'email.text', required: false, description: 'Email: the body (HTML allowed).', example: '' },
  ],
  push: [
    { name: 'push.sender', required: false, description: 'Push: the approved sender (app) name.', example: '' },
    { name: 'push.text', required: false, description: 'Push: the notification text.', example: '' },
  ],
  viber: [
    { name: 'viber.sender', required: false, description: 'Viber: approved sender name.', example: 'ACME' },
    { name: 'viber.text', required: false, description: 'Viber: the text, up to 1,000 characters.', example: 'Your order A-1 is ready' },
    { name: 'viber.imageUrl', required: false, description: 'Viber: an http(s) link to an image.', example: 'https://example.com/i.png' },
    { name: 'viber.buttonText', required: false, description: 'Viber: the button caption (with viber.buttonUrl).', example: 'Track' },
    { name: 'viber.buttonUrl', required: false, description: 'Viber: the button link (with viber.buttonText).', example: 'https://example.com/o/1' },
  ],
  whatsapp: [
    { name: 'whatsapp.sender', required: false, description: 'WhatsApp: approved sender (business number) name.', example: '' },
    { name: 'whatsapp.templateName', required: false, description: 'WhatsApp: the approved message template name.', example: '' },
    { name: 'whatsapp.templateData', required: false, description: 'WhatsApp: the template parameters as JSON, e.g. {"1":"Ann","2":"A-1"}.', example: '' },
    { name: 'whatsapp.language', required: false, description: 'WhatsApp: the template language code.', example: '', list: WHATSAPP_LANGUAGES },
    { name: 'whatsapp.mediaUrl', required: false, description: 'WhatsApp: an http(s) link to the header media.', example: '' },
  ],
  chat: [
    { name: 'chat.messenger', required: false, description: 'Chat: the messenger.', example: '', list: CHAT_MESSENGERS },
    { name: 'chat.chatId', required: false, description: 'Chat: the chat id in that messenger.', example: '' },
    { name: 'chat.botId', required: false, description: 'Chat: the bot that writes.', example: '' },
    { name: 'chat.text', required: false, description: 'Chat: the text.', example: '' },
  ],
};

/** How many channels a `full` row may list, in fallback order (`channel1` … `channel6`). */
export const FULL_CHANNEL_SLOTS = CHANNELS.length;
export const fullChannelColumn = (slot: number) => `channel${slot}`;

/**
 * The columns of a task file, in sheet order. A `universal` file gets one `var:<name>` column per
 * variable of the template it is downloaded for.
 */
export function taskFileColumns(type: TaskFileType, variables: readonly string[] = []): TaskFileColumn[] {
  switch (type) {
    case 'sms':
      return [
        recipientPhone('SMS'),
        { name: 'text', required: true, description: 'The SMS text. GSM-7: 160 characters in one part, 153 per part when longer; one other character makes it UCS-2: 70 / 67.', example: 'Your order A-1 is ready' },
        senderColumn('SMS'),
        externalId,
      ];
    case 'sponsored':
      return [
        recipientPhone('Viber'),
        { name: 'text', required: true, description: 'The Viber message text, up to 1,000 characters.', example: 'Spring sale: -20% on everything' },
        { name: 'imageUrl', required: false, description: 'An http(s) link to the image shown with the message.', example: 'https://example.com/sale.png' },
        { name: 'buttonText', required: false, description: 'The button caption, up to 30 characters (needs buttonUrl).', example: 'Shop now' },
        { name: 'buttonUrl', required: false, description: 'The http(s) link the button opens (needs buttonText).', example: 'https://example.com/sale' },
        senderColumn('Viber'),
        externalId,
      ];
    case 'chat':
      return [
        { name: 'messenger', required: true, description: 'The messenger the chat session starts in.', example: 'telegram', list: CHAT_MESSENGERS },
        { name: 'chatId', required: true, description: 'The chat (user) id in that messenger. Each chat once per task: repeats are dropped and counted.', example: '123456789' },
        { name: 'botId', required: true, description: 'The bot that starts the session.', example: 'acme_bot' },
        { name: 'text', required: true, description: 'The first message, up to 4,096 characters.', example: 'Hello! How can we help?' },
        externalId,
      ];
    case 'whatsapp-chat':
      return [
        recipientPhone('WhatsApp'),
        { name: 'templateName', required: true, description: 'The approved WhatsApp message template (lowercase letters, digits and _).', example: 'order_ready' },
        { name: 'templateData', required: false, description: 'The template parameters as JSON: {"1":"Ann","2":"A-1"} (positional) or {"name":"Ann"} (named).', example: '{"1":"Ann","2":"A-1"}' },
        { name: 'language', required: true, description: 'The template language code.', example: 'en', list: WHATSAPP_LANGUAGES },
        { name: 'mediaUrl', required: false, description: 'An http(s) link to the header image, video or document, if the template has one.', example: '' },
        senderColumn('WhatsApp'),
        externalId,
      ];
    case 'universal':
      return [
        { name: 'templateId', required: false, description: 'The template to send (GET /api/v1/templates). Empty: the templateId given with the upload.', example: '' },
        externalId,
        { name: 'phone', required: false, description: "The recipient's mobile number, for the template's phone channels (SMS, Viber, WhatsApp, chat).", example: '+79991234567' },
        { name: 'email', required: false, description: "The recipient's email address, for the template's email channel.", example: 'ann@example.com' },
        { name: 'pushToken', required: false, description: "The recipient's device token, for the template's push channel.", example: '' },
        ...variables.map((name) => ({
          name: `${VARIABLE_COLUMN_PREFIX}${name}`,
          required: true,
          description: `The value of {${name}} in the template's texts.`,
          example: name === 'name' ? 'Ann' : `${name}-1`,
        })),
      ];
    case 'full':
      return [
        externalId,
        { name: 'phone', required: false, description: "The recipient's mobile number (SMS, Viber, WhatsApp; chat when chat.chatId is empty).", example: '+79991234567' },
        { name: 'email', required: false, description: "The recipient's email address (email channel).", example: 'ann@example.com' },
        { name: 'pushToken', required: false, description: "The recipient's device token (push channel).", example: '' },
        ...Array.from({ length: FULL_CHANNEL_SLOTS }, (_, i) => ({
          name: fullChannelColumn(i + 1),
          required: i === 0,
          description:
            i === 0
              ? 'The first channel to send on (always sent). Its fields are the columns named after it.'
              : `Fallback channel ${i + 1}: sent only if every channel before it failed. Empty: no more fallbacks.`,
          example: i === 0 ? 'viber' : i === 1 ? 'sms' : '',
          list: CHANNELS,
        })),
        ...CHANNELS.flatMap((channel) => FULL_CHANNEL_FIELDS[channel]),
      ];
  }
}
