import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { approvedSender, approvedSendersForAllChannels, as, startStack, type TestStack } from '../support/harness';

/** Templates through the HTTP API: the full model of every channel, its 400s (shape) and 422s
 * (content), `variables`, `mandatory`, search, pagination and GET/PUT/DELETE by id. */

let stack: TestStack;
const senders: Record<string, string> = {};
const tag = () => randomUUID().slice(0, 8);

beforeAll(async () => {
  stack = await startStack();
  Object.assign(senders, await approvedSendersForAllChannels(stack));
});
afterAll(async () => {
  await stack.close();
});

/** One channel of each kind with every field it has. */
function fullChannels(): Record<string, Record<string, unknown>> {
  return {
    sms: { channel: 'sms', mandatory: true, sender: senders.sms, text: 'Hi {name}, order {order} is ready', lifetimeMinutes: 1440, shortenLinks: true },
    email: {
      channel: 'email',
      mandatory: false,
      sender: senders.email,
      subject: 'Order {order}',
      text: '<p>Hello <b>{name}</b>, see https://example.com/o/{order}</p>',
      lifetimeMinutes: 0.5,
      shortenLinks: false,
    },
    push: { channel: 'push', mandatory: false, sender: senders.push, text: 'Order {order} is ready', lifetimeMinutes: 30, shortenLinks: false },
    viber: {
      channel: 'viber',
      mandatory: false,
      sender: senders.viber,
      text: 'Hi {name}, order {order} is ready',
      imageUrl: 'https://example.com/i.png',
      buttonUrl: 'https://example.com/o/{order}',
      buttonText: 'Track {button_label}',
      lifetimeMinutes: 60,
      shortenLinks: true,
    },
    whatsapp: {
      channel: 'whatsapp',
      mandatory: false,
      sender: senders.whatsapp,
      templateName: 'order_ready',
      templateNamespace: 'acme_ns',
      templateData: { '1': '{name}', order_id: '{wa_order}' },
      language: 'en_US',
      mediaUrl: 'https://example.com/media/{media_file}.pdf',
      lifetimeMinutes: 7 * 24 * 60,
      shortenLinks: false,
    },
    chat: {
      channel: 'chat',
      mandatory: false,
      chatId: 'chat-42',
      botId: 'bot-7',
      messenger: 'telegram',
      text: 'Hi {chat_name}',
      lifetimeMinutes: 0.1,
      shortenLinks: false,
    },
  };
}

function template(channels: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  return { name: `Template ${tag()}`, timezone: 'Europe/Moscow', channels, ...extra };
}

const createTemplate = (body: unknown) => stack.admin().post('/api/v1/templates').send(body as object);
const detailPaths = (res: request.Response): string[] => (res.body.error?.details ?? []).map((d: { path: string }) => d.path);

async function expectError(body: unknown, status: 400 | 422, paths: string[]) {
  const res = await createTemplate(body);
  expect({ status: res.status, paths: detailPaths(res) }).toEqual({ status, paths: expect.arrayContaining(paths) });
  expect(res.body.error).toEqual({ code: status === 400 ? 'validation_failed' : 'unprocessable', message: expect.any(String), details: expect.any(Array) });
  for (const detail of res.body.error.details) expect(detail).toEqual({ path: expect.any(String), message: expect.any(String) });
  return res;
}

