import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { approvedSendersForAllChannels, as, startStack, type TestStack } from '../support/harness';

/** POST /api/v1/templates/:id/preview: every channel rendered as a send would render it, with SMS
 * encoding and parts and the cost from the configured price table (by the phone's country). */

const PRICE_TABLE = {
  sms: { default: 0.05, countries: { RU: 0.03, DE: 0.075 } },
  email: { default: 0.0002 },
  push: { default: 0 },
  viber: { default: 0.012, countries: { RU: 0.01 } },
  whatsapp: { default: 0.005 },
  chat: { default: 0.001 },
};

let stack: TestStack;
const senders: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({ env: { PRICE_TABLE: JSON.stringify(PRICE_TABLE) } });
  Object.assign(senders, await approvedSendersForAllChannels(stack));
});
afterAll(async () => {
  await stack.close();
});

async function createTemplate(channels: Record<string, unknown>[]): Promise<string> {
  const res = await stack.admin().post('/api/v1/templates').send({ name: `Preview ${randomUUID().slice(0, 6)}`, channels });
  if (res.status !== 201) throw new Error(`template: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

const preview = (id: string, body: Record<string, unknown>) => stack.admin().post(`/api/v1/templates/${id}/preview`).send(body);

describe('SMS: encoding, parts and cost', () => {
  let id: string;
  beforeAll(async () => {
    id = await createTemplate([{ channel: 'sms', sender: senders.sms!, text: 'Hi {name}, order {order} is ready' }]);
  });

  it('a short GSM-7 text is one part at the default price', async () => {
    const res = await preview(id, { variables: { name: 'Ann', order: 'A-1' } }).expect(200);
    expect(res.body).toEqual({
      templateId: id,
      country: null,
      variables: ['name', 'order'],
      channels: [
        {
          channel: 'sms',
          mandatory: true,
          sender: senders.sms,
          text: 'Hi Ann, order A-1 is ready',
          payload: {},
          parts: 1,
          encoding: 'GSM-7',
          units: 26,
          pricePerPart: 0.05,
          cost: 0.05,
        },
      ],
    });
  });

  it('a long GSM-7 text is split in parts of 153, priced by the phone country (RU)', async () => {
    const name = 'A'.repeat(150); // 3 + 150 + 20 = 173 septets → 2 parts
    const res = await preview(id, { variables: { name, order: 'A-1' }, phone: '+7 999 000-00-07' }).expect(200);
    expect(res.body.country).toBe('RU');
    expect(res.body.channels[0]).toMatchObject({ encoding: 'GSM-7', units: 173, parts: 2, pricePerPart: 0.03, cost: 0.06 });
  });

  it('exactly 160 septets is still one part; 161 is two', async () => {
    const one = await preview(id, { variables: { name: 'B'.repeat(137), order: 'A-1' } }).expect(200);
    expect(one.body.channels[0]).toMatchObject({ units: 160, parts: 1, cost: 0.05 });
    const two = await preview(id, { variables: { name: 'B'.repeat(138), order: 'A-1' } }).expect(200);
    expect(two.body.channels[0]).toMatchObject({ units: 161, parts: 2, cost: 0.1 });
  });

  it('one non-GSM character makes it UCS-2 (70 in one part, 67 per part when split)', async () => {
    const short = await preview(id, { variables: { name: 'Анна', order: 'A-1' } }).expect(200);
    expect(short.body.channels[0]).toMatchObject({ text: 'Hi Анна, order A-1 is ready', encoding: 'UCS-2', units: 27, parts: 1, cost: 0.05 });
    const long = await preview(id, { variables: { name: 'Ж'.repeat(50), order: 'A-1' }, phone: '+4915123456789' }).expect(200);
    expect(long.body.country).toBe('DE');
    expect(long.body.channels[0]).toMatchObject({ encoding: 'UCS-2', units: 73, parts: 2, pricePerPart: 0.075, cost: 0.15 });
    const emoji = await preview(id, { variables: { name: '🙂', order: 'A-1' } }).expect(200);
    expect(emoji.body.channels[0]).toMatchObject({ encoding: 'UCS-2', units: 25, parts: 1 });
  });

  it('GSM extension characters count double', async () => {
    // 20 fixed + 67 × 2 (€) + 5 ([1]: 2 + 1 + 2) = 159 septets: one part; one more € makes 161: two.
    const res = await preview(id, { variables: { name: '€'.repeat(67), order: '[1]' } }).expect(200);
    expect(res.body.channels[0]).toMatchObject({ encoding: 'GSM-7', units: 159, parts: 1 });
    const split = await preview(id, { variables: { name: '€'.repeat(68), order: '[1]' } }).expect(200);
    expect(split.body.channels[0]).toMatchObject({ encoding: 'GSM-7', units: 161, parts: 2 });
  });

  it('numbers and booleans are accepted as values, a national number uses DEFAULT_PHONE_COUNTRY', async () => {
    const res = await preview(id, { variables: { name: true, order: 42 }, phone: '8 999 000-00-07' }).expect(200);
    expect(res.body.country).toBe('RU');
    expect(res.body.channels[0].text).toBe('Hi true, order 42 is ready');
  });

  it('values are substituted literally, never evaluated or rendered again', async () => {
    const res = await preview(id, { variables: { name: '${process.exit(1)}', order: '{name}' } }).expect(200);
    expect(res.body.channels[0].text).toBe('Hi ${process.exit(1)}, order {name} is ready');
  });
});

describe('other channels', () => {
  let id: string;
  beforeAll(async () => {
    id = await createTemplate([
      { channel: 'email', sender: senders.email!, subject: 'Order {order} for {name}', text: '<p>Hello <b>{name}</b>, order {order}</p>' },
      {
        channel: 'viber',
        sender: senders.viber!,
        text: 'Hi {name}',
        imageUrl: 'https://example.com/i/{order}.png',
        buttonUrl: 'https://example.com/o/{order}',
        buttonText: 'Track {order}',
      },
      {
        channel: 'whatsapp',
        sender: senders.whatsapp!,
        templateName: 'order_ready',
        templateNamespace: 'ns',
        templateData: { '1': '{name}', '2': 'order {order}' },
        language: 'en',
        mediaUrl: 'https://example.com/m/{order}.pdf',
      },
      { channel: 'push', sender: senders.push!, text: 'Order {order} is ready' },
      { channel: 'chat', chatId: 'c-1', botId: 'b-1', messenger: 'slack', text: 'Hi {name} <b>' },
    ]);
  });

  it('HTML-escapes values in the email body, not the template markup, and renders the subject as plain text', async () => {
    const res = await preview(id, { variables: { name: `<script>alert("x")</script> & O'Neil`, order: 'A&B' } }).expect(200);
    const email = res.body.channels[0];
    expect(email).toEqual({
      channel: 'email',
      mandatory: true,
      sender: senders.email,
      subject: `Order A&B for <script>alert("x")</script> & O'Neil`,
      text: '<p>Hello <b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; O&#39;Neil</b>, order A&amp;B</p>',
      payload: { subject: `Order A&B for <script>alert("x")</script> & O'Neil` },
      parts: 1,
      pricePerPart: 0.0002,
      cost: 0.0002,
    });
    expect(email.encoding).toBeUndefined();
  });

  it('renders viber, whatsapp, push and chat with their payloads and prices', async () => {
    const res = await preview(id, { variables: { name: 'Ann', order: 'A-1' }, phone: '+79990000007' }).expect(200);
    const [, viber, whatsapp, push, chat] = res.body.channels;
    expect(viber).toEqual({
      channel: 'viber',
      mandatory: false,
      sender: senders.viber,
      text: 'Hi Ann',
      payload: { imageUrl: 'https://example.com/i/A-1.png', buttonUrl: 'https://example.com/o/A-1', buttonText: 'Track A-1' },
      parts: 1,
      pricePerPart: 0.01,
      cost: 0.01,
    });
    expect(whatsapp).toMatchObject({
      channel: 'whatsapp',
      sender: senders.whatsapp,
      payload: {
        templateName: 'order_ready',
        templateNamespace: 'ns',
        language: 'en',
        templateData: { '1': 'Ann', '2': 'order A-1' },
        mediaUrl: 'https://example.com/m/A-1.pdf',
      },
      parts: 1,
      cost: 0.005,
    });
    expect(push).toMatchObject({ channel: 'push', text: 'Order A-1 is ready', parts: 1, cost: 0 });
    expect(chat).toMatchObject({ channel: 'chat', sender: 'b-1', text: 'Hi Ann <b>', payload: { chatId: 'c-1', botId: 'b-1', messenger: 'slack' }, cost: 0.001 });
  });

  it('creates no task and no message', async () => {
    await preview(id, { variables: { name: 'Ann', order: 'A-1' } }).expect(200);
    const { rows } = await stack.deps.pool.query('select count(*)::int as n from tasks where template_id = $1', [id]);
    expect(rows[0].n).toBe(0);
  });

  it('is open to operator keys, not to anonymous callers', async () => {
    await as(stack, stack.operatorKey).post(`/api/v1/templates/${id}/preview`).send({ variables: { name: 'A', order: '1' } }).expect(200);
    await request(stack.app).post(`/api/v1/templates/${id}/preview`).send({ variables: { name: 'A', order: '1' } }).expect(401);
  });
});

