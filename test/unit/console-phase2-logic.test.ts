import { templateInputSchema } from '../../api/schemas';
import {
  CHANNEL_FIELDS,
  detectVariables,
  draftTexts,
  draftToBody,
  emptyTemplateDraft,
  moveItem,
  newChannelDraft,
  pageCount,
  parsePairs,
  parseRecipients,
  missingSendVariables,
  anonymousRecipients,
  messagesSettled,
  statsPeriod,
  lastDays,
  everyDay,
  niceMax,
  taskOfConflict,
  templateToDraft,
  unusedChannels,
  type TemplateDraft,
} from '../../console/src/logic';
import { extractVariables } from '../../core/render';

/** The console's template editor and send-page logic (console/src/logic.ts, phase 2). */
describe('console template editor logic', () => {
  const draft: TemplateDraft = {
    name: ' Order ready ',
    timezone: 'Europe/Moscow',
    sendWindows: [{ from: '09:00', to: '21:00' }],
    channels: [
      { ...newChannelDraft('viber', 0), fields: { sender: 'ACME', text: 'Hi {name}', buttonUrl: '', buttonText: '' } },
      { ...newChannelDraft('sms', 1), lifetimeMinutes: '60', shortenLinks: true, fields: { sender: 'ACME', text: 'Order {order} for {name}' } },
      { ...newChannelDraft('whatsapp', 2), fields: { sender: 'ACME', templateName: 'order_ready', templateData: '1={name}\n2 = {track.no}\nnot a pair', language: 'en' } },
    ],
  };

  it('finds the variables as the API does (core/render.ts)', () => {
    const texts = draftTexts(draft);
    expect(detectVariables(texts)).toEqual(['name', 'order', 'track.no']);
    expect(detectVariables(texts)).toEqual(extractVariables(...texts));
    expect(detectVariables(['{1bad} { spaced } {ok_1}'])).toEqual(['ok_1']);
  });

  it('builds a body the API schema accepts: optional empty fields left out, first channel mandatory', () => {
    const body = draftToBody(draft);
    const parsed = templateInputSchema.safeParse(body);
    expect(parsed.success).toBe(true);
    const channels = body.channels as Record<string, unknown>[];
    expect(channels[0]).toEqual({ channel: 'viber', mandatory: true, shortenLinks: false, lifetimeMinutes: 1440, sender: 'ACME', text: 'Hi {name}' });
    expect(channels[1]).toMatchObject({ channel: 'sms', mandatory: false, lifetimeMinutes: 60, shortenLinks: true });
    expect(channels[2]!.templateData).toEqual({ '1': '{name}', '2': '{track.no}' });
    expect(body.name).toBe('Order ready');
  });

  it('sends an empty required field so that the API names it', () => {
    const body = draftToBody({ ...emptyTemplateDraft(), name: 'x' });
    const parsed = templateInputSchema.safeParse(body);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['channels.0.sender', 'channels.0.text']));
  });

  it('reads a saved template back into the same draft', () => {
    const saved = templateInputSchema.parse(draftToBody(draft));
    const back = templateToDraft({ name: saved.name, timezone: saved.timezone, sendWindows: saved.sendWindows, channels: saved.channels as unknown as Record<string, unknown>[] });
    expect(draftToBody(back)).toEqual(draftToBody({ ...draft, name: 'Order ready' }));
  });

  it('describes every channel field of the API schema', () => {
    expect(CHANNEL_FIELDS.chat.map((f) => f.name)).toEqual(['chatId', 'botId', 'messenger', 'text']);
    expect(CHANNEL_FIELDS.email.filter((f) => f.required).map((f) => f.name)).toEqual(['sender', 'subject', 'text']);
    expect(newChannelDraft('chat', 1)).toMatchObject({ mandatory: false, fields: { messenger: 'telegram' } });
  });

  it('reorders, lists unused channels, pages and reads a 409', () => {
    expect(moveItem([1, 2, 3], 0, 1)).toEqual([2, 1, 3]);
    expect(moveItem([1, 2, 3], 0, -1)).toEqual([1, 2, 3]);
    expect(moveItem([1, 2, 3], 2, 1)).toEqual([1, 2, 3]);
    expect(unusedChannels(draft)).toEqual(['email', 'push', 'chat']);
    expect(pageCount(0, 20)).toBe(1);
    expect(pageCount(41, 20)).toBe(3);
    expect(parsePairs('a=1\n=x\nb==2')).toEqual({ a: '1', b: '=2' });
    expect(taskOfConflict('template is used by task 0b7e1c52-7c3f-4c1e-9a53-1f0e2a3b4c5d, which has not finished')).toBe('0b7e1c52-7c3f-4c1e-9a53-1f0e2a3b4c5d');
    expect(taskOfConflict('conflict')).toBeNull();
  });
});

describe('console recipients paste', () => {
  it('reads phones, emails and external ids by their look, one recipient a line', () => {
    expect(parseRecipients('+7 999 000-00-01\nann@example.com\ncrm-42; +79990000002, bob@example.com\n\n+7 999 000-00-01\n')).toEqual([
      { phone: '+7 999 000-00-01' },
      { email: 'ann@example.com' },
      { externalId: 'crm-42', phone: '+79990000002', email: 'bob@example.com' },
    ]);
    expect(parseRecipients('12\tcrm-1')).toEqual([{ externalId: '12' }]);
    expect(parseRecipients('+79990000001, name=Ann, order = A-1')).toEqual([{ phone: '+79990000001', variables: { name: 'Ann', order: 'A-1' } }]);
  });

  it('tells which variables still need a value and when the messages are settled', () => {
    const recipients = parseRecipients('+79990000001, name=Ann\n+79990000002');
    expect(missingSendVariables(['name', 'order'], { order: 'A-1' }, recipients)).toEqual(['name']);
    expect(missingSendVariables(['name'], { name: 'All' }, recipients)).toEqual([]);
    expect(missingSendVariables(['name'], {}, parseRecipients('+79990000001, name=Ann'))).toEqual([]);
    expect(anonymousRecipients([{ variables: { a: '1' } }, { phone: '1' }])).toBe(1);
    expect(messagesSettled('completed', ['DELIVERED', 'UNDELIVERED'])).toBe(true);
    expect(messagesSettled('completed', ['SENT'])).toBe(false);
    expect(messagesSettled('in_progress', ['DELIVERED'])).toBe(false);
  });
});

describe('console dashboard logic', () => {
  it('turns calendar days into the API period in the browser zone and fills missing days', () => {
    const period = statsPeriod('2026-11-01', '2026-11-03')!;
    expect(new Date(period.from).getTime()).toBe(new Date(2026, 10, 1).getTime());
    expect(new Date(period.to).getTime()).toBe(new Date(2026, 10, 4).getTime());
    expect(statsPeriod('', '2026-11-03')).toBeUndefined();
    expect(lastDays(7, new Date(2026, 10, 27, 15))).toEqual(['2026-11-21', '2026-11-27']);
    expect(lastDays(1, new Date(2026, 0, 1))).toEqual(['2026-01-01', '2026-01-01']);
    const days = everyDay('2026-11-30', '2026-12-02', [{ day: '2026-12-01', counts: { DELIVERED: 2 }, total: 2 }]);
    expect(days.map((d) => [d.day, d.total])).toEqual([
      ['2026-11-30', 0],
      ['2026-12-01', 2],
      ['2026-12-02', 0],
    ]);
    expect([0, 1, 3, 7, 10, 11, 240].map(niceMax)).toEqual([1, 1, 5, 10, 10, 20, 500]);
  });
});