describe('the template model: a valid template for every channel', () => {
  it.each(['sms', 'email', 'push', 'viber', 'whatsapp', 'chat'])('accepts a %s channel with every field and returns it as stored', async (channel) => {
    const config = fullChannels()[channel]!;
    const res = await createTemplate(template([{ ...config, mandatory: true }])).expect(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: expect.stringMatching(/^Template /),
      timezone: 'Europe/Moscow',
      sendWindows: [],
      channels: [{ ...config, mandatory: true }],
      variables: expect.any(Array),
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const fetched = await stack.admin().get(`/api/v1/templates/${res.body.id}`).expect(200);
    expect(fetched.body).toEqual(res.body);
  });

  it('accepts all six channels in one template, in order, with send windows (one across midnight)', async () => {
    const channels = Object.values(fullChannels());
    const body = template(channels, { sendWindows: [{ from: '09:00', to: '13:00' }, { from: '22:30', to: '06:00' }] });
    const res = await createTemplate(body).expect(201);
    expect(res.body.channels).toEqual(channels);
    expect(res.body.channels.map((c: { channel: string }) => c.channel)).toEqual(['sms', 'email', 'push', 'viber', 'whatsapp', 'chat']);
    expect(res.body.sendWindows).toEqual([{ from: '09:00', to: '13:00' }, { from: '22:30', to: '06:00' }]);
  });

  it('fills defaults: UTC, any time, lifetime 1 day, no link shortening, templateData {}', async () => {
    const res = await createTemplate({
      name: 'Defaults',
      channels: [
        { channel: 'sms', sender: senders.sms, text: 'hi' },
        { channel: 'whatsapp', sender: senders.whatsapp, templateName: 'hello_world', language: 'en' },
      ],
    }).expect(201);
    expect(res.body).toMatchObject({ timezone: 'UTC', sendWindows: [], variables: [] });
    expect(res.body.channels).toEqual([
      { channel: 'sms', sender: senders.sms, text: 'hi', mandatory: true, lifetimeMinutes: 1440, shortenLinks: false },
      { channel: 'whatsapp', sender: senders.whatsapp, templateName: 'hello_world', language: 'en', templateData: {}, mandatory: false, lifetimeMinutes: 1440, shortenLinks: false },
    ]);
  });

  it('accepts windows crossing midnight, all-day 00:00-00:00, H:MM (stored as HH:MM) and 24:00 as an end', async () => {
    const res = await createTemplate(
      template([{ channel: 'sms', sender: senders.sms, text: 'x' }], {
        sendWindows: [{ from: '23:00', to: '01:00' }, { from: '9:05', to: '24:00' }, { from: '00:00', to: '00:00' }],
      }),
    ).expect(201);
    expect(res.body.sendWindows).toEqual([{ from: '23:00', to: '01:00' }, { from: '09:05', to: '24:00' }, { from: '00:00', to: '00:00' }]);
  });

  it('stores the time zone in its canonical spelling', async () => {
    const res = await createTemplate(template([{ channel: 'sms', sender: senders.sms, text: 'x' }], { timezone: 'america/new_york' })).expect(201);
    expect(res.body.timezone).toBe('America/New_York');
  });

  it('accepts fractional lifetimes and exactly 7 days', async () => {
    for (const lifetimeMinutes of [0.01, 1.5, 10080]) {
      const res = await createTemplate(template([{ channel: 'sms', sender: senders.sms, text: 'x', lifetimeMinutes }])).expect(201);
      expect(res.body.channels[0].lifetimeMinutes).toBe(lifetimeMinutes);
    }
  });

  it('accepts an email From with a display name when that is the approved sender', async () => {
    const from = `ACME News <news-${tag()}@acme.test>`;
    await approvedSender(stack, 'email', from);
    const res = await createTemplate(template([{ channel: 'email', sender: from, subject: 's', text: 't' }])).expect(201);
    expect(res.body.channels[0].sender).toBe(from);
  });

  it('lets an operator key create templates too', async () => {
    await as(stack, stack.operatorKey).post('/api/v1/templates').send(template([{ channel: 'sms', sender: senders.sms, text: 'x' }])).expect(201);
  });
});

describe('400: invalid shapes name the field', () => {
  const base = () => fullChannels();
  const cases: [string, () => Record<string, unknown>, string][] = [
    // sms
    ['sms without text', () => ({ ...base().sms, text: undefined }), 'channels.0.text'],
    ['sms with an empty text', () => ({ ...base().sms, text: '   ' }), 'channels.0.text'],
    ['sms with a 12-character sender id', () => ({ ...base().sms, sender: 'ABCDEFGHIJKL' }), 'channels.0.sender'],
    ['sms with a numeric text', () => ({ ...base().sms, text: 42 }), 'channels.0.text'],
    // email
    ['email whose sender is not an address', () => ({ ...base().email, sender: 'ACME' }), 'channels.0.sender'],
    ['email without a subject', () => ({ ...base().email, subject: undefined }), 'channels.0.subject'],
    ['email without text', () => ({ ...base().email, text: '' }), 'channels.0.text'],
    // push
    ['push without sender', () => ({ ...base().push, sender: undefined }), 'channels.0.sender'],
    ['push with a too long text', () => ({ ...base().push, text: 'x'.repeat(4001) }), 'channels.0.text'],
    // viber
    ['viber with an ftp image', () => ({ ...base().viber, imageUrl: 'ftp://example.com/i.png' }), 'channels.0.imageUrl'],
    ['viber with a button URL that is not a URL', () => ({ ...base().viber, buttonUrl: 'track me' }), 'channels.0.buttonUrl'],
    ['viber buttonUrl without buttonText', () => ({ ...base().viber, buttonText: undefined }), 'channels.0.buttonText'],
    ['viber buttonText without buttonUrl', () => ({ ...base().viber, buttonUrl: undefined }), 'channels.0.buttonUrl'],
    ['viber with a 31-character button', () => ({ ...base().viber, buttonText: 'x'.repeat(31) }), 'channels.0.buttonText'],
    // whatsapp
    ['whatsapp with a template name in capitals', () => ({ ...base().whatsapp, templateName: 'Order Ready' }), 'channels.0.templateName'],
    ['whatsapp without language', () => ({ ...base().whatsapp, language: undefined }), 'channels.0.language'],
    ['whatsapp with language "english"', () => ({ ...base().whatsapp, language: 'english' }), 'channels.0.language'],
    ['whatsapp with a number as a template value', () => ({ ...base().whatsapp, templateData: { '1': 5 } }), 'channels.0.templateData.1'],
    ['whatsapp with an empty template value', () => ({ ...base().whatsapp, templateData: { name: '' } }), 'channels.0.templateData.name'],
    ['whatsapp with a bad template key', () => ({ ...base().whatsapp, templateData: { 'Order Id': 'x' } }), 'channels.0.templateData.Order Id'],
    ['whatsapp with templateData as a list', () => ({ ...base().whatsapp, templateData: ['a'] }), 'channels.0.templateData'],
    ['whatsapp with a media URL that is not one', () => ({ ...base().whatsapp, mediaUrl: 'file.pdf' }), 'channels.0.mediaUrl'],
    ['whatsapp with an empty namespace', () => ({ ...base().whatsapp, templateNamespace: '' }), 'channels.0.templateNamespace'],
    // chat
    ['chat with an unknown messenger', () => ({ ...base().chat, messenger: 'icq' }), 'channels.0.messenger'],
    ['chat without chatId', () => ({ ...base().chat, chatId: undefined }), 'channels.0.chatId'],
    ['chat without botId', () => ({ ...base().chat, botId: undefined }), 'channels.0.botId'],
    ['chat with a sender (chat has none)', () => ({ ...base().chat, sender: 'ACME' }), 'channels.0.sender'],
    // every channel
    ['lifetime 0', () => ({ ...base().sms, lifetimeMinutes: 0 }), 'channels.0.lifetimeMinutes'],
    ['negative lifetime', () => ({ ...base().push, lifetimeMinutes: -5 }), 'channels.0.lifetimeMinutes'],
    ['lifetime over 7 days', () => ({ ...base().viber, lifetimeMinutes: 10080.5 }), 'channels.0.lifetimeMinutes'],
    ['lifetime as a string', () => ({ ...base().chat, lifetimeMinutes: '60' }), 'channels.0.lifetimeMinutes'],
    ['mandatory as a string', () => ({ ...base().email, mandatory: 'yes' }), 'channels.0.mandatory'],
    ['shortenLinks as a number', () => ({ ...base().whatsapp, shortenLinks: 1 }), 'channels.0.shortenLinks'],
    ['an unknown channel', () => ({ channel: 'fax', text: 'x' }), 'channels.0.channel'],
    ['no channel at all', () => ({ text: 'x' }), 'channels.0.channel'],
    ['an unknown field', () => ({ ...base().sms, colour: 'red' }), 'channels.0.colour'],
  ];

  it.each(cases)('%s', async (_name, channel, path) => {
    const res = await expectError(template([channel()]), 400, [path]);
    if (path.endsWith('colour') || path.endsWith('sender') && _name.includes('chat')) {
      expect(res.body.error.details).toContainEqual({ path, message: expect.stringContaining('unknown field') });
    }
  });

  it('names the field of the right channel in a longer list', async () => {
    const channels = Object.values(fullChannels());
    (channels[3] as Record<string, unknown>).imageUrl = 'nope';
    (channels[5] as Record<string, unknown>).messenger = 'pager';
    const res = await expectError(template(channels), 400, ['channels.3.imageUrl', 'channels.5.messenger']);
    expect(detailPaths(res)).toHaveLength(2);
  });

  it.each([
    ['a missing name', { name: undefined }, 'name'],
    ['an empty name', { name: '' }, 'name'],
    ['a numeric timezone', { timezone: 3 }, 'timezone'],
    ['no channels', { channels: [] }, 'channels'],
    ['channels as an object', { channels: { channel: 'sms' } }, 'channels'],
    ['seven channels', { channels: Array.from({ length: 7 }, () => ({ channel: 'sms', sender: 'ACME', text: 'x' })) }, 'channels'],
    ['a window in the wrong format', { sendWindows: [{ from: '09:00', to: '13:00' }, { from: '9am', to: '10:00' }] }, 'sendWindows.1.from'],
    ['a window hour 25', { sendWindows: [{ from: '09:00', to: '25:00' }] }, 'sendWindows.0.to'],
    ['a window without its end', { sendWindows: [{ from: '09:00' }] }, 'sendWindows.0.to'],
    ['a window with an unknown field', { sendWindows: [{ from: '09:00', to: '10:00', days: 'mon' }] }, 'sendWindows.0.days'],
    ['sendWindows as a string', { sendWindows: '09:00-10:00' }, 'sendWindows'],
    ['an unknown top-level field', { colour: 'red' }, 'colour'],
  ])('template with %s → 400', async (_name, override, path) => {
    const body: Record<string, unknown> = { ...template([{ channel: 'sms', sender: senders.sms, text: 'x' }]), ...override };
    await expectError(body, 400, [path]);
  });

  it('malformed JSON → 400 naming the body', async () => {
    const res = await stack.admin().post('/api/v1/templates').set('Content-Type', 'application/json').send('{"name": ').expect(400);
    expect(res.body.error.details).toEqual([{ path: 'body', message: 'not valid JSON' }]);
  });

  it('reports every problem of a request at once, unknown fields included', async () => {
    const res = await expectError({ name: '', extra: 1, channels: [{ channel: 'sms', sender: senders.sms, text: 5, x: 1 }] }, 400, [
      'name',
      'extra',
      'channels.0.text',
      'channels.0.x',
    ]);
    expect(res.body.error.details).toContainEqual({ path: 'extra', message: 'unknown field "extra"' });
  });

  it('a template without auth → 401', async () => {
    await request(stack.app).post('/api/v1/templates').send(template([fullChannels().sms!])).expect(401);
  });
});

describe('422: valid shape, unacceptable content, naming the field', () => {
  it('an unregistered sender', async () => {
    const res = await expectError(template([{ channel: 'sms', sender: 'NOBODY', text: 'x' }]), 422, ['channels.0.sender']);
    expect(res.body.error.details).toEqual([{ path: 'channels.0.sender', message: 'sender "NOBODY" is not approved for sms' }]);
  });

  it('a sender whose request is still pending', async () => {
    const name = `PEND${tag().slice(0, 6)}`;
    await stack.admin().post('/api/v1/senders').send({ name, channel: 'viber' }).expect(201);
    const res = await expectError(template([{ ...fullChannels().viber, mandatory: true, sender: name }]), 422, ['channels.0.sender']);
    expect(res.body.error.details).toEqual([{ path: 'channels.0.sender', message: `sender "${name}" is not approved for viber (its request is pending)` }]);
  });

  it('a sender approved for another channel only', async () => {
    const res = await expectError(template([fullChannels().sms!, { ...fullChannels().push, sender: senders.sms }]), 422, ['channels.1.sender']);
    expect(res.body.error.details).toEqual([{ path: 'channels.1.sender', message: `sender "${senders.sms}" is not approved for push` }]);
  });

  it('an unknown time zone', async () => {
    const res = await expectError(template([fullChannels().sms!], { timezone: 'Mars/Olympus_Mons' }), 422, ['timezone']);
    expect(res.body.error.details).toEqual([{ path: 'timezone', message: expect.stringContaining('Mars/Olympus_Mons') }]);
  });

  it('an empty window (from = to) names the window', async () => {
    const res = await expectError(template([fullChannels().sms!], { sendWindows: [{ from: '09:00', to: '12:00' }, { from: '10:00', to: '10:00' }] }), 422, [
      'sendWindows.1',
    ]);
    expect(res.body.error.details).toEqual([{ path: 'sendWindows.1', message: expect.stringContaining('empty window') }]);
  });

  it('24:00 as a window start names sendWindows.N.from', async () => {
    const res = await expectError(template([fullChannels().sms!], { sendWindows: [{ from: '24:00', to: '06:00' }] }), 422, ['sendWindows.0.from']);
    expect(res.body.error.details).toEqual([{ path: 'sendWindows.0.from', message: expect.stringContaining('24:00') }]);
  });

  it('the same channel twice', async () => {
    const res = await expectError(template([fullChannels().sms!, fullChannels().viber!, { ...fullChannels().sms, mandatory: false }]), 422, [
      'channels.2.channel',
    ]);
    expect(res.body.error.details).toEqual([{ path: 'channels.2.channel', message: 'channel sms is listed twice' }]);
  });

  it('an optional first channel (it would have nothing to fall back from)', async () => {
    await expectError(template([{ ...fullChannels().sms, mandatory: false }, fullChannels().viber!]), 422, ['channels.0.mandatory']);
  });

  it('lists every content problem together', async () => {
    const res = await expectError(
      template([{ channel: 'sms', sender: 'NOBODY', text: 'x' }, { ...fullChannels().push, sender: 'NOBODY' }], { timezone: 'Nowhere/City' }),
      422,
      ['timezone', 'channels.0.sender', 'channels.1.sender'],
    );
    expect(res.body.error.details).toHaveLength(3);
  });
});

describe('variables and mandatory, resolved when saved', () => {
  it('extracts variables from sms text, email subject, viber button text and URL, whatsapp template data and media URL, chat text', async () => {
    const res = await createTemplate(template(Object.values(fullChannels()))).expect(201);
    expect(res.body.variables).toEqual(['button_label', 'chat_name', 'media_file', 'name', 'order', 'wa_order']);
  });

  it.each([
    ['email subject', { channel: 'email', sender: '', subject: 'Invoice {invoice_no}', text: 'no placeholders' }, ['invoice_no']],
    ['viber button text', { channel: 'viber', sender: '', text: 'plain', buttonUrl: 'https://example.com', buttonText: 'Pay {amount}' }, ['amount']],
    ['whatsapp template data', { channel: 'whatsapp', sender: '', templateName: 't', language: 'ru', templateData: { '1': '{first}', '2': 'x {second} {first}' } }, ['first', 'second']],
    ['sms text (each once, sorted)', { channel: 'sms', sender: '', text: '{b} {a} {b} {not a var} {1x}' }, ['a', 'b']],
  ])('from the %s', async (_name, channel, variables) => {
    const withSender = { ...channel, sender: senders[channel.channel as string] };
    const res = await createTemplate(template([withSender])).expect(201);
    expect(res.body.variables).toEqual(variables);
  });

  it('mandatory defaults to true for the first channel and false for the rest; explicit values are kept', async () => {
    const c = fullChannels();
    const strip = (x: Record<string, unknown>) => ({ ...x, mandatory: undefined });
    const res = await createTemplate(template([strip(c.viber!), strip(c.sms!), strip(c.email!)])).expect(201);
    expect(res.body.channels.map((x: { mandatory: boolean }) => x.mandatory)).toEqual([true, false, false]);
    const explicit = await createTemplate(template([strip(c.viber!), strip(c.sms!), { ...c.email, mandatory: true }])).expect(201);
    expect(explicit.body.channels.map((x: { mandatory: boolean }) => x.mandatory)).toEqual([true, false, true]);
  });
});

describe('search and pagination', () => {
  const token = `srch${tag()}`;
  const ids: string[] = [];
  beforeAll(async () => {
    for (const name of [`${token} Order READY`, `${token} order shipped`, `${token} 100% off_sale`, `${token} 1000 offXsale`, `${token} password reset`]) {
      const res = await createTemplate({ name, channels: [{ channel: 'sms', sender: senders.sms, text: 'x' }] }).expect(201);
      ids.push(res.body.id);
    }
  });
  const search = (q: string, extra = '') => stack.admin().get(`/api/v1/templates?search=${encodeURIComponent(q)}${extra}`).expect(200);
  const names = (res: request.Response) => res.body.items.map((t: { name: string }) => t.name.slice(token.length + 1)).sort();

  it('a full id finds that one template', async () => {
    const res = await search(ids[2]!);
    expect(res.body.total).toBe(1);
    expect(res.body.items.map((t: { id: string }) => t.id)).toEqual([ids[2]]);
    expect((await search(` ${ids[2]!.toUpperCase()} `)).body.items.map((t: { id: string }) => t.id)).toEqual([ids[2]]);
  });

  it('an unknown full id finds nothing', async () => {
    expect((await search(randomUUID())).body).toEqual({ items: [], total: 0, page: 1, pageSize: 50 });
  });

  it('a part of an id is not an id search (it is a name search and finds nothing here)', async () => {
    expect((await search(ids[0]!.slice(0, 8))).body.total).toBe(0);
  });

  it('otherwise a case-insensitive part of the name', async () => {
    expect(names(await search(`${token} ORDER`))).toEqual(['Order READY', 'order shipped']);
    expect(names(await search(`${token} order ready`))).toEqual(['Order READY']);
    expect(names(await search(`${token.toUpperCase()} PASSWORD`))).toEqual(['password reset']);
    expect((await search(token)).body.total).toBe(5);
  });

  it('takes % and _ literally', async () => {
    expect(names(await search(`${token} 100% off_`))).toEqual(['100% off_sale']);
    expect(names(await search(`${token} 10%`))).toEqual([]);
    expect(names(await search(`${token} 100_`))).toEqual([]);
    expect(names(await search(`off_sale`)).length).toBeGreaterThanOrEqual(1);
    expect((await search(`${token}%`)).body.total).toBe(0);
    expect((await search(`${token}\\`)).body.total).toBe(0);
  });

  it('pages newest first with page, pageSize and total', async () => {
    const page = (n: number) => search(token, `&page=${n}&pageSize=2`);
    const [p1, p2, p3, p4] = await Promise.all([page(1), page(2), page(3), page(4)]);
    expect(p1.body).toMatchObject({ total: 5, page: 1, pageSize: 2 });
    expect(p1.body.items).toHaveLength(2);
    expect(p2.body.items).toHaveLength(2);
    expect(p3.body.items).toHaveLength(1);
    expect(p4.body).toEqual({ items: [], total: 5, page: 4, pageSize: 2 });
    const seen = [...p1.body.items, ...p2.body.items, ...p3.body.items].map((t: { id: string }) => t.id);
    expect(seen).toEqual([...ids].reverse());
  });

  it('without a search lists every template', async () => {
    const res = await stack.admin().get('/api/v1/templates?pageSize=1').expect(200);
    expect(res.body.total).toBeGreaterThanOrEqual(5);
    expect(res.body.items).toHaveLength(1);
  });

  it.each([
    ['page=0', 'query.page'],
    ['page=x', 'query.page'],
    ['pageSize=0', 'query.pageSize'],
    ['pageSize=501', 'query.pageSize'],
    ['pageSize=1.5', 'query.pageSize'],
  ])('bad pagination %s → 400 naming %s', async (q, path) => {
    const res = await stack.admin().get(`/api/v1/templates?${q}`).expect(400);
    expect(detailPaths(res)).toEqual([path]);
  });
});

describe('GET, PUT and DELETE by id', () => {
  let id: string;
  beforeEach(async () => {
    id = (await createTemplate(template([fullChannels().sms!])).expect(201)).body.id;
  });

  it.each(['00000000-0000-4000-8000-000000000000', 'not-a-uuid', '1'])('unknown or malformed id %s → 404 on GET, PUT, DELETE and preview', async (bad) => {
    const body = template([fullChannels().sms!]);
    for (const res of [
      await stack.admin().get(`/api/v1/templates/${bad}`),
      await stack.admin().put(`/api/v1/templates/${bad}`).send(body),
      await stack.admin().delete(`/api/v1/templates/${bad}`),
      await stack.admin().post(`/api/v1/templates/${bad}/preview`).send({ variables: {} }),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('PUT replaces the whole template and recomputes variables and mandatory', async () => {
    const before = (await stack.admin().get(`/api/v1/templates/${id}`).expect(200)).body;
    const c = fullChannels();
    const res = await stack
      .admin()
      .put(`/api/v1/templates/${id}`)
      .send({ name: 'Renamed', timezone: 'Asia/Tokyo', sendWindows: [{ from: '20:00', to: '08:00' }], channels: [{ ...c.email, mandatory: undefined }, { ...c.chat, mandatory: undefined }] })
      .expect(200);
    expect(res.body).toMatchObject({ id, name: 'Renamed', timezone: 'Asia/Tokyo', sendWindows: [{ from: '20:00', to: '08:00' }], variables: ['chat_name', 'name', 'order'] });
    expect(res.body.channels.map((x: { channel: string; mandatory: boolean }) => [x.channel, x.mandatory])).toEqual([
      ['email', true],
      ['chat', false],
    ]);
    expect(res.body.createdAt).toBe(before.createdAt);
    expect(new Date(res.body.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(before.updatedAt).getTime());
    expect((await stack.admin().get(`/api/v1/templates/${id}`).expect(200)).body).toEqual(res.body);
  });

  it('PUT validates like POST: 400 for the shape, 422 for the content, and changes nothing', async () => {
    const before = (await stack.admin().get(`/api/v1/templates/${id}`).expect(200)).body;
    const bad = await stack.admin().put(`/api/v1/templates/${id}`).send(template([{ ...fullChannels().sms, text: '' }])).expect(400);
    expect(detailPaths(bad)).toEqual(['channels.0.text']);
    const unacceptable = await stack.admin().put(`/api/v1/templates/${id}`).send(template([{ ...fullChannels().sms, sender: 'NOBODY' }])).expect(422);
    expect(detailPaths(unacceptable)).toEqual(['channels.0.sender']);
    expect((await stack.admin().get(`/api/v1/templates/${id}`).expect(200)).body).toEqual(before);
  });

  it('DELETE removes it: 204, then 404', async () => {
    await stack.admin().delete(`/api/v1/templates/${id}`).expect(204);
    await stack.admin().get(`/api/v1/templates/${id}`).expect(404);
    await stack.admin().delete(`/api/v1/templates/${id}`).expect(404);
  });

  it.each(['created', 'in_progress', 'paused'])('DELETE while a %s task uses it → 409; once the task is over → 204', async (status) => {
    const taskId = randomUUID();
    await stack.deps.pool.query(
      `insert into tasks (id, name, type, status, template_id, workflow_id) values ($1, 'running task', 'api', $2, $3, $4)`,
      [taskId, status, id, `task-${taskId}`],
    );
    const res = await stack.admin().delete(`/api/v1/templates/${id}`).expect(409);
    expect(res.body.error).toEqual({ code: 'conflict', message: expect.stringContaining(taskId) });
    await stack.admin().get(`/api/v1/templates/${id}`).expect(200);

    await stack.deps.pool.query(`update tasks set status = 'completed' where id = $1`, [taskId]);
    await stack.admin().delete(`/api/v1/templates/${id}`).expect(204);
    const { rows } = await stack.deps.pool.query('select template_id from tasks where id = $1', [taskId]);
    expect(rows[0].template_id).toBeNull();
  });

  it('DELETE is allowed when only finished tasks used it', async () => {
    for (const status of ['completed', 'canceled', 'failed']) {
      const taskId = randomUUID();
      await stack.deps.pool.query(
        `insert into tasks (id, name, type, status, template_id, workflow_id) values ($1, 'old task', 'api', $2, $3, $4)`,
        [taskId, status, id, `task-${taskId}`],
      );
    }
    await stack.admin().delete(`/api/v1/templates/${id}`).expect(204);
  });
});

describe('the OpenAPI document', () => {
  it('documents the template routes, strict bodies and the preview', async () => {
    const res = await request(stack.app).get('/api/v1/openapi.json').expect(200);
    const create = res.body.paths['/api/v1/templates'].post;
    const schema = create.requestBody.content['application/json'].schema;
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.channels.items.oneOf).toHaveLength(6);
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['201', '400', '422']));
    expect(res.body.paths['/api/v1/templates/{id}/preview'].post.responses['422']).toBeDefined();
  });
});