describe('shortenLinks', () => {
  const url = 'https://shop.example/orders/{order}?utm_source=sms&utm_medium=notification&utm_campaign=autumn_sale_2026';

  it('shows each link as a short link with a placeholder code of the real length, and counts parts on that text', async () => {
    const text = `Hi {name}, your order {order} is ready for pickup at the store on Main Street. Details: ${url}`;
    const long = await createTemplate([{ channel: 'sms', sender: senders.sms!, text }]);
    const short = await createTemplate([{ channel: 'sms', sender: senders.sms!, text, shortenLinks: true }]);
    const variables = { name: 'Ann', order: 'A-1' };
    const asWritten = (await preview(long, { variables }).expect(200)).body.channels[0];
    expect(asWritten).toMatchObject({ units: 81 + 100, parts: 2, cost: 0.1 }); // the text and the 100-character URL
    const shortened = (await preview(short, { variables }).expect(200)).body.channels[0];
    const publicUrl = stack.config.api.publicUrl;
    expect(shortened).toMatchObject({
      text: `Hi Ann, your order A-1 is ready for pickup at the store on Main Street. Details: ${publicUrl}/l/XXXXXXXXXX`,
      parts: 1,
      units: 81 + `${publicUrl}/l/XXXXXXXXXX`.length,
      cost: 0.05,
    });
    const { rows } = await stack.deps.pool.query('select count(*)::int as n from short_links where code = $1', ['XXXXXXXXXX']);
    expect(rows[0].n).toBe(0); // a preview stores nothing
  });

  it('an HTML email shows its tracked link and the open pixel', async () => {
    const id = await createTemplate([
      { channel: 'email', sender: senders.email!, subject: 'Order', text: '<p><a href="https://shop.example/{order}">track</a></p>', shortenLinks: true },
    ]);
    const publicUrl = stack.config.api.publicUrl;
    const res = await preview(id, { variables: { order: 'A-1' } }).expect(200);
    expect(res.body.channels[0].text).toBe(
      `<p><a href="${publicUrl}/l/XXXXXXXXXX">track</a></p><img src="${publicUrl}/o/00000000-0000-0000-0000-000000000000.gif" width="1" height="1" alt="">`,
    );
  });
});

describe('errors', () => {
  let id: string;
  beforeAll(async () => {
    id = await createTemplate([{ channel: 'sms', sender: senders.sms!, text: 'Hi {name}, order {order}, code {code}' }]);
  });

  it('missing variables → 422 listing the names', async () => {
    const res = await preview(id, { variables: { order: 'A-1' } }).expect(422);
    expect(res.body.error).toEqual({
      code: 'unprocessable',
      message: expect.any(String),
      details: [{ path: 'variables', message: 'missing values for: code, name' }],
    });
    const none = await preview(id, {}).expect(422);
    expect(none.body.error.details).toEqual([{ path: 'variables', message: 'missing values for: code, name, order' }]);
  });

  it('an invalid phone → 422 naming phone (together with missing variables)', async () => {
    const res = await preview(id, { variables: { name: 'A', order: '1' }, phone: '12345' }).expect(422);
    expect(res.body.error.details).toEqual([
      { path: 'variables', message: 'missing values for: code' },
      { path: 'phone', message: '"12345" is not a valid phone number' },
    ]);
  });

  it.each([
    ['an unknown field', { variables: {}, recipients: [] }, 'recipients'],
    ['variables as a list', { variables: ['a'] }, 'variables'],
    ['a nested variable value', { variables: { name: { first: 'A' } } }, 'variables.name'],
    ['a numeric phone', { variables: {}, phone: 79990000007 }, 'phone'],
  ])('%s → 400 naming %s', async (_name, body, path) => {
    const res = await preview(id, body).expect(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual([path]);
  });

  it('a template without placeholders previews with no body at all', async () => {
    const plain = await createTemplate([{ channel: 'sms', sender: senders.sms!, text: 'Your order is ready' }]);
    const res = await stack.admin().post(`/api/v1/templates/${plain}/preview`).expect(200);
    expect(res.body.channels[0]).toMatchObject({ text: 'Your order is ready', parts: 1, encoding: 'GSM-7' });
  });

  it('an unknown template → 404', async () => {
    await preview(randomUUID(), { variables: {} }).expect(404);
  });
});

describe('a template not saved yet (the editor\'s live preview)', () => {
  const body = (sender: string) => ({
    name: 'Draft',
    channels: [
      { channel: 'viber', sender: senders.viber!, text: 'Привет, {name}!' },
      { channel: 'sms', sender, text: 'Привет, {name}! Ваш заказ {order} готов к выдаче в пункте на Тверской улице, дом 7. Ждём вас до 21:00.' },
    ],
  });

  it('renders it as the saved template would be rendered, and stores nothing', async () => {
    const before = (await stack.admin().get('/api/v1/templates').query({ search: 'Draft' }).expect(200)).body.total;
    const values = { variables: { name: 'Анна', order: 'B-7' }, phone: '+79991234567' };
    const draft = await stack.admin().post('/api/v1/templates/preview').send({ template: body(senders.sms!), ...values }).expect(200);
    const id = await createTemplate(body(senders.sms!).channels);
    const saved = await preview(id, values).expect(200);
    expect(draft.body).toEqual({ ...saved.body, templateId: '00000000-0000-0000-0000-000000000000' });
    expect(draft.body.channels[1]).toMatchObject({ channel: 'sms', encoding: 'UCS-2', parts: 2, pricePerPart: 0.03, cost: 0.06 });
    expect((await stack.admin().get('/api/v1/templates').query({ search: 'Draft' }).expect(200)).body.total).toBe(before);
  });

  it('names what a save would refuse, and what the values lack', async () => {
    const refused = await stack.admin().post('/api/v1/templates/preview').send({ template: body('NotApproved'), variables: { name: 'A', order: '1' } }).expect(422);
    expect(JSON.stringify(refused.body.error)).toContain('NotApproved');
    const missing = await stack.admin().post('/api/v1/templates/preview').send({ template: body(senders.sms!), variables: { name: 'A' } }).expect(422);
    expect(missing.body.error.details).toEqual([{ path: 'variables', message: 'missing values for: order' }]);
    const malformed = await stack.admin().post('/api/v1/templates/preview').send({ template: { name: 'x', channels: [{ channel: 'sms' }] } }).expect(400);
    expect(malformed.body.error.details.map((d: { path: string }) => d.path)).toContain('template.channels.0.sender');
  });
});
